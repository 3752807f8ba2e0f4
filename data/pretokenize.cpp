// GPT-2's pre-splitting regex, by hand (see pretokenize.h for the pattern).
#include "data/pretokenize.h"

#include "data/unicode.h"

namespace alibi {

size_t gpt2_piece_end(std::string_view text, size_t pos) {
  const char* s = text.data();
  const char* end = s + text.size();
  const size_t n = text.size();

  // 's 't 're 've 'm 'll 'd (case-sensitive, as in GPT-2).
  if (s[pos] == '\'' && pos + 1 < n) {
    const char a = s[pos + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
    if (pos + 2 < n) {
      const char b = s[pos + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
    }
  }

  CodePoint c = decode_utf8(s + pos, end);
  size_t run = pos;  // where the run of one class starts (after an optional space)
  if (s[pos] == ' ' && pos + 1 < n) {
    const CodePoint next = decode_utf8(s + pos + 1, end);
    if (next.cls != CharClass::space) c = next, run = pos + 1;
  }

  //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
  if (c.cls != CharClass::space) {
    size_t q = run + static_cast<size_t>(c.length);
    while (q < n) {
      const CodePoint d = decode_utf8(s + q, end);
      if (d.cls != c.cls) break;
      q += static_cast<size_t>(d.length);
    }
    return q;
  }

  // \s+(?!\S) | \s+
  size_t q = pos + static_cast<size_t>(c.length), last = pos;  // last: start of the final space
  while (q < n) {
    const CodePoint d = decode_utf8(s + q, end);
    if (d.cls != CharClass::space) break;
    last = q;
    q += static_cast<size_t>(d.length);
  }
  if (q == n) return n;        // whitespace to the end of the text
  if (last > pos) return last;  // a non-space follows: leave it the last whitespace
  return q;                     // one whitespace character before a non-space
}

std::vector<std::string_view> gpt2_split(std::string_view text) {
  std::vector<std::string_view> pieces;
  for (size_t at = 0; at < text.size();) {
    const size_t end = gpt2_piece_end(text, at);
    pieces.push_back(text.substr(at, end - at));
    at = end;
  }
  return pieces;
}

}  // namespace alibi
