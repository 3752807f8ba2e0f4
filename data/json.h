// A small JSON reader for the two places preprocessing meets JSON: JSON Lines corpora
// (one object per line, we take one string field) and GPT-2's encoder.json (one object of
// string -> integer). A cursor over the text; values we do not need are skipped after
// being checked. Strings are decoded to UTF-8 (\uXXXX escapes and surrogate pairs
// included; a lone surrogate becomes U+FFFD, as most decoders do). Malformed input throws
// JsonError with the byte offset; callers add the file and line.
//
//   JsonCursor j(line);
//   j.begin_object();
//   std::string key;
//   while (j.next_member(key)) {
//     if (key == "text") text = j.read_string(); else j.skip_value();
//   }
//   j.expect_end();
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace alibi {

struct JsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class JsonCursor {
 public:
  explicit JsonCursor(std::string_view text) : text_(text) {}

  void begin_object();                 // '{'
  // The next member's key, after which the cursor stands at its value; false at '}'.
  bool next_member(std::string& key);
  std::string read_string();
  int64_t read_int();                  // an integer that fits int64 (no fraction/exponent)
  void skip_value();                   // any value, checked
  void expect_end();                   // only whitespace is left
  // The kind of the next value, for messages: "a string", "a number", "an object", ...
  const char* peek_kind();

  size_t offset() const { return pos_; }

 private:
  void skip_space();
  [[noreturn]] void fail(const std::string& what) const;
  void expect(char c);
  void read_string_into(std::string* out);  // null: check and skip
  void skip_number();
  void skip_literal(std::string_view word);
  unsigned read_hex4();

  std::string_view text_;
  size_t pos_ = 0;
  bool first_member_ = false;  // inside an object: no comma before the next member
  int depth_ = 0;              // nesting, bounded so hostile input cannot overflow the stack
};

}  // namespace alibi
