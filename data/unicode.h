// Code points as GPT-2's pre-splitter sees them: UTF-8 decoding that never fails and the
// three character classes its regex uses (\p{L} letters, \p{N} numbers, \s whitespace).
// Any byte string decodes: a byte that does not start a valid UTF-8 sequence (stray
// continuation bytes, overlong forms, surrogates, values past U+10FFFF, a sequence cut
// short) is one code point of its own, of class `other`. So pre-splitting and byte-level
// BPE accept every input and decoding gives back the exact bytes.
//
//   CodePoint c = decode_utf8(p, end);     // c.value, c.length (1..4 bytes), c.cls
//   if (c.cls == CharClass::letter) ...
//
// The class tables (data/unicode_ranges.inc) are generated from Node's \p{L}, \p{N} and
// \s under the /u flag (Unicode 17), the regex the gpt-3-encoder oracle runs; note that
// JavaScript's \s, unlike Python's, excludes U+001C..U+001F and U+0085 and includes U+FEFF.
#pragma once

#include <cstdint>
#include <string>

namespace alibi {

enum class CharClass : uint8_t { letter, number, space, other };

struct CodePoint {
  char32_t value;  // the code point; for an invalid byte, the byte's value
  int length;      // bytes consumed, 1..4
  CharClass cls;
};

// The class of a valid code point (binary search in the generated range tables).
CharClass char_class(char32_t cp);

namespace detail {
// ASCII classes, so that the common case needs no table search.
extern const CharClass kAsciiClass[128];
CodePoint decode_utf8_multibyte(const unsigned char* p, const unsigned char* end);
}  // namespace detail

// Decodes the code point at p (p < end).
inline CodePoint decode_utf8(const char* p, const char* end) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  if (*u < 0x80) return CodePoint{*u, 1, detail::kAsciiClass[*u]};
  return detail::decode_utf8_multibyte(u, reinterpret_cast<const unsigned char*>(end));
}

// Appends the UTF-8 encoding of a valid code point.
void append_utf8(char32_t cp, std::string& out);

}  // namespace alibi
