// Checkpoints: OUT_DIR/step_00001234.h5, layout-free and atomic (DESIGN.md "Checkpoints").
//
//   /config                  every option of the run as string attributes (model shape,
//                            training options, data path): resuming needs only the path
//   /tokenizer               copied from the corpus (written by the caller's callback)
//   /model/<dotted.name>     full fp32 tensors, weights (out, in), fused QKV head-major
//                            (NH, 3, HS, C), the vocabulary unpadded (V rows)
//   /optimizer/<name>/m, /v  AdamW moments, same shapes
//   root attributes          step, data_position, seed, format_version
//
// Collective over a communicator (parallel HDF5, MPI-IO): every rank creates every
// dataset, and each rank writes (or reads) only its own hyperslab of each tensor, so a
// checkpoint saved under one tp x pp x dp layout resumes under any other. Written to
// "<path>.tmp" and renamed into place once every rank has written, so a crash mid-write
// never damages a checkpoint that was already there; `--resume auto` takes the newest.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "parallel/comm.h"
#include "runtime/h5.h"
#include "runtime/tensor.h"

namespace alibi {

// This rank's block of one stored tensor.
struct CheckpointTensor {
  std::string name;                   // "blocks.0.attn.qkv.weight"
  Tensor* value;                      // the block, contiguous
  Shape stored_shape;                 // the whole tensor as stored, e.g. (NH, 3, HS, C)
  std::vector<int64_t> offset;        // where the block starts in stored_shape
  Shape count;                        // the block's extent in stored dimensions
  bool write = true;                  // this rank writes the block (one writer per element)
  // Instead of `value` (write_checkpoint only): builds the block just before its dataset is
  // written and frees it after, so one such block exists at a time. Called on every rank
  // that lists the tensor, writer or not, in the file's dataset order (the same on every
  // rank), so it may be collective: ZeRO-1 gathers a moment over DP here.
  std::function<Tensor()> make = {};
};

struct CheckpointState {
  int64_t step = 0;            // optimizer steps done
  uint64_t data_position = 0;  // global sample counter of the training sampler
  uint64_t seed = 0;
};

using OptionMap = std::map<std::string, std::string>;

std::string checkpoint_path(const std::string& out_dir, int64_t step);

// The newest complete checkpoint in out_dir (highest step among step_*.h5), or nothing.
std::optional<std::string> latest_checkpoint(const std::string& out_dir);

// Deletes all but the newest `keep` checkpoints (keep <= 0 keeps all).
void prune_checkpoints(const std::string& out_dir, int keep);

// Writes the checkpoint collectively over `comm` (every rank calls it with the same
// options, state and tensor names in the same order; `model`, `adam_m`, `adam_v` hold
// the calling rank's blocks, and ranks may hold different tensors: the union is
// created). `extra` may add groups (the tokenizer) collectively before the file is
// closed and renamed.
void write_checkpoint(const std::string& path, const Communicator& comm, const OptionMap& options,
                      const CheckpointState& state, const std::vector<CheckpointTensor>& model,
                      const std::vector<CheckpointTensor>& adam_m, const std::vector<CheckpointTensor>& adam_v,
                      const std::function<void(h5::File&)>& extra = {});

// Reads /config and the root attributes.
OptionMap read_checkpoint_options(const std::string& path);
CheckpointState read_checkpoint_state(const std::string& path);

// Fills each block from /model/<name> (or the optimizer moments). A missing tensor or a
// stored shape that differs from stored_shape is a DataError naming the tensor, both
// shapes and the fix.
void read_checkpoint_tensors(const std::string& path, const std::vector<CheckpointTensor>& model,
                             const std::vector<CheckpointTensor>& adam_m,
                             const std::vector<CheckpointTensor>& adam_v);

}  // namespace alibi
