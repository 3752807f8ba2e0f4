// Process grid: validation, stage and shard ranges, communicator splits.
#include "parallel/grid.h"

#include "parallel/nccl_comm.h"
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
}

std::pair<int, int> stage_layers(int n_layers, int pp, int stage) {
  const int base = n_layers / pp, extra = n_layers % pp;
  const int first = stage * base + std::min(stage, extra);
  return {first, first + base + (stage < extra ? 1 : 0)};
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
                                CommBackend backend) {
  int rank = 0, size = 1;
  check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(world, &size), "MPI_Comm_size");
  validate_grid(shape, size, model);
  ProcessGrid g;
  g.shape_ = shape;
  g.rank_ = rank;
  g.coord_ = grid_coord(shape, rank);
  const GridCoord& c = g.coord_;
  g.world_ = std::make_shared<MpiCommunicator>(world);
  // On NCCL, pp carries only the pipeline's messages; the others only collectives.
  auto split = [&](int color, int key, NcclUse use = NcclUse::collectives) -> std::shared_ptr<Communicator> {
    MPI_Comm comm;
    check_mpi(MPI_Comm_split(world, color, key, &comm), "MPI_Comm_split");
    if (backend == CommBackend::nccl) return std::make_shared<NcclCommunicator>(comm, /*owned=*/true, use);
    return std::make_shared<MpiCommunicator>(comm, /*owned=*/true);
  };
  g.tp_ = split(c.dp_rank + shape.dp * c.pp_rank, c.tp_rank);
  g.dp_ = split(c.tp_rank + shape.tp * c.pp_rank, c.dp_rank);
  g.pp_ = split(c.tp_rank + shape.tp * c.dp_rank, c.pp_rank, NcclUse::messages);
  // Every rank joins a split; the middle stages get their own (unused) singleton groups.
  const bool end_stage = c.pp_rank == 0 || c.pp_rank == shape.pp - 1;
  g.embedding_ = split(end_stage ? c.tp_rank + shape.tp * c.dp_rank : shape.tp * shape.dp + rank, c.pp_rank);
  return g;
}

}  // namespace alibi
