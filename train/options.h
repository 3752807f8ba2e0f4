// The options of `alibi train` (DESIGN.md "One program, subcommands, flat options") and
// their round trip through a checkpoint's /config, so `--resume PATH` alone restores a run.
#pragma once

#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "layers/recompute.h"
#include "parallel/checkpoint.h"
#include "runtime/config.h"

namespace alibi {

struct TrainOptions {
  std::string data;                   // HDF5 corpus
  std::string out_dir = "runs/alibi"; // checkpoints and metrics.jsonl
  int micro_batch = 8;                // windows per forward
  int grad_accum = 1;                 // forwards per optimizer step
  int64_t steps = 1000;               // optimizer steps in the whole run
  double lr = 1e-3;                   // peak learning rate
  int64_t warmup = 100;               // linear warm-up steps
  double min_lr = 1e-4;               // cosine floor at the last step
  double weight_decay = 0.1;          // AdamW, decoupled; matrices only
  double beta1 = 0.9, beta2 = 0.95;   // AdamW
  double clip = 1.0;                  // global grad-norm clip (0: off)
  uint64_t seed = 1234;               // initialisation and data order
  int tp = 1;                         // tensor-parallel ranks (heads, F and V split)
  int pp = 1;                         // pipeline stages (contiguous blocks); dp = world / (tp*pp)
  int zero = 0;                       // 1: AdamW state sharded over DP (ZeRO-1); 0: replicated
  std::string pp_split = "auto";      // blocks per stage, "3,3,2", or auto: balanced by the FLOP model
  Recompute recompute = Recompute::none;  // what blocks keep for backward: none | selective | full
  Device device = Device::cpu;        // cpu | cuda
  MatmulPrecision matmul_precision = MatmulPrecision::automatic;  // auto | bf16 | tf32 | fp32 (kernels/precision.h)
  std::string resume;                 // PATH | auto | "" (fresh)
  int64_t save_every = 500;           // steps between checkpoints (0: only at the end)
  int keep = 3;                       // checkpoints kept (0: all)
  int64_t log_every = 10;             // steps between log lines when stdout is not a terminal
  int64_t eval_every = 200;           // steps between validation losses (0: only at the end)
  int eval_batches = 16;              // validation batches of micro-batch windows each
  double timeout_minutes = 10;        // watchdog: longest wait on other ranks (0: off); not saved

  void validate() const;  // ConfigError naming the option and the fix
};

void add_train_options(po::options_description& desc, TrainOptions& t);

// --timeout-minutes, the collective watchdog's limit (parallel/watchdog.h), the same option
// for train, eval and generate; `waits` lists in --help what it covers. Default: minutes.
void add_timeout_option(po::options_description& desc, double& minutes, const char* waits);
// ConfigError naming --timeout-minutes unless it is in [0, 1e6).
void check_timeout_minutes(double minutes);

// --pp-split as block counts per stage; empty for auto. ConfigError when it is neither.
std::vector<int> parse_pp_split(const std::string& text);

// Every option of a run as strings, for the checkpoint's /config.
OptionMap to_option_map(const ModelConfig& model, const TrainOptions& train);
// A checkpoint's options as this build reads them. Before options-version 2 the CPU ignored
// --matmul-precision, and CPU runs recorded CUDA's default (bf16) while computing in fp32:
// they resume as auto (fp32 on the CPU), computing as they did.
OptionMap upgrade_saved_options(OptionMap options);
// INI text ("name=value" lines) of a checkpoint's options, fed to the parser below the
// command line so that anything given explicitly wins.
std::string to_ini(const OptionMap& options);

// The model shape stored in a checkpoint's /config (DataError when it does not parse).
ModelConfig model_config_from(const OptionMap& options);

}  // namespace alibi
