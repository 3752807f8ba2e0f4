// A scaling study: one INI file that names a base training config, the axes to vary,
// named model sizes, a token budget and the evaluation; expanded into runs, every run's
// options checked by the same parser and validation `alibi train` and `alibi plan` use,
// before anything is started (`alibi study plan|run|status|report`).
//
//   [study]                      # the study's own settings
//   out = runs/family            # each run trains into OUT/<run name>/
//   tokens = 2000000             # per run (or tokens-per-parameter = 20): sets --steps
//   eval-lengths = 128,512,2048  # the run's own --seq-len is always added
//   eval-modes = nonoverlapping, sliding
//   [base]                       # alibi train options, flat names (config = FILE.ini too)
//   data = data-cache/linuxdoc-bpe8192.h5
//   seq-len = 128
//   [axes]                       # every combination of these values, for every size
//   position = alibi, sinusoidal
//   [size.small]                 # options of one model size, and its layout:
//   layers = 2                   #   tp, pp (train options), ranks, nodes, cpus-per-task
//   channels = 64
//
//   Study study = load_study("launch/studies/cpu_family.ini", {});
//   study.runs[1].name;          // "small_position-sinusoidal"
//   study.runs[1].options;       // {"--data", "...", ..., "--position", "sinusoidal", "--steps", "977", ...}
//
// Errors (ConfigError) name the file and line of a bad entry, or the run whose options
// make an invalid model or layout, or do not fit gpu-memory-gb as `alibi plan` predicts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launch/plan.h"
#include "train/options.h"

namespace alibi {

// One `key = value` line of the study file (or of a --set override).
struct StudyEntry {
  std::string key, value;
  std::string where;  // "FILE:LINE" or "--set"
};

// Settings of the study that a size section may override (its layout and budget).
struct RunSettings {
  int ranks = 1;                    // MPI ranks (GPUs with --device cuda); dp = ranks / (tp * pp)
  int nodes = 1;                    // SLURM nodes (the multi-node scripts when > 1)
  int cpus_per_task = 1;            // SLURM --cpus-per-task (OpenMP threads per rank)
  int64_t tokens = 0;               // training tokens per run (0: see tokens-per-parameter, else --steps)
  double tokens_per_parameter = 0;  // tokens = this x parameters
};

struct StudyRun {
  std::string name;                                           // "<size>_<axis>-<value>..."
  std::string size;                                           // the size section's name ("" without sizes)
  std::vector<std::pair<std::string, std::string>> axis_values;
  std::vector<std::string> options;                           // alibi train options ("--name", "value", ...)
  ModelConfig cfg;
  TrainOptions opt;
  RunSettings settings;
  GridShape shape;
  int64_t tokens = 0;                                         // steps x tokens per step
  std::vector<int> eval_lengths;                              // the study's, plus --seq-len
  // Predicted by `alibi plan`'s models: the memory of the rank needing the most (GPU
  // path with --device cuda, else the CPU path's fp32 tensors) and the training time
  // (0 when no peak is known: cpu-tflops not given).
  int64_t memory_bytes = 0;
  double predicted_s = 0;

  int64_t tokens_per_step() const;
  std::string final_checkpoint() const;                        // OUT/<name>/step_<steps>.h5
  std::string eval_prefix(const std::string& mode) const;     // OUT/<name>/eval_<mode> (.json, .csv)
};

struct Study {
  std::string path;                     // the study file
  std::string name;                     // [study] name (default: the file's stem)
  std::string out;                      // [study] out (default runs/<name>)
  std::vector<std::string> eval_modes;  // nonoverlapping | sliding
  std::string slurm_time;               // [study] time: SLURM --time of each job ("" = the script's)
  double peak_tflops = 0;               // per rank, for MFU in the report (0: unknown)
  bool check_gpu_memory = false;        // gpu-memory-gb given, or --device cuda
  Hardware hw;                          // the machine `alibi plan --gpus` models
  double cpu_tflops = 0, mfu = 0.4;     // the CPU time prediction (0: none)
  std::vector<StudyRun> runs;

  const StudyRun* find(const std::string& run_name) const;
};

// Reads and expands the study file; `overrides` are "SECTION.KEY=VALUE" (the command
// line's --set), applied over the file's entries. Throws ConfigError as described above.
Study load_study(const std::string& path, const std::vector<std::string>& overrides);

// "a, b, c" for join({"a", "b", "c"}, ", ").
std::string join(const std::vector<std::string>& items, const std::string& separator);

// The manifest the report reads: the study's settings and every run's options, model,
// tokens, FLOPs per token and file paths.
std::string study_manifest_json(const Study& study);

}  // namespace alibi
