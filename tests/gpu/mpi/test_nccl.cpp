// NcclCommunicator under mpiexec -n 2: every collective and message of device buffers
// against MpiCommunicator on host copies, host pointers routed to MPI, the overlapped
// non-blocking calls, and the 1F1B schedule over a NCCL process grid with messages larger
// than NCCL's buffers (the case that deadlocks with one NCCL communicator; nccl_comm.h).
//
// Last, the model on CUDA over a tp=2 NCCL grid against the single-process CPU model.
//
// NCCL needs a GPU per rank: on a machine with fewer GPUs than ranks (or none) every test
// skips, on all ranks alike.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "kernels/cuda/ops.h"
#include "layers/model.h"
#include "parallel/nccl_comm.h"
#include "parallel/pipeline.h"
#include "runtime/device.h"
#include "tests/compare.h"
#include "tests/gpu/gpu_test.h"

namespace alibi {
namespace {

// Skips unless every rank of the world has a GPU of its own, and selects it.
#define ALIBI_REQUIRE_GPU_PER_RANK()                                                       \
  do {                                                                                      \
    ALIBI_REQUIRE_GPU();                                                                    \
    std::string why_not_;                                                                   \
    if (!gpu_per_rank(&why_not_)) GTEST_SKIP() << why_not_;                                 \
  } while (0)

bool gpu_per_rank(std::string* why_not) {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int ranks_on_node = 1;
  MPI_Comm_size(node, &ranks_on_node);
  MPI_Comm_free(&node);
  int ok = cuda_device_count() >= ranks_on_node ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!ok) {
    *why_not = "NCCL needs one GPU per rank: " + std::to_string(ranks_on_node) + " ranks on this node, " +
               std::to_string(cuda_device_count()) + " GPU(s)";
    return false;
  }
  select_cuda_device(local_rank(MPI_COMM_WORLD));
  return true;
}

template <class T>
Tensor on_device(const std::vector<T>& v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, dtype_of<T>(), Device::cuda);
  copy_bytes(t.raw(), Device::cuda, v.data(), Device::cpu, v.size() * sizeof(T));
  return t;
}

template <class T>
std::vector<T> on_host(const Tensor& t) {
  std::vector<T> v(static_cast<size_t>(t.numel()));
  copy_bytes(v.data(), Device::cpu, t.raw(), Device::cuda, t.nbytes());  // waits for the stream
  return v;
}

// Rank-dependent values of mixed sign and magnitude; 1003 is not a multiple of any block.
template <class T>
std::vector<T> rank_values(int rank, int64_t n = 1003) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<T>((i % 17 - 8) * 0.37 + rank * 1.5 + (i % 3 == rank ? 9 : 0));
  return v;
}

// ---- Request -------------------------------------------------------------------------------

// A Request completes its Pending once: on wait(), on move-assignment over it, or on
// destruction. Host only: runs without a GPU.
TEST(Request, CompletesAPendingOnce) {
  struct Counting : Request::Pending {
    int* waits;
    explicit Counting(int* w) : waits(w) {}
    void wait() override { ++*waits; }
    bool done() override { return *waits > 0; }
  };
  int a = 0, b = 0, c = 0;
  {
    Request r(std::make_unique<Counting>(&a));
    EXPECT_FALSE(r.done());
    r.wait();
    EXPECT_TRUE(r.done());
    r.wait();
    Request moved(std::make_unique<Counting>(&b));
    Request target = std::move(moved);
    target = Request(std::make_unique<Counting>(&c));  // completes b's first
    EXPECT_EQ(b, 1);
    EXPECT_EQ(c, 0);
  }
  EXPECT_EQ(a, 1);
  EXPECT_EQ(c, 1);  // by the destructor
}

// ---- collectives ---------------------------------------------------------------------------

template <class T>
void expect_reductions_match_mpi(const Communicator& nccl, const Communicator& mpi) {
  const std::vector<T> mine = rank_values<T>(nccl.rank());
  for (bool max : {false, true}) {
    Tensor device = on_device(mine);
    std::vector<T> host = mine;
    if (max) {
      nccl.all_reduce_max(device.data<T>(), device.numel());
      mpi.all_reduce_max(host.data(), static_cast<int64_t>(host.size()));
    } else {
      nccl.all_reduce_sum(device.data<T>(), device.numel());
      mpi.all_reduce_sum(host.data(), static_cast<int64_t>(host.size()));
    }
    // Exact: with two ranks each element is one addition (or comparison), the same
    // whichever library does it.
    EXPECT_EQ(on_host<T>(device), host) << (max ? "max" : "sum");
  }
}

TEST(Nccl, AllReduceSumAndMaxMatchMpi) {
  ALIBI_REQUIRE_GPU_PER_RANK();
  NcclCommunicator nccl(MPI_COMM_WORLD);
  MpiCommunicator mpi(MPI_COMM_WORLD);
  expect_reductions_match_mpi<float>(nccl, mpi);
  expect_reductions_match_mpi<double>(nccl, mpi);
  expect_reductions_match_mpi<int32_t>(nccl, mpi);
  Tensor u16 = Tensor::zeros({4}, DType::u16, Device::cuda);
  EXPECT_THROW(nccl.all_reduce_sum(u16.raw(), 4, DType::u16), DeviceError);  // before any NCCL call
}

TEST(Nccl, AllGatherAndBroadcastMatchMpi) {
  ALIBI_REQUIRE_GPU_PER_RANK();
  NcclCommunicator nccl(MPI_COMM_WORLD);
  MpiCommunicator mpi(MPI_COMM_WORLD);
  const int n = nccl.size();
  const std::vector<int64_t> mine = rank_values<int64_t>(nccl.rank(), 37);

  const Tensor in = on_device(mine);
  Tensor out = Tensor::zeros({37 * n}, DType::i64, Device::cuda);
  nccl.all_gather(in.raw(), out.raw(), 37, DType::i64);
  std::vector<int64_t> expected(37 * n);
  mpi.all_gather(mine.data(), expected.data(), 37, DType::i64);
  EXPECT_EQ(on_host<int64_t>(out), expected);

  for (int root = 0; root < n; ++root) {
    Tensor device = on_device(rank_values<float>(nccl.rank()));
    nccl.broadcast(device.data<float>(), device.numel(), root);
    EXPECT_EQ(on_host<float>(device), rank_values<float>(root)) << "root " << root;
  }
}

TEST(Nccl, IallReduceSumCompletesOnWait) {
  ALIBI_REQUIRE_GPU_PER_RANK();
  NcclCommunicator nccl(MPI_COMM_WORLD);
  MpiCommunicator mpi_world(MPI_COMM_WORLD);
  const Communicator& mpi = mpi_world;
  std::vector<float> expected = rank_values<float>(nccl.rank(), 1 << 20);
  Tensor device = on_device(expected);
  mpi.all_reduce_sum(expected.data(), static_cast<int64_t>(expected.size()));
  Request r = nccl.iall_reduce_sum(device.raw(), device.numel(), DType::f32);
  while (!r.done()) {
  }  // the side stream finishes on its own: every rank has enqueued its part
  r.wait();
  EXPECT_EQ(on_host<float>(device), expected);  // exact: one addition per element (above)

  // Waited without polling: the copy on the compute stream sees the sum.
  Tensor again = on_device(rank_values<float>(nccl.rank(), 1 << 20));
  nccl.iall_reduce_sum(again.raw(), again.numel(), DType::f32).wait();
  EXPECT_EQ(on_host<float>(again), expected);
}

// ---- messages ------------------------------------------------------------------------------

TEST(Nccl, SendRecvAndIsendRing) {
  ALIBI_REQUIRE_GPU_PER_RANK();
  NcclCommunicator nccl(MPI_COMM_WORLD, /*owned=*/false, nullptr, "pp", NcclUse::messages);
  const int rank = nccl.rank(), n = nccl.size();
  const int next = (rank + 1) % n, prev = (rank + n - 1) % n;

  // Blocking: rank 0 sends, rank 1 receives.
  if (rank == 0) {
    const Tensor out = on_device(rank_values<double>(0));
    nccl.send(out.raw(), 1003, DType::f64, 1, 0);
  }
  if (rank == 1) {
    Tensor in = Tensor::zeros({1003}, DType::f64, Device::cuda);
    nccl.recv(in.data<double>(), 1003, 0, 0);
    EXPECT_EQ(on_host<double>(in), rank_values<double>(0));
  }

  // A ring of non-blocking sends of 64 MB, far above NCCL's buffers: every rank receives
  // while its own send is still in flight.
  const int64_t big = 16 << 20;
  Tensor out = on_device(rank_values<float>(rank, big));
  Tensor in = Tensor::zeros({big}, DType::f32, Device::cuda);
  Request r = nccl.isend(out.raw(), big, DType::f32, next, 7);
  nccl.recv(in.raw(), big, DType::f32, prev, 7);
  r.wait();
  EXPECT_EQ(on_host<float>(in), rank_values<float>(prev, big));
}

// Only the NCCL communicators a use needs exist: a device collective on the pipeline's
// (messages) communicator, or a message on a collectives one, is an error before any NCCL call.
TEST(Nccl, UseDecidesWhichNcclCommunicatorsExist) {
  ALIBI_REQUIRE_GPU_PER_RANK();
  const NcclCommunicator messages(MPI_COMM_WORLD, /*owned=*/false, nullptr, "pp", NcclUse::messages);
  const NcclCommunicator collectives(MPI_COMM_WORLD);
  Tensor device = Tensor::zeros({4}, DType::f32, Device::cuda);
  EXPECT_THROW(messages.all_reduce_sum(device.data<float>(), 4), Error);
  EXPECT_THROW(collectives.send(device.raw(), 4, DType::f32, 1 - collectives.rank(), 0), Error);
  float host = 1.0f;  // host scalars still go over MPI on both
  messages.all_reduce_sum(&host, 1);
  EXPECT_EQ(host, static_cast<float>(messages.size()));
}

TEST(Nccl, HostPointersGoThroughMpi) {
  ALIBI_REQUIRE_GPU_PER_RANK();
  NcclCommunicator nccl(MPI_COMM_WORLD);
  const int n = nccl.size();
  EXPECT_EQ(nccl.sum(nccl.rank() + 1.0), n * (n + 1) / 2.0);
  EXPECT_EQ(nccl.max(static_cast<double>(nccl.rank())), n - 1.0);
  std::vector<int32_t> host(5, nccl.rank() + 1);
  nccl.all_reduce_sum(host.data(), 5);
  EXPECT_EQ(host, std::vector<int32_t>(5, n * (n + 1) / 2));
  const std::vector<std::string> names = nccl.all_gather_strings("rank" + std::to_string(nccl.rank()));
  ASSERT_EQ(static_cast<int>(names.size()), n);
  EXPECT_EQ(names[1], "rank1");
  int compare = MPI_UNEQUAL;
  MPI_Comm_compare(nccl.mpi_comm(), MPI_COMM_WORLD, &compare);
  EXPECT_EQ(compare, MPI_IDENT);
  nccl.barrier();
}

// ---- the pipeline over a NCCL grid -----------------------------------------------------------

// Stage 0 emits micro-batch i as the constant i + 1; the last stage checks that it arrived
// and answers with the gradient -(i + 1), which stage 0 checks.
struct RelayStage {
  int s = 0, P = 1;
  int64_t n = 0;  // elements per activation: 32 MB, far above NCCL's buffers
  std::vector<Tensor> in, out, out_grad, in_grad;
  int wrong = 0;

  RelayStage(int stage, int stages, int64_t elements, int slots) : s(stage), P(stages), n(elements) {
    for (int i = 0; i < slots; ++i) {
      for (auto* v : {&in, &out, &out_grad, &in_grad}) v->push_back(Tensor::zeros({n}, DType::f32, Device::cuda));
    }
  }
  Tensor& input(int slot) { return in[slot]; }
  Tensor& output(int slot) { return out[slot]; }
  Tensor& output_grad(int slot) { return out_grad[slot]; }
  Tensor& input_grad(int slot) { return in_grad[slot]; }

  void set(Tensor& t, float value) {
    std::vector<float> v(static_cast<size_t>(n), value);
    copy_bytes(t.raw(), Device::cuda, v.data(), Device::cpu, t.nbytes());
  }
  void expect(const Tensor& t, float value) {
    const std::vector<float> v = on_host<float>(t);
    if (v.front() != value || v.back() != value || v[v.size() / 2] != value) ++wrong;
  }
  void forward(int micro, int slot) {
    if (s > 0) expect(in[slot], micro + 1.0f);
    if (s == 0) set(out[slot], micro + 1.0f);
    else out[slot].copy_from(in[slot]);
  }
  void backward(int micro, int slot) {
    if (s < P - 1) expect(out_grad[slot], -(micro + 1.0f));
    if (s == P - 1) set(in_grad[slot], -(micro + 1.0f));
    else in_grad[slot].copy_from(out_grad[slot]);
  }
};

TEST(Nccl, OneFOneBOverANcclGridDoesNotDeadlock) {
  ALIBI_REQUIRE_GPU_PER_RANK();
  const int P = 2;
  ModelConfig cfg;
  cfg.layers = P;
  const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {1, P, 1}, cfg, CommBackend::nccl);
  const int M = 5;
  RelayStage stage(grid.coord().pp_rank, P, 8 << 20, std::min(P - grid.coord().pp_rank, M));
  run_1f1b(stage, grid, M);
  cuda_synchronize();
  EXPECT_EQ(stage.wrong, 0);
  // Forward only, through the same communicators.
  RelayStage eval(grid.coord().pp_rank, P, 1 << 10, 1);
  run_forward_only(eval, grid, M);
  EXPECT_EQ(eval.wrong, 0);
}

// ---- the model over a tp=2 NCCL grid ---------------------------------------------------------

// One forward and backward at tp=2 on GPUs (TP collectives through NCCL) against the whole
// model on the CPU: the loss, and every rank's block of every gradient.
TEST(Nccl, TensorParallelModelMatchesCpu) {
  ALIBI_REQUIRE_GPU_PER_RANK();
  if (MpiCommunicator(MPI_COMM_WORLD).size() != 2) GTEST_SKIP() << "needs 2 ranks";
  ModelConfig cfg;
  cfg.vocab = 301;  // odd: the vocabulary shards are uneven
  cfg.layers = 2;
  cfg.channels = 128;  // 4 heads of 32, 2 per rank
  cfg.heads = 4;
  cfg.ffn = 256;
  cfg.seq_len = 80;
  const int B = 3, T = cfg.seq_len;
  std::mt19937 gen(5);
  std::vector<int32_t> tokens(size_t(B) * T), targets(tokens.size());
  for (int32_t& t : tokens) t = static_cast<int32_t>(gen() % cfg.vocab);
  for (int32_t& t : targets) t = static_cast<int32_t>(gen() % cfg.vocab);
  const double n = static_cast<double>(B) * T;

  Model<float> cpu(cfg, 11);
  const double cpu_loss = cpu.forward(tokens.data(), targets.data(), B, T);
  cpu.backward(static_cast<float>(1.0 / n));

  const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {2, 1, 1}, cfg, CommBackend::nccl);
  Model<float> gpu(cfg, 11, grid);
  gpu.to_device(Device::cuda, MatmulPrecision::fp32);  // exact products, as the single-GPU model tests use
  const double gpu_loss = gpu.forward(tokens.data(), targets.data(), B, T);
  gpu.backward(static_cast<float>(1.0 / n));
  // The single-GPU model test's fp32 tolerance; TP only reorders float sums (~1e-7).
  EXPECT_NEAR(gpu_loss / n, cpu_loss / n, 1e-5);

  std::map<std::string, const ParamRef*> reference;
  for (const ParamRef& p : cpu.parameters()) reference[p.name] = &p;
  for (const ParamRef& p : gpu.parameters()) {
    const Tensor& full = *reference.at(p.name)->grad;
    const std::vector<float> block = on_host<float>(*p.grad);
    const Shape& g = p.sharding.global_shape;
    const int64_t rows = p.grad->dim(0), cols = p.grad->ndim() == 2 ? p.grad->dim(1) : 1;
    const int64_t gcols = g.size() == 2 ? g[1] : 1, col0 = g.size() == 2 ? p.sharding.offset[1] : 0;
    std::vector<float> expected;  // this rank's block of the CPU gradient
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        expected.push_back(full.data<float>()[(p.sharding.offset[0] + i) * gcols + col0 + j]);
    // As test_cuda_kernels.cpp's fp32 model step (1e-3 of the scale): GPU kernels and TP
    // reorder sums; a wrong shard, offset or missing all-reduce is O(1).
    test::expect_close_in_norm(p.name, block, expected, 1e-3);
  }
}

}  // namespace
}  // namespace alibi
