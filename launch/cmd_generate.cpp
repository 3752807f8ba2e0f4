// alibi generate: text from a checkpoint, streamed to stdout as it is sampled. The model's
// shape and tokenizer come from the checkpoint; the prompt runs in one blocked forward that
// fills the KV cache, then each new token costs one pass over the cache (train/generate.h).
//
//   alibi generate --checkpoint runs/tiny/step_00001000.h5 --prompt "The scheduler"
//                  --max-new-tokens 200 --temperature 0.8 --top-p 0.95 --seed 1
//   mpirun -np 2 alibi generate --checkpoint ... --tp 2     # heads (and their cache) split
//
// stdout: the new text only, as it comes; stderr: one line of statistics at the end.
#include <mpi.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "data/tokenizer.h"
#include "launch/commands.h"
#include "parallel/checkpoint.h"
#include "parallel/grid.h"
#include "parallel/nccl_comm.h"
#include "parallel/watchdog.h"
#include "runtime/device.h"
#include "runtime/config.h"
#include "train/generate.h"
#include "train/model_checkpoint.h"
#include "train/options.h"

namespace alibi {

namespace {

namespace fs = std::filesystem;

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      ALIBI_CHECK_AS(ConfigError, used == item.size() && v >= INT32_MIN && v <= INT32_MAX,
                     "--prompt-ids: '" << item << "' is not a token id; give comma-separated ids, e.g. 1,2,3");
      out.push_back(static_cast<int32_t>(v));
    } catch (const std::logic_error&) {
      throw ConfigError("--prompt-ids: '" + item + "' is not a token id; give comma-separated ids, e.g. 1,2,3");
    }
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  ALIBI_CHECK_AS(IoError, f.good(), "--prompt-file " << path << ": cannot read it; check the path");
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  // ---- options ------------------------------------------------------------------------
  std::string checkpoint, prompt_text, prompt_file, prompt_ids;
  bool print_ids = false;
  GenerateOptions gen;
  Device device = Device::cpu;
  MatmulPrecision matmul_precision = MatmulPrecision::automatic;
  int tp = 1;
  double timeout_minutes = 10;
  po::options_description desc("generation");
  desc.add_options()
      ("checkpoint", po::value<std::string>(&checkpoint)->required(), "checkpoint to generate from (its model and tokenizer)")
      ("prompt", po::value<std::string>(&prompt_text), "prompt text")
      ("prompt-file", po::value<std::string>(&prompt_file), "file whose bytes are the prompt")
      ("prompt-ids", po::value<std::string>(&prompt_ids), "prompt as comma-separated token ids, e.g. 1,2,3")
      ("max-new-tokens", po::value<int>(&gen.max_new_tokens)->default_value(gen.max_new_tokens), "tokens to generate")
      ("temperature", po::value<double>(&gen.sampling.temperature)->default_value(1.0, "1"),
       "softmax temperature; 0 = greedy (argmax)")
      ("top-k", po::value<int>(&gen.sampling.top_k)->default_value(0), "sample among the k most likely tokens (0: all)")
      ("top-p", po::value<double>(&gen.sampling.top_p)->default_value(1.0, "1"),
       "then among the fewest most likely tokens holding this much probability, in (0, 1]")
      ("seed", po::value<uint64_t>(&gen.sampling.seed)->default_value(0), "seed of the draws (same seed, same text)")
      ("stop-at-eos", po::bool_switch(&gen.stop_at_eos), "stop when the model ends the document (EOS)")
      ("print-ids", po::bool_switch(&print_ids), "print the new token ids (one line, space-separated), not their text")
      ("max-context", po::value<int64_t>(&gen.max_context)->default_value(0),
       "attend to at most this many positions (a sliding window; the prompt keeps its last ones); 0: all")
      ("device", po::value<Device>(&device)->default_value(device), "cpu | cuda (one GPU per rank)")
      ("matmul-precision", po::value<MatmulPrecision>(&matmul_precision)->default_value(matmul_precision),
       "auto (bf16 on cuda, fp32 on cpu) | bf16 (bf16 operands, fp32 accumulation; cpu: oneDNN, AVX512-BF16) | tf32 (cuda) | fp32")
      ("tp", po::value<int>(&tp)->default_value(tp), "tensor-parallel ranks (start as many with mpirun)");
  add_timeout_option(desc, timeout_minutes, "a collective, a checkpoint read");
  po::variables_map vm;
  if (!parse_command_line("generate", argc, argv, desc, vm)) return 0;
  check_timeout_minutes(timeout_minutes);
  const int n_prompts = static_cast<int>(vm.count("prompt") + vm.count("prompt-file") + vm.count("prompt-ids"));
  ALIBI_CHECK_AS(ConfigError, n_prompts == 1,
                 (n_prompts == 0 ? "no prompt" : "more than one prompt")
                     << ": give exactly one of --prompt TEXT, --prompt-file FILE or --prompt-ids 1,2,3");
  gen.sampling.validate();
  ALIBI_CHECK_AS(ConfigError, gen.max_new_tokens >= 0, "--max-new-tokens " << gen.max_new_tokens << " must be >= 0");
  ALIBI_CHECK_AS(IoError, fs::is_regular_file(checkpoint),
                 "--checkpoint " << checkpoint << ": no such file; give a step_*.h5 checkpoint");
  const bool on_gpu = device == Device::cuda;
  if (on_gpu) select_cuda_device(local_rank(MPI_COMM_WORLD));
  int world = 1, rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  ALIBI_CHECK_AS(ConfigError, tp >= 1 && world == tp,
                 "alibi generate runs one copy of the model split over --tp ranks: " << world << " ranks for --tp " << tp
                                                                                    << "; give --tp " << world
                                                                                    << " or start " << tp
                                                                                    << (tp == 1 ? " rank" : " ranks"));

  // ---- model and tokenizer from the checkpoint ----------------------------------------
  const ModelConfig cfg = model_config_from(read_checkpoint_options(checkpoint));
  const Tokenizer tokenizer = read_checkpoint_tokenizer(checkpoint);
  ALIBI_CHECK_AS(DataError, tokenizer.vocab_size == cfg.vocab,
                 checkpoint << ": its tokenizer has " << tokenizer.vocab_size << " tokens, its model " << cfg.vocab
                            << "; the checkpoint is inconsistent");
  const std::vector<int32_t> prompt = vm.count("prompt-ids") ? parse_ids(prompt_ids)
                                      : vm.count("prompt-file") ? tokenizer.encode(read_file(prompt_file))
                                                                : tokenizer.encode(prompt_text);
  // Under mpirun the TP ranks meet in every layer: a stopped one must not hang the rest.
  // The line names the new token being made ("at token 1": the prompt's forward).
  const auto watchdog = std::make_shared<Watchdog>(MPI_COMM_WORLD, 60 * timeout_minutes, kGenerateJob);
  watchdog->set_progress(1);
  const ProcessGrid grid =
      ProcessGrid::create(MPI_COMM_WORLD, {tp, 1, 1}, cfg, on_gpu ? CommBackend::nccl : CommBackend::mpi, watchdog);
  Model<float> model(cfg, 0, grid);
  model.to_device(device, matmul_precision);  // checkpoints are fp32 host data: any device
  {
    Watchdog::Deadline deadline(*watchdog, "checkpoint read", kStartSkewS);  // parallel HDF5: not polled
    load_model(checkpoint, model);
  }

  // ---- generate, streaming the text -------------------------------------------------------
  const bool root = rank == 0;
  bool first = true;
  int64_t made = 0;
  const GenerateResult r = generate(model, prompt, gen, tokenizer.eos_id, [&](int32_t id) {
    watchdog->set_progress(++made + 1);
    if (!root) return;
    const std::string text = print_ids ? (first ? "" : " ") + std::to_string(id) : tokenizer.decode(&id, 1);
    first = false;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
  if (!root) return 0;
  // On a terminal the statistics start on a line of their own; a pipe (or a rank under
  // mpirun, see stdout_is_interactive) gets the text exactly. Ids always end their line.
  if (print_ids || stdout_is_interactive()) std::printf("\n");
  if (r.prompt_dropped > 0) {
    std::fprintf(stderr, "note: the prompt's first %lld tokens were dropped to fit --max-context %lld\n",
                 static_cast<long long>(r.prompt_dropped), static_cast<long long>(gen.max_context));
  }
  std::fprintf(stderr,
               "prompt: %lld tokens in %.3f s (%.1f tokens/s); generation: %zu tokens, %lld decode steps in %.3f s "
               "(%.1f tokens/s); KV cache %.1f MiB; peak RSS %.1f MiB\n",
               static_cast<long long>(r.prompt_tokens), r.prompt_seconds,
               r.prompt_seconds > 0 ? r.prompt_tokens / r.prompt_seconds : 0.0, r.tokens.size(),
               static_cast<long long>(r.decode_steps), r.decode_seconds,
               r.decode_seconds > 0 ? r.decode_steps / r.decode_seconds : 0.0, r.cache_bytes / 1048576.0,
               peak_rss_mib());
  return 0;
}

}  // namespace alibi
