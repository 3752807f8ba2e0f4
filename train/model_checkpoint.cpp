// Parameter blocks <-> stored checkpoint tensors.
#include "train/model_checkpoint.h"

#include "runtime/h5.h"

namespace alibi {

std::vector<CheckpointTensor> stored_blocks(const ParameterList& params, std::vector<Tensor>* moments,
                                            const GridCoord& c) {
  std::vector<CheckpointTensor> out;
  out.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamRef& p = params[i];
    const StoredBlock s = p.stored();
    out.push_back({p.name, moments ? &(*moments)[i] : p.value, s.shape, s.offset, s.count,
                   p.counted_here(c.tp_rank, c.dp_rank)});
  }
  return out;
}

Tokenizer read_checkpoint_tokenizer(const std::string& path) {
  h5::File ck(path, h5::Access::read_only);
  return Tokenizer::read_from(ck.group("tokenizer"));
}

void check_checkpoint_tokenizer(const std::string& path, const Corpus& corpus, const std::string& fix) {
  const Tokenizer saved = read_checkpoint_tokenizer(path);
  ALIBI_CHECK_AS(DataError, saved == corpus.tokenizer(),
                 path << ": the checkpoint's tokenizer (" << saved.describe() << ") differs from the corpus "
                      << corpus.path() << "'s (" << corpus.tokenizer().describe() << "); " << fix);
}

void load_model(const std::string& path, Model<float>& model, const Corpus& corpus) {
  check_checkpoint_tokenizer(path, corpus, "evaluate on a corpus with the same tokenizer");
  load_weights(path, model);
}

void load_weights(const std::string& path, Model<float>& model) {
  read_checkpoint_tensors(path, stored_blocks(model.parameters(), nullptr, model.grid().coord()), {}, {});
}

}  // namespace alibi
