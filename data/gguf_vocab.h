// Our tokenizers as llama.cpp's `gpt2` tokenizer model (byte-level BPE), for GGUF export
// (train/export_gguf.h). The GGUF keys: tokenizer.ggml.model "gpt2", tokenizer.ggml.pre
// "gpt-2" (GPT-2's pre-split regex, which data/pretokenize.h follows), tokenizer.ggml.tokens
// (each id's bytes spelled with GPT-2's bytes_to_unicode, data/gpt2_files.h), .token_type
// (1 normal, 3 control for EOS), .merges ("left right" in rank order) and the EOS id.
//
//   bytes  256 byte tokens and EOS, no merges: llama.cpp's BPE then leaves every byte a
//          token of its own, which is what the bytes tokenizer does
//   bpe    ids, vocabulary and merges as trained; EOS "<|endoftext|>" a control token
//   gpt2   the same: GPT-2's own vocabulary, ids unchanged
//
//   GgufVocab v = gguf_vocab(tokenizer);    // v.tokens[id], v.merges[rank]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace alibi {

// llama.cpp's llama_token_type values that we use.
inline constexpr int32_t kGgufTokenNormal = 1;
inline constexpr int32_t kGgufTokenControl = 3;

struct GgufVocab {
  std::vector<std::string> tokens;  // (V) UTF-8; GPT-2's byte spelling, EOS as its name
  std::vector<int32_t> token_types; // (V)
  std::vector<std::string> merges;  // in rank order, "left right" in the tokens' spelling
  int64_t eos_id = 0;
};

// DataError naming the tokenizer when it cannot be expressed this way (a vocabulary
// whose spelled tokens would collide, so llama.cpp could not look ids up by text).
GgufVocab gguf_vocab(const Tokenizer& tokenizer);

}  // namespace alibi
