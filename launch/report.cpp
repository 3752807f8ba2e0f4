#include "launch/report.h"

#include <algorithm>
#include <cstdio>

namespace alibi {

std::string grouped(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

Cell Cell::fixed(double v, int decimals) { return {alibi::fixed(v, decimals), v}; }

Cell Cell::grouped(int64_t v) { return {alibi::grouped(v), v}; }

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += std::string(width[i] - row[i].size(), ' ') + row[i];
    }
    std::printf("%s\n", line.c_str());
  }
}

void set_path(Json& j, const std::string& key, Json value) {
  Json* at = &j;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1)
    at = &(*at)[key.substr(start, dot - start)];
  (*at)[key.substr(start)] = std::move(value);
}

void print_wrapped(const std::string& first_prefix, const std::string& indent, const std::string& text,
                   size_t width) {
  std::string line = first_prefix;
  bool empty = true;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    if (!empty && line.size() + 1 + word.size() > width) {
      std::printf("%s\n", line.c_str());
      line = indent;
      empty = true;
    }
    line += (empty ? "" : " ") + word;
    empty = false;
  }
  std::printf("%s\n", line.c_str());
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

}  // namespace alibi
