// Process grid: validation, stage and shard ranges, communicator splits.
#include "parallel/grid.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include "parallel/nccl_comm.h"
#include "parallel/watchdog.h"
#include "runtime/error.h"

namespace alibi {

void validate_grid(const GridShape& g, int world, const ModelConfig& m) {
  ALIBI_CHECK_AS(ConfigError, g.tp >= 1 && g.pp >= 1, "--tp and --pp must be at least 1 (got " << g.tp << ", " << g.pp << ")");
  ALIBI_CHECK_AS(ConfigError, world % (g.tp * g.pp) == 0 && g.world() == world,
                 "world = tp*pp*dp fails: " << world << " ranks are not a multiple of --tp " << g.tp << " x --pp "
                                            << g.pp << " = " << g.tp * g.pp
                                            << "; launch a multiple of tp*pp ranks or change --tp/--pp");
  ALIBI_CHECK_AS(ConfigError, m.heads % g.tp == 0,
                 "NH % tp == 0 fails: --heads " << m.heads << " % --tp " << g.tp << " = " << m.heads % g.tp
                                                << "; choose --tp dividing the head count");
  ALIBI_CHECK_AS(ConfigError, m.ffn_width() % g.tp == 0,
                 "F % tp == 0 fails: ffn width " << m.ffn_width() << " % --tp " << g.tp << " = "
                                                 << m.ffn_width() % g.tp << "; choose --tp dividing --ffn");
  ALIBI_CHECK_AS(ConfigError, m.layers >= g.pp,
                 "L >= pp fails: --layers " << m.layers << " < --pp " << g.pp
                                            << "; every pipeline stage needs at least one block");
  if (g.stage_blocks.empty()) return;
  const std::string split = split_text(g.stage_blocks);
  ALIBI_CHECK_AS(ConfigError, static_cast<int>(g.stage_blocks.size()) == g.pp,
                 "--pp-split " << split << " names " << g.stage_blocks.size() << " stages but --pp is " << g.pp
                               << "; give one block count per stage, or --pp-split auto");
  int sum = 0;
  for (size_t s = 0; s < g.stage_blocks.size(); ++s) {
    ALIBI_CHECK_AS(ConfigError, g.stage_blocks[s] >= 1,
                   "--pp-split " << split << ": stage " << s << " has " << g.stage_blocks[s]
                                 << " blocks; every pipeline stage needs at least one");
    sum += g.stage_blocks[s];
  }
  ALIBI_CHECK_AS(ConfigError, sum == m.layers,
                 "--pp-split " << split << " sums to " << sum << " blocks, not --layers " << m.layers
                               << "; the stages' counts must add up to the layers (or --pp-split auto)");
}

std::string split_text(const std::vector<int>& blocks) {
  std::string text;
  for (size_t s = 0; s < blocks.size(); ++s) {
    if (s > 0) text += ',';
    text += std::to_string(blocks[s]);
  }
  return text;
}

std::pair<int, int> stage_layers(int n_layers, int pp, int stage) {
  const int base = n_layers / pp, extra = n_layers % pp;
  const int first = stage * base + std::min(stage, extra);
  return {first, first + base + (stage < extra ? 1 : 0)};
}

std::pair<int, int> stage_layers(const GridShape& g, int n_layers, int stage) {
  if (g.stage_blocks.empty()) return stage_layers(n_layers, g.pp, stage);
  int first = 0;
  for (int s = 0; s < stage; ++s) first += g.stage_blocks.at(s);
  return {first, first + g.stage_blocks.at(stage)};
}

std::vector<int> balanced_split(int n_layers, int pp, double block_cost, double first_cost, double last_cost) {
  ALIBI_CHECK_AS(ConfigError, pp >= 1 && n_layers >= pp, "L >= pp fails: --layers " << n_layers << " < --pp " << pp);
  auto cost = [&](int stage, int blocks) {
    return blocks * block_cost + (stage == 0 ? first_cost : 0.0) + (stage == pp - 1 ? last_cost : 0.0);
  };
  // worst[s][l]: the least cost of the slowest of stages s.. holding the last l blocks;
  // take[s][l]: the blocks stage s takes to get it. O(pp L^2), L in the tens.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> worst(pp + 1, std::vector<double>(n_layers + 1, inf));
  std::vector<std::vector<int>> take(pp, std::vector<int>(n_layers + 1, 0));
  worst[pp][0] = 0.0;
  for (int s = pp - 1; s >= 0; --s) {
    for (int l = pp - s; l <= n_layers - s; ++l) {
      for (int k = l - (pp - s - 1); k >= 1; --k) {  // most blocks first: ties keep the larger k
        const double w = std::max(cost(s, k), worst[s + 1][l - k]);
        if (w < worst[s][l]) {
          worst[s][l] = w;
          take[s][l] = k;
        }
      }
    }
  }
  std::vector<int> split(pp);
  for (int s = 0, l = n_layers; s < pp; l -= split[s], ++s) split[s] = take[s][l];
  return split;
}

std::pair<int64_t, int64_t> shard_range(int64_t n, int parts, int part) {
  const int64_t base = n / parts, extra = n % parts;
  const int64_t first = part * base + std::min<int64_t>(part, extra);
  return {first, first + base + (part < extra ? 1 : 0)};
}

ProcessGrid ProcessGrid::single() {
  ProcessGrid g;
  auto self = std::make_shared<SelfCommunicator>();
  g.world_ = g.tp_ = g.pp_ = g.dp_ = g.embedding_ = self;
  return g;
}

ProcessGrid ProcessGrid::create(MPI_Comm world, const GridShape& shape, const ModelConfig& model,
                                CommBackend backend, std::shared_ptr<Watchdog> watchdog) {
  int rank = 0, size = 1;
  check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(world, &size), "MPI_Comm_size");
  validate_grid(shape, size, model);
  // MPI_Comm_split, and on NCCL the id's broadcast and ncclCommInitRank, block and are not
  // polled: a rank that stops here ends the others by the Deadline's timer, given the
  // start-up's slack (kStartSkewS).
  std::optional<Watchdog::Deadline> deadline;
  if (watchdog) deadline.emplace(*watchdog, "communicator set-up", kStartSkewS);
  ProcessGrid g;
  g.shape_ = shape;
  g.rank_ = rank;
  g.coord_ = grid_coord(shape, rank);
  const GridCoord& c = g.coord_;
  g.world_ = std::make_shared<MpiCommunicator>(world, /*owned=*/false, watchdog, "world");
  // On NCCL, pp carries only the pipeline's messages; the others only collectives.
  auto split = [&](int color, int key, const char* name, NcclUse use = NcclUse::collectives) -> std::shared_ptr<Communicator> {
    MPI_Comm comm;
    check_mpi(MPI_Comm_split(world, color, key, &comm), "MPI_Comm_split");
    if (backend == CommBackend::nccl) return std::make_shared<NcclCommunicator>(comm, /*owned=*/true, watchdog, name, use);
    return std::make_shared<MpiCommunicator>(comm, /*owned=*/true, watchdog, name);
  };
  g.tp_ = split(c.dp_rank + shape.dp * c.pp_rank, c.tp_rank, "tp");
  g.dp_ = split(c.tp_rank + shape.tp * c.pp_rank, c.dp_rank, "dp");
  g.pp_ = split(c.tp_rank + shape.tp * c.dp_rank, c.pp_rank, "pp", NcclUse::messages);
  // Every rank joins a split; the middle stages get their own (unused) singleton groups.
  const bool end_stage = c.pp_rank == 0 || c.pp_rank == shape.pp - 1;
  g.embedding_ = split(end_stage ? c.tp_rank + shape.tp * c.dp_rank : shape.tp * shape.dp + rank, c.pp_rank, "embedding");
  return g;
}

}  // namespace alibi
