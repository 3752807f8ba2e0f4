// Options of `alibi train`, validation, and their checkpoint round trip.
#include "train/options.h"

#include <sstream>

#include "runtime/error.h"

namespace alibi {

void add_train_options(po::options_description& desc, TrainOptions& t) {
  desc.add_options()
      ("data", po::value<std::string>(&t.data), "HDF5 corpus made by alibi preprocess (required)")
      ("out-dir", po::value<std::string>(&t.out_dir)->default_value(t.out_dir), "checkpoints and metrics.jsonl")
      ("micro-batch", po::value<int>(&t.micro_batch)->default_value(t.micro_batch), "windows per forward pass")
      ("grad-accum", po::value<int>(&t.grad_accum)->default_value(t.grad_accum), "micro-batches per optimizer step")
      ("steps", po::value<int64_t>(&t.steps)->default_value(t.steps), "optimizer steps of the whole run")
      ("lr", po::value<double>(&t.lr)->default_value(t.lr), "peak learning rate")
      ("warmup", po::value<int64_t>(&t.warmup)->default_value(t.warmup), "linear warm-up steps")
      ("min-lr", po::value<double>(&t.min_lr)->default_value(t.min_lr), "learning rate at the last step (cosine decay)")
      ("weight-decay", po::value<double>(&t.weight_decay)->default_value(t.weight_decay), "AdamW decoupled weight decay (not on LayerNorm or biases)")
      ("beta1", po::value<double>(&t.beta1)->default_value(t.beta1), "AdamW beta1")
      ("beta2", po::value<double>(&t.beta2)->default_value(t.beta2), "AdamW beta2")
      ("clip", po::value<double>(&t.clip)->default_value(t.clip), "clip the global gradient norm to this (0: off)")
      ("seed", po::value<uint64_t>(&t.seed)->default_value(t.seed), "seed of initialisation and data order")
      ("tp", po::value<int>(&t.tp)->default_value(t.tp), "tensor-parallel ranks (divides --heads and --ffn)")
      ("pp", po::value<int>(&t.pp)->default_value(t.pp), "pipeline stages (at most --layers); dp = ranks / (tp*pp)")
      ("zero", po::value<int>(&t.zero)->default_value(t.zero),
       "1: shard AdamW's moments over the data-parallel ranks (ZeRO-1: reduce-scatter grads, all-gather params); 0: replicate")
      ("pp-split", po::value<std::string>(&t.pp_split)->default_value(t.pp_split),
       "blocks per pipeline stage, e.g. 3,3,2; auto: balanced by FLOPs, the embedding on the first stage, the LM "
       "head and loss on the last")
      ("recompute", po::value<Recompute>(&t.recompute)->default_value(t.recompute),
       "activations recomputed in backward: none | selective (the attention kernel) | full (each block from its input)")
      ("device", po::value<Device>(&t.device)->default_value(t.device), "cpu | cuda")
      ("matmul-precision", po::value<MatmulPrecision>(&t.matmul_precision)->default_value(t.matmul_precision),
       "auto (bf16 on cuda, fp32 on cpu) | bf16 (bf16 operands, fp32 accumulation; cpu: oneDNN, AVX512-BF16) | tf32 (cuda) | fp32")
      ("resume", po::value<std::string>(&t.resume), "checkpoint PATH, or auto: the newest in --out-dir (fresh start if none)")
      ("save-every", po::value<int64_t>(&t.save_every)->default_value(t.save_every), "steps between checkpoints (0: only at the end)")
      ("keep", po::value<int>(&t.keep)->default_value(t.keep), "checkpoints to keep (0: all)")
      ("log-every", po::value<int64_t>(&t.log_every)->default_value(t.log_every), "steps between log lines (without a terminal)")
      ("eval-every", po::value<int64_t>(&t.eval_every)->default_value(t.eval_every), "steps between validation losses (0: only at the end)")
      ("eval-batches", po::value<int>(&t.eval_batches)->default_value(t.eval_batches), "validation batches per measurement");
  add_timeout_option(desc, t.timeout_minutes, "a collective, a pipeline message, a checkpoint write");
}

void add_timeout_option(po::options_description& desc, double& minutes, const char* waits) {
  desc.add_options()
      ("timeout-minutes", po::value<double>(&minutes)->default_value(minutes),
       (std::string("end the job (status 75) when a rank waits on the others longer than this: ") + waits +
        " (0: off; fractions allowed, 0.05 = 3 s)").c_str());
}

void check_timeout_minutes(double minutes) {
  ALIBI_CHECK_AS(ConfigError, minutes >= 0 && minutes < 1e6,
                 "--timeout-minutes must be in [0, 1e6) (0 turns the watchdog off; got " << minutes << ")");
}

void TrainOptions::validate() const {
  ALIBI_CHECK_AS(ConfigError, !data.empty(), "--data is required: the HDF5 corpus made by 'alibi preprocess'");
  ALIBI_CHECK_AS(ConfigError, micro_batch >= 1, "--micro-batch must be at least 1 (got " << micro_batch << ")");
  ALIBI_CHECK_AS(ConfigError, grad_accum >= 1, "--grad-accum must be at least 1 (got " << grad_accum << ")");
  ALIBI_CHECK_AS(ConfigError, steps >= 1, "--steps must be at least 1 (got " << steps << ")");
  ALIBI_CHECK_AS(ConfigError, lr > 0, "--lr must be positive (got " << lr << ")");
  ALIBI_CHECK_AS(ConfigError, min_lr >= 0 && min_lr <= lr,
                 "--min-lr must be in [0, --lr] (got " << min_lr << " with --lr " << lr << ")");
  ALIBI_CHECK_AS(ConfigError, warmup >= 0, "--warmup must be >= 0 (got " << warmup << ")");
  ALIBI_CHECK_AS(ConfigError, weight_decay >= 0, "--weight-decay must be >= 0 (got " << weight_decay << ")");
  ALIBI_CHECK_AS(ConfigError, beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1,
                 "--beta1 and --beta2 must be in [0, 1) (got " << beta1 << ", " << beta2 << ")");
  ALIBI_CHECK_AS(ConfigError, clip >= 0, "--clip must be >= 0 (0 turns clipping off; got " << clip << ")");
  ALIBI_CHECK_AS(ConfigError, zero == 0 || zero == 1,
                 "--zero must be 0 (replicated optimizer state) or 1 (ZeRO-1: sharded over DP); got " << zero);
  ALIBI_CHECK_AS(ConfigError, save_every >= 0, "--save-every must be >= 0 (got " << save_every << ")");
  ALIBI_CHECK_AS(ConfigError, keep >= 0, "--keep must be >= 0 (got " << keep << ")");
  ALIBI_CHECK_AS(ConfigError, log_every >= 1, "--log-every must be at least 1 (got " << log_every << ")");
  ALIBI_CHECK_AS(ConfigError, eval_every >= 0, "--eval-every must be >= 0 (got " << eval_every << ")");
  ALIBI_CHECK_AS(ConfigError, eval_batches >= 1, "--eval-batches must be at least 1 (got " << eval_batches << ")");
  check_timeout_minutes(timeout_minutes);
  parse_pp_split(pp_split);
}

std::vector<int> parse_pp_split(const std::string& text) {
  if (text == "auto") return {};
  std::vector<int> blocks;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    size_t used = 0;
    int n = -1;
    try {
      n = std::stoi(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    ALIBI_CHECK_AS(ConfigError, used > 0 && used == part.size() && n >= 0,
                   "--pp-split must be auto or the blocks of each pipeline stage, e.g. 3,3,2 (got '" << text << "')");
    blocks.push_back(n);
  }
  ALIBI_CHECK_AS(ConfigError, !blocks.empty() && text.back() != ',',
                 "--pp-split must be auto or the blocks of each pipeline stage, e.g. 3,3,2 (got '" << text << "')");
  return blocks;
}

OptionMap to_option_map(const ModelConfig& m, const TrainOptions& t) {
  auto str = [](auto v) {
    std::ostringstream os;
    os.precision(17);  // doubles round-trip exactly
    os << v;
    return os.str();
  };
  return {
      {"vocab", str(m.vocab)}, {"layers", str(m.layers)}, {"channels", str(m.channels)},
      {"heads", str(m.heads)}, {"ffn", str(m.ffn)}, {"seq-len", str(m.seq_len)},
      {"position", enum_name(m.position)}, {"tie-embeddings", m.tie_embeddings ? "1" : "0"},
      {"max-positions", str(m.max_positions)},
      {"data", t.data}, {"out-dir", t.out_dir}, {"micro-batch", str(t.micro_batch)},
      {"grad-accum", str(t.grad_accum)}, {"steps", str(t.steps)}, {"lr", str(t.lr)},
      {"warmup", str(t.warmup)}, {"min-lr", str(t.min_lr)}, {"weight-decay", str(t.weight_decay)},
      {"beta1", str(t.beta1)}, {"beta2", str(t.beta2)}, {"clip", str(t.clip)}, {"seed", str(t.seed)},
      {"device", enum_name(t.device)}, {"matmul-precision", enum_name(t.matmul_precision)}, {"tp", str(t.tp)}, {"pp", str(t.pp)},
      {"zero", str(t.zero)}, {"pp-split", t.pp_split}, {"recompute", enum_name(t.recompute)}, {"save-every", str(t.save_every)}, {"keep", str(t.keep)},
      {"log-every", str(t.log_every)}, {"eval-every", str(t.eval_every)},
      {"eval-batches", str(t.eval_batches)}, {"options-version", "2"},
  };
}

OptionMap upgrade_saved_options(OptionMap options) {
  const auto device = options.find("device");
  const bool cuda = device != options.end() && device->second == "cuda";
  if (!options.count("options-version") && !cuda) options["matmul-precision"] = "auto";
  return options;
}

std::string to_ini(const OptionMap& options) {
  std::string ini;
  for (const auto& [key, value] : options) ini += key + "=" + value + "\n";
  return ini;
}

ModelConfig model_config_from(const OptionMap& options) {
  ModelConfig cfg;
  po::options_description desc;
  add_model_options(desc, cfg);
  std::istringstream in(to_ini(options));
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/true), vm);
    po::notify(vm);
  } catch (po::error& e) {
    throw DataError("checkpoint /config: " + option_error_text(e) + "; the checkpoint is damaged");
  }
  return cfg;
}

}  // namespace alibi
