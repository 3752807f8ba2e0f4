// The process grid: world = dp x pp x tp ranks in Megatron's order (tp fastest, then dp,
// then pp), so a tensor-parallel group is neighbouring ranks (one node).
//
//   rank = tp_rank + tp * (dp_rank + dp * pp_rank)
//   e.g. tp=2, pp=2, dp=2: rank 5 = 1 + 2 * (0 + 2 * 1) -> tp_rank 1, dp_rank 0, pp_rank 1.
//
// The layout is a pure function (tested without MPI); ProcessGrid holds the communicators
// split from it once at start-up and is passed as `const ProcessGrid&`, never a global.
#pragma once

namespace alibi {

struct GridShape {
  int tp = 1;
  int pp = 1;
  int dp = 1;
  int world() const { return tp * pp * dp; }
};

struct GridCoord {
  int tp_rank = 0;
  int dp_rank = 0;
  int pp_rank = 0;
};

inline int grid_rank(const GridShape& g, const GridCoord& c) {
  return c.tp_rank + g.tp * (c.dp_rank + g.dp * c.pp_rank);
}

inline GridCoord grid_coord(const GridShape& g, int rank) {
  GridCoord c;
  c.tp_rank = rank % g.tp;
  c.dp_rank = (rank / g.tp) % g.dp;
  c.pp_rank = rank / (g.tp * g.dp);
  return c;
}

}  // namespace alibi
