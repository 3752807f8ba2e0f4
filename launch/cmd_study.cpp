// alibi study: a scaling study from one file (launch/study.h has its format).
//
//   alibi study plan   STUDY.ini            # the runs: options, tokens, predicted time and memory
//   alibi study run    STUDY.ini --local    # train, then evaluate, each run in turn (mpirun)
//   alibi study run    STUDY.ini --slurm    # one training job per run, its evaluation a dependent job
//   alibi study status STUDY.ini            # each run's state and progress (and its SLURM jobs)
//   alibi study report STUDY.ini            # OUT/report.{csv,md}, plots and power-law fits
//   ... --set study.tokens=100000 --set axes.position=alibi    # override entries of the file
//
// Every run is checked (options, model, layout, GPU memory) before anything starts. Each
// step is skipped when its output exists (the final checkpoint; eval_<mode>.json), and
// training resumes from the newest checkpoint (--resume auto), so running the study again
// after a failure, a cancellation or a preemption continues where it stopped.
// Not an MPI process itself (main.cpp): it starts launch/mpirun_single_node.sh, sbatch
// with the scripts of launch/slurm/, and /usr/bin/python3 launch/study_report.py.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "launch/commands.h"
#include "launch/report.h"
#include "launch/study.h"
#include "runtime/error.h"

namespace alibi {

namespace {

namespace fs = std::filesystem;
constexpr double kMiB = 1024.0 * 1024.0;

// ---- processes ------------------------------------------------------------------------

// For the shell; plain words (letters, digits, -_./=,:+%@) stay as they are.
std::string quote(const std::string& s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./=,:+%@", c);
  });
  if (plain) return s;
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string command_line(const std::vector<std::string>& argv) {
  std::vector<std::string> words;
  for (const std::string& a : argv) words.push_back(quote(a));
  return join(words, " ");
}

// Runs argv with its output appended to `log`; returns the exit status.
int run_logged(const std::vector<std::string>& argv, const std::string& log) {
  std::ofstream(log, std::ios::app) << "$ " << command_line(argv) << "\n";
  const int status = std::system((command_line(argv) + " >>" + quote(log) + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// Runs argv and returns its stdout (nullopt when it fails; its stderr is dropped, the
// caller says what failed).
std::optional<std::string> capture(const std::vector<std::string>& argv) {
  FILE* p = popen((command_line(argv) + " 2>/dev/null").c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

bool on_path(const char* program) {
  return std::system(("command -v " + std::string(program) + " >/dev/null 2>&1").c_str()) == 0;
}

std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// The repository (scripts, report): ALIBI_ROOT, else the checkout this binary was built
// in (build/launch/alibi lies two folders below it).
std::string repository_root() {
  if (const char* r = std::getenv("ALIBI_ROOT")) return r;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path root = exe.parent_path().parent_path().parent_path();
  ALIBI_CHECK_AS(ConfigError, !ec && fs::exists(root / "launch/slurm/lib.bash"),
                 "cannot find the alibi-train repository beside " << exe.string()
                                                                   << "; set ALIBI_ROOT to the checkout");
  return root.string();
}

std::string self_path() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

// ---- a run's state, from its files (and the SLURM queue) -----------------------------

struct Job {
  std::string id, state, reason;
};

// Queued and running jobs by name (empty without squeue).
std::map<std::string, Job> slurm_queue() {
  std::map<std::string, Job> jobs;
  if (!on_path("squeue")) return jobs;
  const auto out = capture({"squeue", "-h", "-o", "%i|%j|%T|%r"});
  if (!out) return jobs;
  std::istringstream in(*out);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::istringstream l(line);
    for (std::string x; std::getline(l, x, '|');) f.push_back(x);
    if (f.size() == 4) jobs[f[1]] = {f[0], f[2], f[3]};
  }
  return jobs;
}

std::string job_name(const Study& study, const StudyRun& run) { return study.name + "." + run.name; }

struct RunState {
  const StudyRun* run = nullptr;
  int64_t step = 0;
  std::optional<double> loss, val_loss;
  bool trained = false;
  int evals_done = 0;
  std::string jobs;  // "train 12 RUNNING, eval 13 PENDING"

  bool done(const Study& s) const { return trained && evals_done == static_cast<int>(s.eval_modes.size()); }
  std::string state(const Study& s) const {
    if (done(s)) return "done";
    if (trained) return evals_done ? "evaluating" : "trained";
    return step > 0 ? "training" : "not started";
  }
};

RunState state_of(const Study& study, const StudyRun& run, const std::map<std::string, Job>& queue) {
  RunState st;
  st.run = &run;
  st.trained = fs::exists(run.final_checkpoint());
  for (const std::string& m : study.eval_modes) st.evals_done += fs::exists(run.eval_prefix(m) + ".json");
  std::ifstream metrics(fs::path(run.opt.out_dir) / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("step")) continue;  // a line cut by a kill
    st.step = j["step"].get<int64_t>();
    st.loss = j["loss"].get<double>();
    if (j.contains("val_loss")) st.val_loss = j["val_loss"].get<double>();
  }
  for (const auto& [suffix, label] : {std::make_pair("", "train"), std::make_pair(".eval", "eval")}) {
    const auto it = queue.find(job_name(study, run) + suffix);
    if (it == queue.end()) continue;
    std::string job = std::string(label) + " " + it->second.id + " " + it->second.state;
    if (it->second.state == "PENDING" && it->second.reason != "None") job += " (" + it->second.reason + ")";
    st.jobs = st.jobs.empty() ? job : st.jobs + ", " + job;
  }
  return st;
}

// ---- plan and status tables ----------------------------------------------------------

std::string duration(double s) {
  if (s <= 0) return "-";
  char buf[32];
  if (s < 120) std::snprintf(buf, sizeof buf, "%.0f s", s);
  else if (s < 7200) std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else if (s < 172800) std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  else std::snprintf(buf, sizeof buf, "%.1f d", s / 86400);
  return buf;
}

std::vector<Column<StudyRun>> plan_columns() {
  using R = StudyRun;
  return {
      {"run", "name", [](const R& r) { return Cell(r.name); }},
      {"L", "layers", [](const R& r) { return Cell(r.cfg.layers); }},
      {"C", "channels", [](const R& r) { return Cell(r.cfg.channels); }},
      {"NH", "heads", [](const R& r) { return Cell(r.cfg.heads); }},
      {"T", "seq_len", [](const R& r) { return Cell(r.cfg.seq_len); }},
      {"position", "position", [](const R& r) { return Cell(enum_name(r.cfg.position)); }},
      {"params", "parameters", [](const R& r) { return Cell::grouped(r.cfg.parameter_count()); }},
      {"tokens", "tokens", [](const R& r) { return Cell::grouped(r.tokens); }},
      {"steps", "steps", [](const R& r) { return Cell(r.opt.steps); }},
      {"tp x pp x dp", "layout",
       [](const R& r) {
         return Cell(std::to_string(r.shape.tp) + " x " + std::to_string(r.shape.pp) + " x " + std::to_string(r.shape.dp),
                     Json{{"tp", r.shape.tp}, {"pp", r.shape.pp}, {"dp", r.shape.dp}});
       }},
      {"memory MiB", "memory_bytes", [](const R& r) { return Cell(fixed(r.memory_bytes / kMiB, 1), r.memory_bytes); }},
      {"predicted", "predicted_s", [](const R& r) { return Cell(duration(r.predicted_s), r.predicted_s); }},
  };
}

void print_plan(const Study& study) {
  std::printf("study %s (%s): %zu runs in %s/, evaluated %s at their --seq-len and the study's eval-lengths\n\n",
              study.name.c_str(), study.path.c_str(), study.runs.size(), study.out.c_str(),
              study.eval_modes.size() == 2 ? "non-overlapping and sliding" : study.eval_modes[0].c_str());
  const auto columns = plan_columns();
  std::vector<std::vector<std::string>> rows = {header_row(columns)};
  double total = 0;
  for (const StudyRun& r : study.runs) {
    rows.push_back(text_row(columns, r));
    total += r.predicted_s;
  }
  print_table(rows);
  std::printf("\nmemory: the rank needing the most, as alibi plan predicts it (%s). predicted: training time%s.\n",
              study.check_gpu_memory ? "GPU path" : "CPU path, fp32",
              study.check_gpu_memory ? " from alibi plan's step model"
              : study.cpu_tflops > 0 ? (" at " + fixed(100 * study.mfu, 0) + "% of cpu-tflops " +
                                        fixed(study.cpu_tflops, 3) + " per rank").c_str()
                                     : " (give cpu-tflops in [study] for a CPU prediction)");
  if (total > 0) std::printf("total predicted training time, one run after another: %s\n", duration(total).c_str());
  for (const StudyRun& r : study.runs)
    std::printf("  %s: alibi train %s\n", r.name.c_str(), command_line(r.options).c_str());
}

void print_status(const Study& study) {
  const auto queue = slurm_queue();
  using S = RunState;
  const std::vector<Column<S>> columns = {
      {"run", "name", [](const S& s) { return Cell(s.run->name); }},
      {"state", "state", [&](const S& s) { return Cell(s.state(study)); }},
      {"step", "step", [](const S& s) { return Cell(s.step); }},
      {"of", "steps", [](const S& s) { return Cell(s.run->opt.steps); }},
      {"%", "progress", [](const S& s) {
         const double p = static_cast<double>(s.step) / static_cast<double>(s.run->opt.steps);
         return Cell(fixed(100 * p, 0), p);
       }},
      {"loss", "loss", [](const S& s) { return s.loss ? Cell::fixed(*s.loss, 4) : Cell::none(); }},
      {"val loss", "val_loss", [](const S& s) { return s.val_loss ? Cell::fixed(*s.val_loss, 4) : Cell::none(); }},
      {"evals", "evals_done", [&](const S& s) {
         return Cell(std::to_string(s.evals_done) + "/" + std::to_string(study.eval_modes.size()), s.evals_done);
       }},
      {"SLURM jobs", "jobs", [](const S& s) { return s.jobs.empty() ? Cell::none() : Cell(s.jobs); }},
  };
  std::vector<std::vector<std::string>> rows = {header_row(columns)};
  int done = 0;
  for (const StudyRun& r : study.runs) {
    const RunState st = state_of(study, r, queue);
    done += st.done(study);
    rows.push_back(text_row(columns, st));
  }
  std::printf("study %s: %d of %zu runs done\n\n", study.name.c_str(), done, study.runs.size());
  print_table(rows);
}

// ---- run -----------------------------------------------------------------------------

std::vector<std::string> eval_options(const Study& study, const StudyRun& run) {
  std::vector<std::string> items;
  for (const int L : run.eval_lengths) items.push_back(std::to_string(L));
  const std::string lengths = join(items, ",");
  std::vector<std::string> args = {"--checkpoint", run.final_checkpoint(), "--lengths", lengths,
                                   "--tp", std::to_string(run.shape.tp), "--pp", std::to_string(run.shape.pp)};
  if (run.opt.device == Device::cuda) args.insert(args.end(), {"--device", "cuda"});
  (void)study;
  return args;
}

void run_local(const Study& study, const std::string& root, bool train_only) {
  const std::string launcher = root + "/launch/mpirun_single_node.sh";
  int i = 0;
  for (const StudyRun& run : study.runs) {
    char counter[48];
    std::snprintf(counter, sizeof counter, "[%d/%zu] ", ++i, study.runs.size());
    const std::string tag = counter + run.name;
    fs::create_directories(run.opt.out_dir);
    const std::string log = (fs::path(run.opt.out_dir) / "study.log").string();
    if (fs::exists(run.final_checkpoint())) {
      std::printf("%s: trained (%s exists)\n", tag.c_str(), run.final_checkpoint().c_str());
    } else {
      std::printf("%s: training %lld steps, %s tokens (log %s)\n", tag.c_str(), static_cast<long long>(run.opt.steps),
                  grouped(run.tokens).c_str(), log.c_str());
      std::fflush(stdout);
      setenv("ALIBI_COMMAND", "train", 1);
      std::vector<std::string> argv = {launcher, std::to_string(run.settings.ranks)};
      argv.insert(argv.end(), run.options.begin(), run.options.end());
      argv.insert(argv.end(), {"--resume", "auto"});
      const int rc = run_logged(argv, log);
      ALIBI_CHECK_AS(DataError, rc == 0 && fs::exists(run.final_checkpoint()),
                     "run '" << run.name << "': training ended with status " << rc << " (" << last_line(log)
                             << "); see " << log << "; run the study again to resume it");
      std::printf("%s: %s\n", tag.c_str(), last_line(log).c_str());
    }
    if (train_only) continue;
    for (const std::string& mode : study.eval_modes) {
      const std::string prefix = run.eval_prefix(mode);
      if (fs::exists(prefix + ".json")) continue;
      std::printf("%s: evaluating (%s) at %zu lengths\n", tag.c_str(), mode.c_str(), run.eval_lengths.size());
      std::fflush(stdout);
      setenv("ALIBI_COMMAND", "eval", 1);
      std::vector<std::string> argv = {launcher, std::to_string(run.settings.ranks)};
      const auto opts = eval_options(study, run);
      argv.insert(argv.end(), opts.begin(), opts.end());
      argv.insert(argv.end(), {"--mode", mode, "--out", prefix});
      const int rc = run_logged(argv, log);
      ALIBI_CHECK_AS(DataError, rc == 0 && fs::exists(prefix + ".json"),
                     "run '" << run.name << "': evaluation (" << mode << ") ended with status " << rc << " ("
                             << last_line(log) << "); see " << log);
    }
  }
  std::printf("study %s: all %zu runs %s; alibi study report %s\n", study.name.c_str(), study.runs.size(),
              train_only ? "trained" : "trained and evaluated", study.path.c_str());
}

// sbatch ... --parsable: the job id, or an error naming the command.
std::string submit(const std::vector<std::string>& argv) {
  const auto out = capture(argv);
  ALIBI_CHECK_AS(IoError, out && !out->empty(),
                 "sbatch failed: " << command_line(argv) << "; run it by hand to see why (nothing later was submitted)");
  return out->substr(0, out->find(';'));  // "id;cluster" on a federated cluster
}

void run_slurm(const Study& study, const std::string& root, bool train_only) {
  ALIBI_CHECK_AS(ConfigError, on_path("sbatch"), "--slurm: sbatch is not on PATH; run on a SLURM login node, or use --local");
  // The scripts find the repository and this binary through these (lib.bash).
  setenv("ALIBI_ROOT", root.c_str(), 1);
  if (!std::getenv("ALIBI_BIN")) setenv("ALIBI_BIN", self_path().c_str(), 1);
  unsetenv("ALIBI_COMMAND");  // the training scripts run `alibi train`
  const auto queue = slurm_queue();
  int submitted = 0;
  for (const StudyRun& run : study.runs) {
    const RunState st = state_of(study, run, queue);
    if (st.done(study) || (train_only && st.trained)) {
      std::printf("%s: %s\n", run.name.c_str(), st.state(study).c_str());
      continue;
    }
    fs::create_directories(run.opt.out_dir);
    const bool gpu = run.opt.device == Device::cuda;
    const RunSettings& r = run.settings;
    std::vector<std::string> common = {"--ntasks=" + std::to_string(r.ranks), "--nodes=" + std::to_string(r.nodes),
                                       "--ntasks-per-node=" + std::to_string(r.ranks / r.nodes),
                                       "--cpus-per-task=" + std::to_string(r.cpus_per_task)};
    if (!study.slurm_time.empty()) common.push_back("--time=" + study.slurm_time);
    const std::string name = job_name(study, run);
    std::string train_job;
    if (!st.trained) {
      if (const auto it = queue.find(name); it != queue.end()) {
        train_job = it->second.id;
        std::printf("%s: training job %s is already %s\n", run.name.c_str(), train_job.c_str(), it->second.state.c_str());
      } else {
        const std::string script = root + "/launch/slurm/" + (gpu ? "gpu" : "cpu") +
                                   (r.nodes > 1 ? "_multi_node.sbatch" : "_single_node.sbatch");
        std::vector<std::string> argv = {"sbatch", "--parsable", "--job-name=" + name,
                                         "--output=" + run.opt.out_dir + "/slurm-%j.out"};
        argv.insert(argv.end(), common.begin(), common.end());
        argv.push_back(script);
        argv.insert(argv.end(), run.options.begin(), run.options.end());
        train_job = submit(argv);
        ++submitted;
        std::printf("%s: training job %s (%lld steps)\n", run.name.c_str(), train_job.c_str(),
                    static_cast<long long>(run.opt.steps));
      }
    }
    if (train_only) continue;
    if (const auto it = queue.find(name + ".eval"); it != queue.end()) {
      std::printf("%s: evaluation job %s is already %s\n", run.name.c_str(), it->second.id.c_str(),
                  it->second.state.c_str());
      continue;
    }
    const std::string modes = join(study.eval_modes, ",");
    std::vector<std::string> argv = {"sbatch", "--parsable", "--job-name=" + name + ".eval",
                                     "--output=" + run.opt.out_dir + "/slurm-eval-%j.out"};
    // A training job that fails or is cancelled takes its evaluation with it.
    if (!train_job.empty()) argv.insert(argv.end(), {"--dependency=afterok:" + train_job, "--kill-on-invalid-dep=yes"});
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), {root + "/launch/slurm/eval.sbatch", modes, (fs::path(run.opt.out_dir) / "eval").string()});
    const auto opts = eval_options(study, run);
    argv.insert(argv.end(), opts.begin(), opts.end());
    const std::string eval_job = submit(argv);
    ++submitted;
    std::printf("%s: evaluation job %s%s\n", run.name.c_str(), eval_job.c_str(),
                train_job.empty() ? "" : (" (after job " + train_job + ")").c_str());
  }
  std::printf("study %s: %d job%s submitted; alibi study status %s\n", study.name.c_str(), submitted,
              submitted == 1 ? "" : "s", study.path.c_str());
}

// ---- report --------------------------------------------------------------------------

int report(const Study& study, const std::string& root) {
  fs::create_directories(study.out);
  const std::string manifest = (fs::path(study.out) / "study.json").string();
  {
    std::ofstream f(manifest + ".tmp");
    f << study_manifest_json(study);
    ALIBI_CHECK_AS(IoError, f.good(), "cannot write " << manifest << ".tmp; check " << study.out);
  }
  fs::rename(manifest + ".tmp", manifest);
  const char* python = std::getenv("ALIBI_PYTHON") ? std::getenv("ALIBI_PYTHON") : "/usr/bin/python3";
  const int status = std::system(command_line({python, root + "/launch/study_report.py", manifest}).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int cmd_study(int argc, char** argv) {
  std::string action, path;
  std::vector<std::string> sets;
  bool local = false, slurm = false, train_only = false, json = false;
  po::options_description desc("study");
  desc.add_options()
      ("action", po::value(&action), "plan | run | status | report (the first word)")
      ("study", po::value(&path), "the study file (INI; see launch/studies/README.md; the second word)")
      ("set", po::value(&sets)->composing(), "SECTION.KEY=VALUE over the file's entry (repeatable)")
      ("local", po::bool_switch(&local), "run: each run in turn here, through mpirun")
      ("slurm", po::bool_switch(&slurm), "run: one sbatch job per run (then its evaluation, dependent)")
      ("train-only", po::bool_switch(&train_only), "run: train, do not evaluate")
      ("json", po::bool_switch(&json), "plan: the runs as JSON (the report's manifest)");
  po::positional_options_description positional;
  positional.add("action", 1).add("study", 1);
  po::variables_map vm;
  if (!parse_command_line("study", argc, argv, desc, vm, &positional)) return 0;
  ALIBI_CHECK_AS(ConfigError, !action.empty() && !path.empty(),
                 "usage: alibi study plan|run|status|report STUDY.ini [--local|--slurm] [--set SECTION.KEY=VALUE]");
  ALIBI_CHECK_AS(ConfigError, action == "plan" || action == "run" || action == "status" || action == "report",
                 "alibi study " << action << ": unknown action; use plan, run, status or report");
  ALIBI_CHECK_AS(ConfigError, action != "run" || local != slurm, "alibi study run: give --local or --slurm");

  const Study study = load_study(path, sets);
  if (action == "plan") {
    if (json) {
      std::printf("%s", study_manifest_json(study).c_str());
    } else {
      print_plan(study);
    }
  } else if (action == "status") {
    print_status(study);
  } else if (action == "report") {
    return report(study, repository_root());
  } else {
    const std::string root = repository_root();
    for (const StudyRun& r : study.runs)
      ALIBI_CHECK_AS(ConfigError, fs::is_regular_file(r.opt.data),
                     "run '" << r.name << "': data " << r.opt.data << ": no such corpus; make it with alibi preprocess "
                             << "or fix [base] data (nothing was started)");
    if (local) run_local(study, root, train_only);
    else run_slurm(study, root, train_only);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace alibi
