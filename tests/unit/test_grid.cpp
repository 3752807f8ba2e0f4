// The rank layout of DESIGN.md, checked without MPI.
#include <gtest/gtest.h>

#include "parallel/grid.h"

namespace alibi {

TEST(Grid, WorkedExampleFromDesign) {
  const GridShape g{2, 2, 2};
  const GridCoord c = grid_coord(g, 5);
  EXPECT_EQ(c.tp_rank, 1);
  EXPECT_EQ(c.dp_rank, 0);
  EXPECT_EQ(c.pp_rank, 1);
}

TEST(Grid, RankAndCoordAreInverse) {
  for (GridShape g : {GridShape{1, 1, 1}, GridShape{2, 1, 3}, GridShape{4, 2, 2}, GridShape{1, 3, 2}}) {
    for (int r = 0; r < g.world(); ++r) EXPECT_EQ(grid_rank(g, grid_coord(g, r)), r);
    EXPECT_EQ(grid_coord(g, 1 % g.world()).tp_rank, g.tp > 1 ? 1 : 0);  // tp is the fastest axis
  }
}

}  // namespace alibi
