// The rank layout of DESIGN.md, checked without MPI.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "parallel/grid.h"
#include "parallel/watchdog.h"
#include "runtime/error.h"

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

// The split --pp-split auto takes, against every contiguous split enumerated by hand.
TEST(Grid, BalancedSplitMinimisesTheSlowestStage) {
  EXPECT_EQ(balanced_split(8, 2, 1.0, 0.0, 1.3), (std::vector<int>{5, 3}));  // the header's example
  EXPECT_EQ(balanced_split(8, 1, 1.0, 0.0, 1.3), (std::vector<int>{8}));
  EXPECT_EQ(balanced_split(8, 3, 1.0, 0.0, 0.0), (std::vector<int>{3, 3, 2}));  // ties: earlier stages first
  EXPECT_EQ(balanced_split(8, 8, 1.0, 5.0, 5.0), (std::vector<int>(8, 1)));     // at least one block each
  for (int L : {3, 8, 13})
    for (int pp = 1; pp <= std::min(L, 4); ++pp)
      for (double head : {0.0, 0.7, 1.3, 3.1}) {
        const double embed = 0.2;
        auto worst = [&](const std::vector<int>& split) {
          double w = 0;
          for (int s = 0; s < pp; ++s) w = std::max(w, split[s] + (s == 0 ? embed : 0.0) + (s == pp - 1 ? head : 0.0));
          return w;
        };
        // Every split into pp positive parts, by counting in base L.
        double best = 1e300;
        std::vector<int> split(pp, 1);
        std::function<void(int, int)> walk = [&](int s, int left) {
          if (s == pp - 1) {
            split[s] = left;
            best = std::min(best, worst(split));
            return;
          }
          for (int k = 1; k <= left - (pp - s - 1); ++k) {
            split[s] = k;
            walk(s + 1, left - k);
          }
        };
        walk(0, L);
        const std::vector<int> got = balanced_split(L, pp, 1.0, embed, head);
        SCOPED_TRACE("L=" + std::to_string(L) + " pp=" + std::to_string(pp) + " head=" + std::to_string(head));
        ASSERT_EQ(static_cast<int>(got.size()), pp);
        EXPECT_EQ(std::accumulate(got.begin(), got.end(), 0), L);
        EXPECT_EQ(*std::min_element(got.begin(), got.end()) >= 1, true);
        EXPECT_DOUBLE_EQ(worst(got), best);
      }
}

TEST(Grid, StageLayersFollowTheSplit) {
  const GridShape even{1, 3, 1}, split{1, 3, 1, {2, 4, 2}};
  EXPECT_EQ(stage_layers(even, 8, 0), std::make_pair(0, 3));
  EXPECT_EQ(stage_layers(even, 8, 2), std::make_pair(6, 8));
  EXPECT_EQ(stage_layers(split, 8, 0), std::make_pair(0, 2));
  EXPECT_EQ(stage_layers(split, 8, 1), std::make_pair(2, 6));
  EXPECT_EQ(stage_layers(split, 8, 2), std::make_pair(6, 8));
}

TEST(Grid, BadSplitsAreClearErrors) {
  ModelConfig cfg;
  cfg.layers = 8;
  auto message = [&](const GridShape& g) -> std::string {
    try {
      validate_grid(g, g.world(), cfg);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message({1, 3, 1, {3, 3, 3}}),
            "--pp-split 3,3,3 sums to 9 blocks, not --layers 8; the stages' counts must add up to the layers (or "
            "--pp-split auto)");
  EXPECT_EQ(message({1, 3, 1, {4, 0, 4}}), "--pp-split 4,0,4: stage 1 has 0 blocks; every pipeline stage needs at least one");
  EXPECT_EQ(message({1, 3, 1, {4, 4}}),
            "--pp-split 4,4 names 2 stages but --pp is 3; give one block count per stage, or --pp-split auto");
  EXPECT_EQ(message({1, 3, 1, {3, 3, 2}}), "no error");
}


// When one rank stops, several threads of another can time out within milliseconds (an NCCL
// watch per communicator, a Deadline's timer, a polled wait): the job still ends with one
// line and one status, whichever thread came first; the others wait for its exit.
TEST(Watchdog, OnlyTheFirstThreadToEndTheProcessPrints) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // MPI's own threads make a bare fork unsafe
  Watchdog dog(MPI_COMM_WORLD, 60.0, kTrainJob);
  const auto end_from_eight_threads = [&dog](int status) {
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&dog, i, status] {
        dog.end_process("dp all-reduce (NCCL, operation 7)", 61.0, "rank " + std::to_string(i), status,
                        [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); });
      });
    for (std::thread& t : threads) t.join();
  };
  // [^<newline>]*<newline>$: exactly one line.
  EXPECT_EXIT(end_from_eight_threads(kExitRequeue), testing::ExitedWithCode(kExitRequeue),
              "^alibi: watchdog: dp all-reduce \\(NCCL, operation 7\\) at step 0 waited 61 s[^\n]*"
              "ending the job with status 75 \\(requeue once fixed[^\n]*\n$");
  // A fault of this rank's own is not sent back to the queue.
  EXPECT_EXIT(end_from_eight_threads(1), testing::ExitedWithCode(1),
              "^alibi: watchdog: [^\n]*ending the job with status 1 \\(a fault of this rank's own[^\n]*\n$");
}

}  // namespace alibi
