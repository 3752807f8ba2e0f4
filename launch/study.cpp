// The study file: read it (with line numbers), expand sizes x axes into runs, and check
// every run as `alibi train` and `alibi plan` would, before anything starts.
#include "launch/study.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data/corpus.h"
#include "launch/report.h"
#include "runtime/error.h"

namespace alibi {

namespace {

namespace fs = std::filesystem;

constexpr double kGB = 1e9;
const char* const kModes[] = {"nonoverlapping", "sliding"};

// ---- the INI file, with line numbers ----------------------------------------------------

struct Section {
  std::string name, where;
  std::vector<StudyEntry> entries;
};

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::vector<Section> read_sections(const std::string& path) {
  std::ifstream in(path);
  ALIBI_CHECK_AS(ConfigError, in.good(), "study file " << path << ": cannot open it; check the path");
  std::vector<Section> sections;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    const std::string where = path + ":" + std::to_string(++n);
    // Comments: a line starting with # or ;, or the rest of a line after " #".
    for (const char* mark : {" #", "\t#"})
      if (const size_t c = line.find(mark); c != std::string::npos) line.resize(c);
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      ALIBI_CHECK_AS(ConfigError, line.back() == ']' && line.size() > 2,
                     where << ": '" << line << "' is not a section header; write [study], [base], [axes] or [size.NAME]");
      sections.push_back({trim(line.substr(1, line.size() - 2)), where, {}});
      continue;
    }
    const size_t eq = line.find('=');
    ALIBI_CHECK_AS(ConfigError, eq != std::string::npos && eq > 0,
                   where << ": expected 'name = value' or a [section], got '" << line << "'");
    ALIBI_CHECK_AS(ConfigError, !sections.empty(),
                   where << ": '" << line << "' comes before any section; start with [study] or [base]");
    sections.back().entries.push_back({trim(line.substr(0, eq)), trim(line.substr(eq + 1)), where});
  }
  return sections;
}

// "SECTION.KEY=VALUE" over the file's entries: replaces the key, or adds it.
void apply_override(std::vector<Section>& sections, const std::string& text) {
  const size_t eq = text.find('=');
  const size_t dot = eq == std::string::npos ? std::string::npos : text.rfind('.', eq);
  ALIBI_CHECK_AS(ConfigError, dot != std::string::npos && dot > 0,
                 "--set " << text << ": write SECTION.KEY=VALUE, e.g. --set study.tokens=100000 or --set axes.position=alibi");
  const std::string section = text.substr(0, dot), key = text.substr(dot + 1, eq - dot - 1);
  auto s = std::find_if(sections.begin(), sections.end(), [&](const Section& x) { return x.name == section; });
  if (s == sections.end()) s = sections.insert(sections.end(), {section, "--set", {}});
  std::erase_if(s->entries, [&](const StudyEntry& e) { return e.key == key; });
  s->entries.push_back({key, text.substr(eq + 1), "--set " + text});
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  for (const char c : text + ",") {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!item.empty()) out.push_back(item);
      item.clear();
    } else {
      item += c;
    }
  }
  return out;
}

// ---- options: the study's own, and alibi train's ----------------------------------------

struct StudySettings {
  std::string name, out, eval_lengths, eval_modes = "nonoverlapping", time;
  double warmup_fraction = -1, peak_tflops = 0, cpu_tflops = 0, mfu = 0.4;
  double gpu_memory_gb = 0;
  RunSettings run;
};

// Keys a [size.NAME] section may set besides training options: its layout and budget.
bool is_size_setting(const std::string& key) {
  return key == "ranks" || key == "nodes" || key == "cpus-per-task" || key == "tokens" || key == "tokens-per-parameter";
}

void add_study_options(po::options_description& d, StudySettings& s, Hardware& hw) {
  d.add_options()
      ("name", po::value(&s.name), "the study's name (default: the file's stem); SLURM job names start with it")
      ("out", po::value(&s.out), "directory of the runs (default runs/<name>)")
      ("tokens", po::value(&s.run.tokens), "training tokens per run (sets --steps)")
      ("tokens-per-parameter", po::value(&s.run.tokens_per_parameter), "training tokens per run = this x parameters")
      ("warmup-fraction", po::value(&s.warmup_fraction), "--warmup = this x steps")
      ("eval-lengths", po::value(&s.eval_lengths), "evaluation lengths (the run's --seq-len is always added)")
      ("eval-modes", po::value(&s.eval_modes), "nonoverlapping and/or sliding")
      ("ranks", po::value(&s.run.ranks), "MPI ranks per run; dp = ranks / (tp * pp)")
      ("nodes", po::value(&s.run.nodes), "SLURM nodes per run")
      ("cpus-per-task", po::value(&s.run.cpus_per_task), "SLURM --cpus-per-task (threads per rank)")
      ("time", po::value(&s.time), "SLURM --time of each job")
      ("peak-tflops", po::value(&s.peak_tflops), "peak TFLOP/s per rank, for MFU in the report")
      ("cpu-tflops", po::value(&s.cpu_tflops), "CPU peak TFLOP/s per rank, for the predicted time")
      ("mfu", po::value(&s.mfu), "share of the peak assumed for the predicted time")
      ("gpu-memory-gb", po::value(&s.gpu_memory_gb), "GPU memory: a run that alibi plan says does not fit is an error")
      ("gpu-tflops", po::value(&hw.tflops), "GPU bf16 peak (alibi plan --gpu-tflops)")
      ("headroom", po::value(&hw.headroom), "share of GPU memory kept free (alibi plan --headroom)")
      ("gpus-per-node", po::value(&hw.gpus_per_node), "GPUs per node (alibi plan --gpus-per-node)");
}

// The value parses as the option's type (an enum's name, a number): or an error naming
// the entry's line.
void check_entry(const po::options_description& desc, const StudyEntry& e, const std::string& section,
                 const std::string& hint) {
  // config = FILE.ini (alibi train's --config) may give a size's or the base's options.
  const bool config = e.key == "config" && (section == "base" || section.starts_with("size."));
  const po::option_description* d = config ? nullptr : desc.find_nothrow(e.key, false);
  ALIBI_CHECK_AS(ConfigError, d || config,
                 e.where << ": unknown option '" << e.key << "' in [" << section << "]; " << hint);
  ALIBI_CHECK_AS(ConfigError, e.key != "out-dir" && e.key != "resume",
                 e.where << ": " << e.key << " is set by the study (out-dir = [study] out/<run name>, resume auto); "
                         << "remove the line");
  if (!d) return;
  try {
    boost::any value;
    d->semantic()->parse(value, {e.value}, true);
  } catch (const std::exception& err) {
    throw ConfigError(e.where + ": " + e.key + " = " + e.value + ": " + err.what());
  }
}

// ---- runs ---------------------------------------------------------------------------------

int vocab_of(const std::string& data) {
  static std::map<std::string, int> cache;  // one open per corpus, however many runs
  auto [it, added] = cache.try_emplace(data, 0);
  if (added) it->second = static_cast<int>(Corpus(data).vocab_size());
  return it->second;
}

std::vector<int> parse_lengths(const std::string& text, const std::string& where) {
  std::vector<int> out;
  for (const std::string& item : split_list(text)) {
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    ALIBI_CHECK_AS(ConfigError, *end == 0 && v >= 1 && v <= (1 << 24),
                   where << ": eval-lengths: '" << item << "' is not a length in [1, 16777216]");
    out.push_back(static_cast<int>(v));
  }
  return out;
}

// Parses the run's options as alibi train does, sets the budget, and checks the model and
// layout; every error names the run.
void complete_run(StudyRun& run, const Study& study, const StudySettings& s, const std::vector<int>& lengths,
                  std::map<std::string, std::string>& train) {
  auto where = [&] { return "run '" + run.name + "' (" + study.path + "): "; };
  try {
    po::options_description desc;
    add_model_options(desc, run.cfg);
    add_train_options(desc, run.opt);
    std::vector<std::string> args = {"train"};
    for (const auto& [k, v] : train) args.insert(args.end(), {"--" + k, v});
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    po::variables_map vm;
    parse_command_line("train", static_cast<int>(argv.size()), argv.data(), desc, vm);
    if (!run.opt.data.empty() && vm["vocab"].defaulted() && fs::is_regular_file(run.opt.data))
      run.cfg.vocab = vocab_of(run.opt.data);  // as alibi train takes it

    const RunSettings& r = run.settings;
    ALIBI_CHECK_AS(ConfigError, r.ranks >= 1 && r.nodes >= 1 && r.cpus_per_task >= 1 && r.ranks % r.nodes == 0,
                   "ranks " << r.ranks << " over nodes " << r.nodes << " (cpus-per-task " << r.cpus_per_task
                            << "): give ranks a multiple of nodes, all at least 1");
    ALIBI_CHECK_AS(ConfigError, run.opt.tp >= 1 && run.opt.pp >= 1 && r.ranks % (run.opt.tp * run.opt.pp) == 0,
                   "world = tp*pp*dp fails: ranks " << r.ranks << " are not a multiple of tp " << run.opt.tp
                                                    << " x pp " << run.opt.pp << "; set ranks in [study] or the size");
    run.shape = {run.opt.tp, run.opt.pp, r.ranks / (run.opt.tp * run.opt.pp)};
    const double budget = r.tokens > 0 ? static_cast<double>(r.tokens)
                                       : r.tokens_per_parameter * static_cast<double>(run.cfg.parameter_count());
    if (budget > 0) {
      run.opt.steps = static_cast<int64_t>(std::ceil(budget / static_cast<double>(run.tokens_per_step())));
      train["steps"] = std::to_string(run.opt.steps);
    }
    if (s.warmup_fraction >= 0) {
      run.opt.warmup = std::llround(s.warmup_fraction * static_cast<double>(run.opt.steps));
      train["warmup"] = std::to_string(run.opt.warmup);
    }
    run.tokens = run.opt.steps * run.tokens_per_step();
    run.opt.out_dir = (fs::path(study.out) / run.name).string();
    train["out-dir"] = run.opt.out_dir;
    run.opt.validate();
    run.cfg.validate();

    // alibi plan refuses t5 (its bias table has no place in the per-rank plan yet); the
    // layout is the alibi one apart from that 32 x NH table, which the estimate leaves out.
    ModelConfig planned = run.cfg;
    if (planned.position == PositionMethod::t5) planned.position = PositionMethod::alibi;
    const std::vector<RankPlan> plan = plan_layout(planned, run.shape, run.opt.micro_batch, run.opt.grad_accum);
    const double flops = model_flops_per_token(run.cfg) * static_cast<double>(run.tokens);
    if (study.check_gpu_memory || run.opt.device == Device::cuda) {
      Hardware hw = study.hw;
      hw.gpus = r.ranks;
      const LayoutEstimate e = estimate_layout(planned, hw, run.shape, run.opt.micro_batch, run.opt.grad_accum);
      ALIBI_CHECK_AS(ConfigError, e.fits_any(),
                     "does not fit gpu-memory-gb " << hw.memory_gb << ": alibi plan predicts "
                         << fixed(e.memory[0].total() / kGB, 1) << " GB on the fullest GPU ("
                         << fixed(e.memory[1].total() / kGB, 1) << " GB with recomputation), over the usable "
                         << fixed(hw.usable_bytes() / kGB, 1) << " GB; raise tp or pp (and ranks), or lower "
                         << "micro-batch (see alibi plan --gpus " << r.ranks << ")");
      run.memory_bytes = e.run_memory().total();
      run.predicted_s = e.step_s * static_cast<double>(run.opt.steps);
    } else {
      for (const RankPlan& p : plan) run.memory_bytes = std::max(run.memory_bytes, p.total_bytes());
      if (study.cpu_tflops > 0) run.predicted_s = flops / (r.ranks * study.cpu_tflops * 1e12 * study.mfu);
    }
  } catch (const ConfigError& e) {
    throw ConfigError(where() + e.what());
  }
  for (const auto& [k, v] : train) run.options.insert(run.options.end(), {"--" + k, v});
  run.eval_lengths = lengths;
  if (std::find(lengths.begin(), lengths.end(), run.cfg.seq_len) == lengths.end())
    run.eval_lengths.push_back(run.cfg.seq_len);
  std::sort(run.eval_lengths.begin(), run.eval_lengths.end());
}

}  // namespace

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

int64_t StudyRun::tokens_per_step() const {
  return int64_t{opt.micro_batch} * opt.grad_accum * shape.dp * cfg.seq_len;
}
std::string StudyRun::final_checkpoint() const { return checkpoint_path(opt.out_dir, opt.steps); }
std::string StudyRun::eval_prefix(const std::string& mode) const {
  return (fs::path(opt.out_dir) / ("eval_" + mode)).string();
}

const StudyRun* Study::find(const std::string& run_name) const {
  for (const StudyRun& r : runs)
    if (r.name == run_name) return &r;
  return nullptr;
}

Study load_study(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<Section> sections = read_sections(path);
  for (const std::string& o : overrides) apply_override(sections, o);

  Study study;
  study.path = path;
  StudySettings s;
  po::options_description study_desc, train_desc;
  add_study_options(study_desc, s, study.hw);
  ModelConfig scratch_cfg;
  TrainOptions scratch_opt;
  add_model_options(train_desc, scratch_cfg);
  add_train_options(train_desc, scratch_opt);
  const std::string train_hint = "names are alibi train's options without '--' (alibi train --help)";

  // Every entry checked first, so a typo is reported with its line whatever else is wrong.
  const Section* base = nullptr;
  const Section* axes = nullptr;
  std::vector<const Section*> sizes;
  std::vector<StudyEntry> study_entries;
  for (const Section& sec : sections) {
    if (sec.name == "study") {
      for (const StudyEntry& e : sec.entries)
        check_entry(study_desc, e, sec.name, "the [study] keys are listed in launch/studies/README.md");
      study_entries.insert(study_entries.end(), sec.entries.begin(), sec.entries.end());
      continue;
    }
    const bool is_size = sec.name.starts_with("size.") && sec.name.size() > 5;
    ALIBI_CHECK_AS(ConfigError, sec.name == "base" || sec.name == "axes" || is_size,
                   sec.where << ": unknown section [" << sec.name << "]; use [study], [base], [axes] or [size.NAME]");
    for (const StudyEntry& e : sec.entries) {
      if (is_size && is_size_setting(e.key)) {
        check_entry(study_desc, e, sec.name, train_hint);
      } else if (sec.name == "axes") {
        ALIBI_CHECK_AS(ConfigError, !split_list(e.value).empty(),
                       e.where << ": axis '" << e.key << "' needs values, e.g. position = alibi, sinusoidal");
        for (const std::string& v : split_list(e.value))
          check_entry(train_desc, {e.key, v, e.where}, sec.name, train_hint + "; an axis varies one of them");
      } else {
        check_entry(train_desc, e, sec.name, train_hint);
      }
    }
    if (sec.name == "base") base = &sec;
    if (sec.name == "axes") axes = &sec;
    if (is_size) {
      for (const Section* other : sizes)
        ALIBI_CHECK_AS(ConfigError, other->name != sec.name, sec.where << ": [" << sec.name << "] appears twice");
      sizes.push_back(&sec);
    }
  }

  // The study's settings (the last value of a key wins, as in alibi train's INI).
  auto parse_settings = [&](const std::vector<StudyEntry>& entries, StudySettings& into, Hardware& hw) {
    po::options_description d;
    add_study_options(d, into, hw);
    po::variables_map vm;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {  // po keeps the first stored value
      const char* argv[] = {"study", nullptr};
      const std::string arg = "--" + it->key + "=" + it->value;
      argv[1] = arg.c_str();
      po::store(po::parse_command_line(2, argv, d), vm);
    }
    po::notify(vm);
  };
  parse_settings(study_entries, s, study.hw);
  study.name = !s.name.empty() ? s.name : fs::path(path).stem().string();
  study.out = !s.out.empty() ? s.out : "runs/" + study.name;
  study.slurm_time = s.time;
  study.peak_tflops = s.peak_tflops;
  study.cpu_tflops = s.cpu_tflops;
  study.mfu = s.mfu;
  study.check_gpu_memory = s.gpu_memory_gb > 0;
  if (study.check_gpu_memory) study.hw.memory_gb = s.gpu_memory_gb;
  study.hw.validate();
  for (const std::string& m : split_list(s.eval_modes)) {
    ALIBI_CHECK_AS(ConfigError, std::find(std::begin(kModes), std::end(kModes), m) != std::end(kModes),
                   path << ": eval-modes: '" << m << "' is not nonoverlapping or sliding");
    study.eval_modes.push_back(m);
  }
  ALIBI_CHECK_AS(ConfigError, !study.eval_modes.empty(), path << ": eval-modes is empty; give nonoverlapping and/or sliding");
  const std::vector<int> lengths = parse_lengths(s.eval_lengths, path);

  // Sizes x every combination of the axes' values, in file order.
  std::vector<std::vector<std::pair<std::string, std::string>>> combos = {{}};
  if (axes) {
    for (const StudyEntry& e : axes->entries) {
      std::vector<std::vector<std::pair<std::string, std::string>>> next;
      for (const auto& c : combos)
        for (const std::string& v : split_list(e.value)) {
          next.push_back(c);
          next.back().emplace_back(e.key, v);
        }
      combos = std::move(next);
    }
  }
  if (sizes.empty()) sizes.push_back(nullptr);
  for (const Section* size : sizes) {
    for (const auto& combo : combos) {
      StudyRun run;
      std::vector<std::string> parts;
      if (size) parts.push_back(run.size = size->name.substr(5));
      for (const auto& [k, v] : combo) parts.push_back(k + "-" + v);
      run.name = parts.empty() ? "run" : join(parts, "_");
      run.axis_values = combo;

      StudySettings rs = s;
      Hardware unused;
      std::vector<StudyEntry> size_settings;
      std::map<std::string, std::string> train;  // later wins: base, then the size, then the axes
      if (base)
        for (const StudyEntry& e : base->entries) train[e.key] = e.value;
      if (size) {
        for (const StudyEntry& e : size->entries) {
          if (is_size_setting(e.key)) {
            size_settings.push_back(e);
            continue;
          }
          for (const auto& [k, v] : combo)
            ALIBI_CHECK_AS(ConfigError, k != e.key,
                           e.where << ": [" << size->name << "] sets '" << k << "', which [axes] varies; set it in one place");
          train[e.key] = e.value;
        }
      }
      for (const auto& [k, v] : combo) train[k] = v;
      parse_settings(size_settings, rs, unused);
      run.settings = rs.run;
      complete_run(run, study, s, lengths, train);
      study.runs.push_back(std::move(run));
    }
  }
  return study;
}

std::string study_manifest_json(const Study& study) {
  Json j;
  j["study"] = study.name;
  j["path"] = study.path;
  j["out"] = study.out;
  j["eval_modes"] = study.eval_modes;
  j["peak_tflops_per_rank"] = study.peak_tflops;
  j["runs"] = Json::array();
  for (const StudyRun& r : study.runs) {
    Json run;
    run["name"] = r.name;
    run["size"] = r.size;
    run["axes"] = Json::object();
    for (const auto& [k, v] : r.axis_values) run["axes"][k] = v;
    run["position"] = enum_name(r.cfg.position);
    run["layers"] = r.cfg.layers;
    run["channels"] = r.cfg.channels;
    run["heads"] = r.cfg.heads;
    run["vocab"] = r.cfg.vocab;
    run["seq_len"] = r.cfg.seq_len;
    run["parameters"] = r.cfg.parameter_count();
    run["flops_per_token"] = model_flops_per_token(r.cfg);
    run["steps"] = r.opt.steps;
    run["tokens"] = r.tokens;
    run["ranks"] = r.settings.ranks;
    run["layout"] = {{"tp", r.shape.tp}, {"pp", r.shape.pp}, {"dp", r.shape.dp}};
    run["out_dir"] = r.opt.out_dir;
    run["final_checkpoint"] = r.final_checkpoint();
    run["eval_lengths"] = r.eval_lengths;
    run["eval"] = Json::object();
    for (const std::string& m : study.eval_modes) run["eval"][m] = r.eval_prefix(m) + ".json";
    run["predicted_s"] = r.predicted_s;
    run["memory_bytes"] = r.memory_bytes;
    run["options"] = r.options;
    j["runs"].push_back(run);
  }
  return j.dump(2) + "\n";
}

}  // namespace alibi
