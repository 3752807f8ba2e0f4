// launch/report.h: one column description gives the text table, the JSON rows and the
// CSV; each is checked against the string written out by hand.
#include <gtest/gtest.h>

#include "launch/report.h"

namespace alibi {
namespace {

struct Item {
  std::string name;
  int64_t bytes;
  double share;
};

std::vector<Column<Item>> item_columns() {
  return {
      {"name", "name", [](const Item& i) { return Cell(i.name); }},
      {"MiB", "bytes", [](const Item& i) { return Cell(fixed(i.bytes / 1048576.0, 1), i.bytes); }},
      {nullptr, "detail.share", [](const Item& i) { return Cell::fixed(i.share, 2); }},
      {"note", nullptr, [](const Item& i) { return Cell(i.share > 0.5 ? "big" : "-"); }},
  };
}

TEST(Report, OneDescriptionThreeRenderings) {
  const std::vector<Item> items = {{"a,b", 3 * 1048576, 0.75}, {"say \"hi\"", 524288, 0.125}};
  const auto columns = item_columns();
  EXPECT_EQ(header_row(columns), (std::vector<std::string>{"name", "MiB", "note"}));
  EXPECT_EQ(text_row(columns, items[0]), (std::vector<std::string>{"a,b", "3.0", "big"}));
  EXPECT_EQ(json_rows(columns, items).dump(),
            R"([{"name":"a,b","bytes":3145728,"detail":{"share":0.75}},)"
            R"({"name":"say \"hi\"","bytes":524288,"detail":{"share":0.125}}])");
  EXPECT_EQ(csv_rows(columns, items),
            "name,bytes,detail.share\n"
            "\"a,b\",3145728,0.75\n"
            "\"say \"\"hi\"\"\",524288,0.125\n");
}

TEST(Report, GroupedAndFixed) {
  EXPECT_EQ(grouped(0), "0");
  EXPECT_EQ(grouped(999), "999");
  EXPECT_EQ(grouped(1000), "1,000");
  EXPECT_EQ(grouped(-1234567), "-1,234,567");
  EXPECT_EQ(fixed(2.25, 1), "2.2");  // round-half-even of the binary value, as printf does
  EXPECT_EQ(Cell::grouped(1234567).text, "1,234,567");
  EXPECT_EQ(Cell::grouped(1234567).json, 1234567);
  EXPECT_TRUE(Cell::none().json.is_null());
}

}  // namespace
}  // namespace alibi
