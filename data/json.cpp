// The JSON cursor: objects, strings, integers, and checked skipping of anything else.
#include "data/json.h"

#include <cstdint>

#include "data/unicode.h"

namespace alibi {

namespace {
constexpr int kMaxDepth = 512;
}

void JsonCursor::fail(const std::string& what) const {
  throw JsonError(what + " at byte " + std::to_string(pos_ + 1));
}

void JsonCursor::skip_space() {
  while (pos_ < text_.size() &&
         (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
    ++pos_;
}

void JsonCursor::expect(char c) {
  skip_space();
  if (pos_ >= text_.size()) fail(std::string("expected '") + c + "' but the text ended");
  if (text_[pos_] != c) fail(std::string("expected '") + c + "', found '" + text_[pos_] + "'");
  ++pos_;
}

const char* JsonCursor::peek_kind() {
  skip_space();
  if (pos_ >= text_.size()) return "nothing";
  switch (text_[pos_]) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    case '}': return "the end of an object";
    case ']': return "the end of an array";
    default: return (text_[pos_] == '-' || (text_[pos_] >= '0' && text_[pos_] <= '9')) ? "a number" : "something else";
  }
}

void JsonCursor::begin_object() {
  skip_space();
  if (pos_ >= text_.size() || text_[pos_] != '{') fail(std::string("expected an object, found ") + peek_kind());
  ++pos_;
  first_member_ = true;
}

bool JsonCursor::next_member(std::string& key) {
  skip_space();
  if (pos_ < text_.size() && text_[pos_] == '}') {
    ++pos_;
    first_member_ = false;
    return false;
  }
  if (!first_member_) expect(',');
  first_member_ = false;
  skip_space();
  if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a member name in quotes");
  key.clear();
  read_string_into(&key);
  expect(':');
  return true;
}

unsigned JsonCursor::read_hex4() {
  if (pos_ + 4 > text_.size()) fail("a \\u escape needs four hex digits");
  unsigned v = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = text_[pos_++];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
    else fail("bad hex digit in a \\u escape");
  }
  return v;
}

void JsonCursor::read_string_into(std::string* out) {
  skip_space();
  if (pos_ >= text_.size() || text_[pos_] != '"') fail(std::string("expected a string, found ") + peek_kind());
  ++pos_;
  while (true) {
    // Copy the plain run up to the next quote, backslash or control character at once.
    size_t run = pos_;
    while (run < text_.size() && text_[run] != '"' && text_[run] != '\\' &&
           static_cast<unsigned char>(text_[run]) >= 0x20)
      ++run;
    if (out) out->append(text_.data() + pos_, run - pos_);
    pos_ = run;
    if (pos_ >= text_.size()) fail("unterminated string");
    const char c = text_[pos_++];
    if (c == '"') return;
    if (c != '\\') {
      --pos_;
      fail("raw control character in a string (JSON needs it escaped)");
    }
    if (pos_ >= text_.size()) fail("unterminated escape");
    const char e = text_[pos_++];
    char plain = 0;
    switch (e) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        char32_t cp = read_hex4();
        if (cp >= 0xD800 && cp <= 0xDBFF && pos_ + 6 <= text_.size() && text_[pos_] == '\\' &&
            text_[pos_ + 1] == 'u') {
          const size_t save = pos_;
          pos_ += 2;
          const unsigned low = read_hex4();
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else {
            pos_ = save;  // not a pair: the high surrogate stands alone
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        if (out) append_utf8(cp, *out);
        continue;
      }
      default: --pos_; fail(std::string("unknown escape \\") + e);
    }
    if (out) out->push_back(plain);
  }
}

std::string JsonCursor::read_string() {
  std::string s;
  read_string_into(&s);
  return s;
}

int64_t JsonCursor::read_int() {
  skip_space();
  const size_t start = pos_;
  bool negative = false;
  if (pos_ < text_.size() && text_[pos_] == '-') negative = true, ++pos_;
  if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') {
    pos_ = start;
    fail(std::string("expected an integer, found ") + peek_kind());
  }
  uint64_t v = 0;
  while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
    const uint64_t digit = static_cast<uint64_t>(text_[pos_++] - '0');
    if (v > (uint64_t{INT64_MAX} - digit) / 10) fail("integer too large");
    v = v * 10 + digit;
  }
  if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E'))
    fail("expected an integer, found a fraction");
  return negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

void JsonCursor::skip_number() {
  const size_t start = pos_;
  auto digits = [&] {
    const size_t from = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > from;
  };
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  if (!digits()) {
    pos_ = start;
    fail("expected a value");
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (!digits()) fail("expected digits after '.'");
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (!digits()) fail("expected digits in the exponent");
  }
}

void JsonCursor::skip_literal(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) fail("expected a value");
  pos_ += word.size();
}

void JsonCursor::skip_value() {
  skip_space();
  if (pos_ >= text_.size()) fail("expected a value but the text ended");
  if (++depth_ > kMaxDepth) fail("values nested too deeply");
  switch (text_[pos_]) {
    case '{': {
      ++pos_;
      first_member_ = true;
      std::string key;
      while (next_member(key)) skip_value();
      break;
    }
    case '[': {
      ++pos_;
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        break;
      }
      while (true) {
        skip_value();
        skip_space();
        if (pos_ < text_.size() && text_[pos_] == ']') {
          ++pos_;
          break;
        }
        expect(',');
      }
      break;
    }
    case '"': read_string_into(nullptr); break;
    case 't': skip_literal("true"); break;
    case 'f': skip_literal("false"); break;
    case 'n': skip_literal("null"); break;
    default: skip_number();
  }
  --depth_;
  first_member_ = false;
}

void JsonCursor::expect_end() {
  skip_space();
  if (pos_ < text_.size()) fail("unexpected text after the JSON value");
}

}  // namespace alibi
