// A model's parameters (and AdamW moments) <-> a checkpoint file (parallel/checkpoint.h
// holds the file format). Each parameter is stored as its layer describes it
// (ParamRef::stored()), and each element has exactly one writer (ParamRef::counted_here),
// so a checkpoint written under one tp x pp x dp layout reads back under any other.
//
//   write_checkpoint(path, grid.world(), options, state, stored_blocks(params, nullptr, grid.coord()), ...);
//   load_model(path, model, corpus);   // evaluation: the weights, after the tokenizer check
//   load_weights(path, model);         // generation: the weights; the tokenizer is the checkpoint's
#pragma once

#include <string>
#include <vector>

#include "data/corpus.h"
#include "layers/model.h"
#include "parallel/checkpoint.h"

namespace alibi {

// This rank's blocks of `params` as stored; with `moments`, the tensors at the same
// positions (AdamW's m or v) in the parameters' places.
std::vector<CheckpointTensor> stored_blocks(const ParameterList& params, std::vector<Tensor>* moments,
                                            const GridCoord& coord);

// The tokenizer a checkpoint was trained with (its /tokenizer, copied from the corpus).
Tokenizer read_checkpoint_tokenizer(const std::string& path);

// DataError naming both tokenizers and the fix when the checkpoint's /tokenizer differs
// from the corpus's (`what`: "resume with" / "evaluate on").
void check_checkpoint_tokenizer(const std::string& path, const Corpus& corpus, const std::string& fix);

// The model's weights from the checkpoint at `path`, after checking that it was trained on
// `corpus`'s tokenizer. Collective over the model's grid (each rank reads its blocks).
void load_model(const std::string& path, Model<float>& model, const Corpus& corpus);
// The weights alone (collective over the model's grid).
void load_weights(const std::string& path, Model<float>& model);

}  // namespace alibi
