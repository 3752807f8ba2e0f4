// GPT-2's pre-splitting: text -> pieces ("words") that BPE then encodes one by one, so no
// token ever spans two pieces. The regex of GPT-2's encoder.py (and of gpt-3-encoder),
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// written by hand over code points (data/unicode.h): a contraction; else an optional
// space and a run of letters, of numbers or of other characters; else a run of
// whitespace that leaves its last character to the next piece when a non-space follows
// (so " word" keeps its space). Pieces are byte ranges of the input and concatenate to
// it exactly; invalid UTF-8 bytes are `other` characters.
//
//   for (size_t at = 0; at < text.size();) {
//     const size_t end = gpt2_piece_end(text, at);   // "Hello world" -> "Hello", " world"
//     use(text.substr(at, end - at));
//     at = end;
//   }
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace alibi {

// The end of the piece that starts at `pos` (pos < text.size()); always > pos.
size_t gpt2_piece_end(std::string_view text, size_t pos);

// All pieces of `text`, in order (tests and tools; hot loops use gpt2_piece_end).
std::vector<std::string_view> gpt2_split(std::string_view text);

}  // namespace alibi
