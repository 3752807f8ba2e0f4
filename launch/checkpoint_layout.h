// How one rank's parameters (and AdamW moments) map onto the stored, layout-free
// checkpoint tensors: the fused QKV is stored head-major (NH, 3, HS, C) so a TP shard of
// heads is a contiguous hyperslab; every element has exactly one writer.
#pragma once

#include <vector>

#include "layers/parameters.h"
#include "parallel/checkpoint.h"
#include "parallel/grid.h"
#include "runtime/config.h"

namespace alibi {

// Blocks of `params` (or, with moments, of the tensors at the same positions).
std::vector<CheckpointTensor> checkpoint_blocks(const ParameterList& params, std::vector<Tensor>* moments,
                                                const ModelConfig& cfg, const GridCoord& coord);

// The model shape stored in a checkpoint's /config.
ModelConfig model_config_from(const OptionMap& options);

}  // namespace alibi
