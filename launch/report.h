// Tables the CLI prints for people and writes for programs, from one description: each
// column says its header, its JSON key and how to show a row's cell both ways, so the
// text table, the JSON rows and the CSV cannot drift apart.
//
//   const std::vector<Column<RankPlan>> columns = {
//       {"rank", "rank", [](const RankPlan& r) { return Cell(r.rank); }},
//       {"total MiB", "total_mib", [](const RankPlan& r) { return Cell::fixed(r.total_bytes() / kMiB, 1); }},
//       {nullptr, "params.tied_copy", ...},   // JSON only; "a.b" nests: {"params": {"tied_copy": ...}}
//   };
//   print_table(header_row(columns), text_rows(columns, plan));
//   json["ranks"] = json_rows(columns, plan);
//
// JSON is nlohmann::ordered_json (keys in the order written).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace alibi {

using Json = nlohmann::ordered_json;

// One value shown two ways: the text a person reads and the JSON value a program reads
// (a percentage's text may be "12.5" where its JSON is 0.125).
struct Cell {
  std::string text;
  Json json;

  Cell() = default;
  Cell(std::string t, Json j) : text(std::move(t)), json(std::move(j)) {}
  Cell(int v) : text(std::to_string(v)), json(v) {}
  Cell(int64_t v) : text(std::to_string(v)), json(v) {}
  Cell(bool v) : text(v ? "yes" : "no"), json(v) {}
  Cell(const char* v) : text(v), json(v) {}
  Cell(std::string v) : text(v), json(std::move(v)) {}

  // `v` printed with `decimals` digits after the point; JSON gets the full value.
  static Cell fixed(double v, int decimals);
  // `v` with thousands separators (1,234,567); JSON the plain integer.
  static Cell grouped(int64_t v);
  // "-" in the text, null in the JSON.
  static Cell none() { return {"-", nullptr}; }
};

template <class Row>
struct Column {
  const char* header;  // the text table's header; nullptr: JSON and CSV only
  const char* key;     // the JSON key ("a.b" nests objects) and CSV header; nullptr: text only
  std::function<Cell(const Row&)> cell;
};

std::string grouped(int64_t n);  // 1234567 -> "1,234,567"
std::string fixed(double v, int decimals);

// Right-aligned columns, two spaces apart (rows may be ragged).
void print_table(const std::vector<std::vector<std::string>>& rows);

// Sets j[a][b]... for key "a.b...".
void set_path(Json& j, const std::string& key, Json value);

// Words of `text` in lines of at most `width` characters, the first line starting with
// `first_prefix`, the others with `indent`.
void print_wrapped(const std::string& first_prefix, const std::string& indent, const std::string& text,
                   size_t width = 100);

// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& s);

template <class Row>
std::vector<std::string> header_row(const std::vector<Column<Row>>& columns) {
  std::vector<std::string> out;
  for (const Column<Row>& c : columns)
    if (c.header) out.emplace_back(c.header);
  return out;
}

template <class Row>
std::vector<std::string> text_row(const std::vector<Column<Row>>& columns, const Row& row) {
  std::vector<std::string> out;
  for (const Column<Row>& c : columns)
    if (c.header) out.push_back(c.cell(row).text);
  return out;
}

template <class Row>
Json json_row(const std::vector<Column<Row>>& columns, const Row& row) {
  Json j = Json::object();
  for (const Column<Row>& c : columns)
    if (c.key) set_path(j, c.key, c.cell(row).json);
  return j;
}

template <class Row, class Rows>
Json json_rows(const std::vector<Column<Row>>& columns, const Rows& rows) {
  Json out = Json::array();
  for (const Row& r : rows) out.push_back(json_row(columns, r));
  return out;
}

// CSV: a header line of the keys, then one line per row of the JSON values (strings
// unquoted unless they need it, numbers as JSON writes them).
template <class Row, class Rows>
std::string csv_rows(const std::vector<Column<Row>>& columns, const Rows& rows) {
  std::string out;
  auto line = [&](auto&& field_of) {
    bool first = true;
    for (const Column<Row>& c : columns) {
      if (!c.key) continue;
      if (!first) out += ',';
      out += csv_field(field_of(c));
      first = false;
    }
    out += '\n';
  };
  line([](const Column<Row>& c) { return std::string(c.key); });
  for (const Row& r : rows)
    line([&](const Column<Row>& c) {
      const Json v = c.cell(r).json;
      return v.is_string() ? v.get<std::string>() : v.dump();
    });
  return out;
}

}  // namespace alibi
