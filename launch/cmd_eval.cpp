// alibi eval: perplexity against evaluation length for one or several checkpoints (the
// paper's Figure 1): train short, test long.
//
//   alibi eval --checkpoint runs/alibi/step_00001000.h5 runs/sin/step_00001000.h5
//              --data corpus.h5 --lengths 128,256,512,1024 --mode sliding --stride 64
//   mpirun -np 2 alibi eval ...      # DP splits the windows; --tp/--pp as in training
//   alibi eval --checkpoint CKPT --text notes.txt --lengths 512 --dump-logprobs lp.tsv
//
// Writes a table to stdout and OUT.csv, OUT.json and OUT.png (perplexity against length,
// one line per checkpoint) where OUT is --out. --text scores a text file (tokenized with
// each checkpoint's own tokenizer) instead of a corpus split; --dump-logprobs writes every
// scored target's log-probability (one process), e.g. to hold another runtime's numbers
// against ours (tests/e2e/export_gguf.sh does so with llama.cpp).
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "data/eval_windows.h"
#include "launch/commands.h"
#include "launch/report.h"
#include "layers/model.h"
#include "parallel/nccl_comm.h"
#include "parallel/watchdog.h"
#include "runtime/device.h"
#include "runtime/h5.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/model_checkpoint.h"
#include "train/options.h"

namespace alibi {

namespace {

namespace fs = std::filesystem;

struct EvalRow {
  std::string checkpoint, method;
  int train_length = 0, length = 0, stride = 0;
  std::string mode;
  EvalResult result;
};

std::vector<int> parse_lengths(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      ALIBI_CHECK_AS(ConfigError, used == item.size() && v >= 1 && v <= (1 << 24),
                     "--lengths: '" << item << "' is not a length in [1, 16777216]");
      out.push_back(static_cast<int>(v));
    } catch (const std::logic_error&) {
      throw ConfigError("--lengths: '" + item + "' is not a number; give comma-separated lengths, e.g. 128,256,512");
    }
  }
  ALIBI_CHECK_AS(ConfigError, !out.empty(), "--lengths is empty; give e.g. --lengths 128,256,512");
  return out;
}

// One row of the results: the table on stdout, OUT.csv and OUT.json. The CSV's column
// order is what plot() reads ($1 checkpoint, $4 eval_length, $8 ppl).
std::vector<Column<EvalRow>> eval_columns() {
  return {
      {nullptr, "checkpoint", [](const EvalRow& r) { return Cell(r.checkpoint); }},
      {"method", "method", [](const EvalRow& r) { return Cell(r.method); }},
      {"train_T", "train_length", [](const EvalRow& r) { return Cell(r.train_length); }},
      {"eval_T", "eval_length", [](const EvalRow& r) { return Cell(r.length); }},
      {"mode", "mode", [](const EvalRow& r) { return Cell(r.mode); }},
      {"stride", "stride", [](const EvalRow& r) { return Cell(r.stride); }},
      {"loss", "loss", [](const EvalRow& r) { return Cell::fixed(r.result.loss(), 4); }},
      {"ppl", "ppl", [](const EvalRow& r) { return Cell::fixed(r.result.perplexity(), 3); }},
      {"tokens", "tokens", [](const EvalRow& r) { return Cell(r.result.tokens); }},
  };
}

// The stdout table is printed a row at a time, as lengths finish: fixed widths.
void print_eval_row(const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    const size_t width = i == 0 ? 12 : i == 3 ? 15 : 9;
    const std::string pad(cells[i].size() < width ? width - cells[i].size() : 0, ' ');
    if (i) line += ' ';
    line += i == 0 || i == 3 ? cells[i] + pad : pad + cells[i];
  }
  std::printf("%s\n", line.c_str());
}

// The whole of a text file (IoError naming it when unreadable).
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ALIBI_CHECK_AS(IoError, in.good(), "--text " << path << ": cannot read it; check the path");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// OUT.csv and OUT.json, each written whole to OUT.*.tmp and renamed into place.
void write_outputs(const std::string& out, const std::vector<EvalRow>& rows) {
  const auto columns = eval_columns();
  for (const auto& [file, text] : {std::make_pair(out + ".csv", csv_rows(columns, rows)),
                                    std::make_pair(out + ".json", json_rows(columns, rows).dump(2) + "\n")}) {
    const std::string tmp = file + ".tmp";
    {
      std::ofstream f(tmp);
      f << text;
      ALIBI_CHECK_AS(IoError, f.good(), "--out " << out << ": cannot write " << tmp << "; check the path");
    }
    atomic_rename(tmp, file);
  }
}

// A PNG of perplexity against length with gnuplot, one line per checkpoint; skipped with
// a note when gnuplot is not installed.
void plot(const std::string& out, const std::vector<EvalRow>& rows, const std::vector<std::string>& checkpoints) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::printf("note: gnuplot not found; no plot (launch/setup.sh installs gnuplot-nox)\n");
    return;
  }
  const std::string script = out + ".gnuplot";
  std::ofstream g(script);
  g << "set terminal pngcairo size 900,600 noenhanced\nset output '" << out << ".png'\n"
    << "set logscale x 2\nset xlabel 'evaluation length (tokens)'\nset ylabel 'perplexity'\n"
    << "set grid\nset key top left\nset title 'perplexity against evaluation length'\n"
    << "set datafile separator ','\nplot ";
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    const EvalRow* first = nullptr;
    for (const EvalRow& r : rows)
      if (r.checkpoint == checkpoints[i]) first = &r;
    if (!first) continue;
    g << (i ? ", " : "") << "'" << out << ".csv' using (strcol(1) eq '" << checkpoints[i]
      << "' ? $4 : 1/0):(strcol(1) eq '" << checkpoints[i] << "' ? $8 : 1/0) with linespoints title '" << first->method
      << " (T=" << first->train_length << ")'";
  }
  g << "\n";
  g.close();
  // strcol(1) is the checkpoint path; `eq` compares strings.
  const std::string cmd = "gnuplot '" + script + "' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) std::printf("note: gnuplot failed; see %s\n", script.c_str());
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  // ---- options ------------------------------------------------------------------------
  std::vector<std::string> checkpoints;
  std::string data, text_path, dump_path, lengths_text, split_name = "valid", mode = "nonoverlapping", out = "eval";
  Device device = Device::cpu;
  MatmulPrecision matmul_precision = MatmulPrecision::automatic;
  int stride = 0, batch_tokens = 8192, tp = 1, pp = 1;
  double timeout_minutes = 10;
  po::options_description desc("evaluation");
  desc.add_options()
      ("checkpoint", po::value<std::vector<std::string>>(&checkpoints)->multitoken()->required(), "checkpoint(s) to evaluate")
      ("data", po::value<std::string>(&data), "HDF5 corpus (default: the one the first checkpoint trained on)")
      ("lengths", po::value<std::string>(&lengths_text), "comma-separated evaluation lengths (default: the training length)")
      ("split", po::value<std::string>(&split_name)->default_value(split_name), "train | valid | test")
      ("text", po::value<std::string>(&text_path), "score this text file (each checkpoint's tokenizer) instead of a corpus split")
      ("dump-logprobs", po::value<std::string>(&dump_path),
       "write each scored target's log-probability to this TSV (checkpoint, length, window, position, target, logprob)")
      ("mode", po::value<std::string>(&mode)->default_value(mode), "nonoverlapping | sliding")
      ("stride", po::value<int>(&stride)->default_value(stride), "sliding windows advance by this many tokens (0: half the length)")
      ("batch-tokens", po::value<int>(&batch_tokens)->default_value(batch_tokens), "tokens per forward (windows = max(1, this / length))")
      ("tp", po::value<int>(&tp)->default_value(tp), "tensor-parallel ranks")
      ("pp", po::value<int>(&pp)->default_value(pp), "pipeline stages; dp = ranks / (tp*pp) splits the windows")
      ("device", po::value<Device>(&device)->default_value(device), "cpu | cuda (one GPU per rank)")
      ("matmul-precision", po::value<MatmulPrecision>(&matmul_precision)->default_value(matmul_precision),
       "auto (bf16 on cuda, fp32 on cpu) | bf16 (bf16 operands, fp32 accumulation; cpu: oneDNN, AVX512-BF16) | tf32 (cuda) | fp32")
      ("out", po::value<std::string>(&out)->default_value(out), "prefix of the CSV, JSON and PNG outputs");
  add_timeout_option(desc, timeout_minutes, "a collective, a pipeline message, a checkpoint read");
  po::variables_map vm;
  if (!parse_command_line("eval", argc, argv, desc, vm)) return 0;
  check_timeout_minutes(timeout_minutes);
  ALIBI_CHECK_AS(ConfigError, mode == "nonoverlapping" || mode == "sliding",
                 "--mode " << mode << " is not an evaluation mode; use nonoverlapping or sliding");
  for (const std::string& c : checkpoints) {
    ALIBI_CHECK_AS(IoError, fs::is_regular_file(c), "--checkpoint " << c << ": no such file; give a step_*.h5 checkpoint");
  }
  const bool on_gpu = device == Device::cuda;
  if (on_gpu) select_cuda_device(local_rank(MPI_COMM_WORLD));
  const Split split = parse_split(split_name);
  int world = 1, rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  ALIBI_CHECK_AS(ConfigError, tp >= 1 && pp >= 1 && world % (tp * pp) == 0,
                 "world = tp*pp*dp fails: " << world << " ranks are not a multiple of --tp " << tp << " x --pp " << pp);
  const GridShape shape{tp, pp, world / (tp * pp)};
  const bool root = rank == 0;
  ALIBI_CHECK_AS(ConfigError, dump_path.empty() || world == 1,
                 "--dump-logprobs runs in one process (not under mpirun with " << world << " ranks)");
  ALIBI_CHECK_AS(ConfigError, text_path.empty() || data.empty(), "--text and --data are two sources; give one");
  std::ofstream dump;
  if (!dump_path.empty()) {
    dump.open(dump_path);
    ALIBI_CHECK_AS(IoError, dump.good(), "--dump-logprobs " << dump_path << ": cannot create it; check the directory");
    dump << "checkpoint\teval_length\twindow\tposition\ttarget\tlogprob\n";
  }
  const std::string text = text_path.empty() ? "" : read_text(text_path);
  const bool tty = root && stdout_is_interactive();
  // Under mpirun the ranks meet in collectives: a stopped one must not hang the rest.
  const auto watchdog = std::make_shared<Watchdog>(MPI_COMM_WORLD, 60 * timeout_minutes, kEvalJob);

  std::vector<EvalRow> rows;
  for (const std::string& checkpoint : checkpoints) {
    // ---- model from the checkpoint --------------------------------------------------
    const OptionMap options = read_checkpoint_options(checkpoint);
    const ModelConfig cfg = model_config_from(options);
    const std::string corpus_path = !data.empty() ? data : options.count("data") ? options.at("data") : "";
    ALIBI_CHECK_AS(ConfigError, !corpus_path.empty() || !text_path.empty(), checkpoint << " names no corpus; give --data");
    // With --text the checkpoint's own tokenizer makes the tokens: no corpus to check against.
    std::optional<Corpus> corpus;
    std::vector<int32_t> text_tokens;
    if (text_path.empty()) {
      corpus.emplace(corpus_path);
    } else {
      text_tokens = read_checkpoint_tokenizer(checkpoint).encode(text);
    }
    const std::string source = text_path.empty() ? corpus_path : text_path;
    const ProcessGrid grid =
        ProcessGrid::create(MPI_COMM_WORLD, shape, cfg, on_gpu ? CommBackend::nccl : CommBackend::mpi, watchdog);
    Model<float> model(cfg, 0, grid);
    model.to_device(device, matmul_precision);  // checkpoints are fp32 host data: any device
    {
      Watchdog::Deadline deadline(*watchdog, "checkpoint read", kStartSkewS);  // parallel HDF5: not polled
      if (corpus) {
        load_model(checkpoint, model, *corpus);
      } else {
        load_model(checkpoint, model);
      }
    }
    const std::vector<int> lengths = vm.count("lengths") ? parse_lengths(lengths_text) : std::vector<int>{cfg.seq_len};

    for (const int T : lengths) {
      watchdog->set_progress(T);
      // ---- windows of this length ---------------------------------------------------
      ALIBI_CHECK_AS(ConfigError, cfg.position != PositionMethod::learned || T <= cfg.position_rows(),
                     "length " << T << " is past " << checkpoint << "'s learned position table ("
                               << cfg.position_rows() << " positions); learned positions cannot extrapolate");
      const int64_t available = corpus ? corpus->size(split) : static_cast<int64_t>(text_tokens.size());
      ALIBI_CHECK_AS(ConfigError, available >= int64_t{T} + 1,
                     "length " << T << " is beyond the " << (corpus ? split_name + " split of " : std::string())
                               << source << " (" << available << " tokens); use shorter --lengths"
                               << (corpus ? " or another --split" : " or a longer text"));
      const int S = mode == "nonoverlapping" ? T : stride > 0 ? stride : std::max(1, T / 2);
      ALIBI_CHECK_AS(ConfigError, S <= T, "--stride " << S << " is above the window length " << T);
      SlidingWindows windows = corpus ? SlidingWindows(*corpus, split, T, S, grid.coord().dp_rank, shape.dp)
                                      : SlidingWindows(text_tokens, T, S, grid.coord().dp_rank, shape.dp);
      const int B = std::max(1, batch_tokens / T);
      const auto t0 = std::chrono::steady_clock::now();
      auto progress = [&](int64_t done, int64_t total) {
        if (!tty) return;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double eta = s / static_cast<double>(done) * static_cast<double>(total - done);
        std::printf("\r  %s T=%d: %lld/%lld windows, ETA %s   ", enum_name(cfg.position), T, static_cast<long long>(done),
                    static_cast<long long>(total), format_duration(eta).c_str());
        std::fflush(stdout);
      };
      // Each scored target's log-probability = -its loss, window by window (one process).
      int64_t window = 0;
      auto dump_batch = [&](int n, const int32_t* targets) {
        const Tensor losses = model.losses(0).to(Device::cpu);
        const float* loss = losses.data<float>();
        for (int b = 0; b < n; ++b, ++window)
          for (int t = 0; t < T; ++t) {
            const int64_t i = int64_t{b} * T + t;
            if (targets[i] < 0) continue;
            char value[32];
            std::snprintf(value, sizeof value, "%.9g", -static_cast<double>(loss[i]));
            dump << checkpoint << '\t' << T << '\t' << window << '\t' << t << '\t' << targets[i] << '\t' << value << '\n';
          }
      };
      const EvalResult result = score_windows(model, grid, windows, T, B, 0, progress,
                                              dump_path.empty() ? std::function<void(int, const int32_t*)>() : dump_batch);
      if (tty) std::printf("\r%80s\r", "");
      // A non-finite score is no result: every rank has the same one, so all stop together.
      const int64_t bad = result.first_nonfinite_window;
      ALIBI_CHECK_AS(DataError, std::isfinite(result.loss()) && std::isfinite(result.perplexity()),
                     checkpoint << ": at length " << T << " (" << mode << ", stride " << S << ") the loss is "
                                << result.loss() << ", perplexity " << result.perplexity()
                                << (bad >= 0 ? ", first in the batch from window " + std::to_string(bad) +
                                                   " (tokens " + std::to_string(bad * S) + "+ of the " + split_name +
                                                   " split)"
                                             : std::string())
                                << "; the model overflows there: try a shorter length, check its weights with alibi check, "
                                   "or with --device cuda use --matmul-precision fp32");
      EvalRow row{checkpoint, enum_name(cfg.position), cfg.seq_len, T, S, mode, result};
      rows.push_back(row);
      if (root) {
        if (rows.size() == 1) print_eval_row(header_row(eval_columns()));
        print_eval_row(text_row(eval_columns(), row));
        std::fflush(stdout);
      }
    }
  }
  if (dump.is_open()) {
    dump.close();
    ALIBI_CHECK_AS(IoError, dump.good(), "--dump-logprobs " << dump_path << ": cannot write it; check the free space");
  }
  if (root) {
    if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path());
    write_outputs(out, rows);
    plot(out, rows, checkpoints);
    std::printf("wrote %s.csv, %s.json%s\n", out.c_str(), out.c_str(),
                fs::exists(out + ".png") ? (", " + out + ".png").c_str() : "");
  }
  return 0;
}

}  // namespace alibi
