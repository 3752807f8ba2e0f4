// A model's parameters (and AdamW moments) <-> a checkpoint file (parallel/checkpoint.h
// holds the file format). Each parameter is stored as its layer describes it
// (ParamRef::stored()), and each element has exactly one writer (ParamRef::counted_here),
// so a checkpoint written under one tp x pp x dp layout reads back under any other.
//
//   write_checkpoint(path, grid.world(), options, state, stored_blocks(params, nullptr, grid.coord()), ...);
//   load_model(path, model, corpus);   // evaluation: the weights, after the tokenizer check
//   load_model(path, model);           // the weights alone (the tokenizer from the checkpoint)
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

// The tokenizer a checkpoint was trained with (its /tokenizer, copied from the corpus;
// DataError naming the field when it is damaged).
Tokenizer read_checkpoint_tokenizer(const std::string& path);

// DataError naming both tokenizers and the fix when the checkpoint's /tokenizer differs
// from the corpus's (`what`: "resume with" / "evaluate on").
void check_checkpoint_tokenizer(const std::string& path, const Corpus& corpus, const std::string& fix);

// The model's weights from the checkpoint at `path`, after checking that it was trained on
// `corpus`'s tokenizer. Collective over the model's grid (each rank reads its blocks).
void load_model(const std::string& path, Model<float>& model, const Corpus& corpus);
// The weights alone, for a caller that takes its tokenizer from the checkpoint too
// (read_checkpoint_tokenizer) and so has nothing to check it against.
void load_model(const std::string& path, Model<float>& model);

}  // namespace alibi
