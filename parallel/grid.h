// The process grid: world = dp x pp x tp ranks in Megatron's order (tp fastest, then dp,
// then pp), so a tensor-parallel group is neighbouring ranks (one node).
//
//   rank = tp_rank + tp * (dp_rank + dp * pp_rank)
//   e.g. tp=2, pp=2, dp=2: rank 5 = 1 + 2 * (0 + 2 * 1) -> tp_rank 1, dp_rank 0, pp_rank 1.
//
// The layout is a pure function (tested without MPI); ProcessGrid holds the communicators
// split from it once at start-up and is passed as `const ProcessGrid&`, never a global.
//
//   ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {tp, pp, dp}, model_config);
//   grid.tp().all_reduce_sum(x, n);   // the ranks holding the other heads of my layers
//
// A model on CUDA asks for CommBackend::nccl: tp, pp, dp and embedding are then
// NcclCommunicators (device tensors through NCCL, host scalars through MPI; nccl_comm.h),
// built in the same order on every rank after select_cuda_device; pp's carries only the
// pipeline's messages (NcclUse::messages), the others only collectives. world stays MPI: it only
// carries host scalars and checkpoint I/O. The default, CommBackend::mpi, is the CPU path.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "parallel/comm.h"
#include "runtime/config.h"

namespace alibi {

struct GridShape {
  GridShape(int tp_ = 1, int pp_ = 1, int dp_ = 1, std::vector<int> stage_blocks_ = {})
      : tp(tp_), pp(pp_), dp(dp_), stage_blocks(std::move(stage_blocks_)) {}
  int tp = 1;
  int pp = 1;
  int dp = 1;
  // Blocks of each pipeline stage, first to last (--pp-split); empty: as even as possible.
  std::vector<int> stage_blocks;
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

// Throws ConfigError printing the failed equation: world = tp*pp*dp, NH % tp == 0,
// F % tp == 0, L >= pp; and for stage_blocks: one count per stage, none zero, summing to L.
void validate_grid(const GridShape& g, int world, const ModelConfig& model);

// Blocks [first, second) of pipeline stage `stage`: contiguous, as even as possible (the
// first L % pp stages take one more).
std::pair<int, int> stage_layers(int n_layers, int pp, int stage);
// The same under g's stage_blocks when it has them.
std::pair<int, int> stage_layers(const GridShape& g, int n_layers, int stage);
// "3,3,2": a split as --pp-split takes it.
std::string split_text(const std::vector<int>& blocks);

// The contiguous split of n_layers equal blocks over pp stages whose slowest stage costs
// least, where a stage costs its blocks x block_cost, plus first_cost on the first stage
// (the embedding) and last_cost on the last (final LayerNorm, LM head, loss): blocks per
// stage. Ties go to the split that puts more blocks on earlier stages.
//   balanced_split(8, 2, 1.0, 0.0, 1.3) == {5, 3}   (costs 5 and 4.3; an even 4, 4 has 5.3)
std::vector<int> balanced_split(int n_layers, int pp, double block_cost, double first_cost, double last_cost);

// Rows [first, second) of a dimension of `n` split over `parts` as evenly as possible
// (used for the vocabulary, which need not divide by tp).
std::pair<int64_t, int64_t> shard_range(int64_t n, int parts, int part);

// The library behind tp, pp, dp and embedding: MPI for host tensors, NCCL for device ones.
enum class CommBackend { mpi, nccl };

class ProcessGrid {
 public:
  // Splits `world` into TP, PP, DP and embedding communicators (collective over world).
  // With a watchdog, every MPI wait of theirs runs under it (watchdog.h).
  static ProcessGrid create(MPI_Comm world, const GridShape& shape, const ModelConfig& model,
                            CommBackend backend = CommBackend::mpi, std::shared_ptr<Watchdog> watchdog = nullptr);
  // One process, every communicator of size 1.
  static ProcessGrid single();

  const GridShape& shape() const { return shape_; }
  const GridCoord& coord() const { return coord_; }
  int rank() const { return rank_; }
  bool first_stage() const { return coord_.pp_rank == 0; }
  bool last_stage() const { return coord_.pp_rank == shape_.pp - 1; }

  const Communicator& world() const { return *world_; }
  const Communicator& tp() const { return *tp_; }  // same dp, pp; ranks are tp_rank
  const Communicator& pp() const { return *pp_; }  // same tp, dp; ranks are pp_rank
  const Communicator& dp() const { return *dp_; }  // same tp, pp; ranks are dp_rank
  // First and last stage with the same tp, dp (the tied embedding's two copies); size 1
  // when pp == 1.
  const Communicator& embedding() const { return *embedding_; }

 private:
  GridShape shape_;
  GridCoord coord_;
  int rank_ = 0;
  std::shared_ptr<Communicator> world_, tp_, pp_, dp_, embedding_;
};

}  // namespace alibi
