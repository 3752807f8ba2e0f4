// Parameter blocks <-> stored checkpoint tensors.
#include "launch/checkpoint_layout.h"

#include <sstream>

#include "launch/train_options.h"

namespace alibi {

std::vector<CheckpointTensor> checkpoint_blocks(const ParameterList& params, std::vector<Tensor>* moments,
                                                const ModelConfig& cfg, const GridCoord& c) {
  std::vector<CheckpointTensor> out;
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamRef& p = params[i];
    Tensor* value = moments ? &(*moments)[i] : p.value;
    CheckpointTensor t{p.name, value, p.sharding.global_shape, p.sharding.offset, value->shape(), true};
    if (p.name.find(".attn.qkv.") != std::string::npos) {
      const int64_t HS = cfg.head_size(), head0 = p.sharding.offset[0] / (3 * HS), heads = value->dim(0) / (3 * HS);
      const bool weight = value->ndim() == 2;
      t.stored_shape = weight ? Shape{cfg.heads, 3, HS, cfg.channels} : Shape{cfg.heads, 3, HS};
      t.offset = weight ? std::vector<int64_t>{head0, 0, 0, 0} : std::vector<int64_t>{head0, 0, 0};
      t.count = weight ? Shape{heads, 3, HS, cfg.channels} : Shape{heads, 3, HS};
    }
    // One writer per element: DP replicas hold the same values, TP ranks the same
    // replicated tensors, and the tied copy equals the first stage's embedding.
    t.write = c.dp_rank == 0 && !p.tied_copy && (!p.sharding.replicated || c.tp_rank == 0);
    out.push_back(t);
  }
  return out;
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
  } catch (const po::error& e) {
    throw DataError(std::string("checkpoint /config: ") + e.what() + "; the checkpoint is damaged");
  }
  return cfg;
}

}  // namespace alibi
