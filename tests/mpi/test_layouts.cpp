// Same math at any layout: training under tp, pp, dp and their products reproduces the
// single-process run (the reference, run by rank 0 on the same corpus): the loss and the
// reported gradient norm at every step, every gradient at step 1; and checkpoints move
// between layouts. Run by ctest under mpiexec with 2, 4 and 8 ranks; each test runs the
// layouts that fit the world and skips the others. ZeRO-1 (--zero 1) layouts are among
// them: sharding the optimizer state over DP must not change the numbers either.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <tuple>

#include "data/corpus_writer.h"
#include "kernels/alibi.h"
#include "launch/plan.h"
#include "runtime/allocator.h"
#include "tests/compare.h"
#include "train/trainer.h"
#include "tests/mpi/world.h"

namespace alibi {
namespace {

using test::world_size;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// A directory every rank agrees on (rank 0's pid), created by rank 0.
std::string shared_dir() {
  static std::string dir;
  if (dir.empty()) {
    int pid = static_cast<int>(::getpid());
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    dir = (std::filesystem::temp_directory_path() / ("alibi-mpi-" + std::to_string(pid))).string();
    if (world_rank() == 0) std::filesystem::create_directories(dir);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  return dir;
}

// A corpus of random printable text (every rank reads the same file).
const std::string& corpus_path() {
  static std::string path;
  if (path.empty()) {
    path = shared_dir() + "/corpus.h5";
    if (world_rank() == 0) {
      CorpusWriter w(path, Tokenizer::bytes(), 4096);
      std::mt19937 gen(7);
      for (int d = 0; d < 12; ++d) {
        std::string text(3000, ' ');
        for (char& ch : text) ch = static_cast<char>('a' + gen() % 26);
        w.add_document(d < 10 ? Split::train : Split::valid, text);
      }
      w.finish("random letters for the layout tests");
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  return path;
}

ModelConfig tiny_model(int heads, int layers) {
  ModelConfig cfg;
  cfg.vocab = 257;
  cfg.layers = layers;
  cfg.channels = 48;  // 8 heads of 6 or 12 heads of 4
  cfg.heads = heads;
  cfg.ffn = 96;
  cfg.seq_len = 24;
  return cfg;
}

TrainOptions tiny_options(int micro_batch, int zero = 0) {
  TrainOptions opt;
  opt.zero = zero;
  opt.data = corpus_path();
  opt.micro_batch = micro_batch;
  opt.grad_accum = 3;  // several micro-batches in flight through the pipeline
  opt.lr = 3e-3;
  opt.clip = 1.0;
  opt.seed = 99;
  return opt;
}

constexpr int kSteps = 20;
constexpr double kLr = 3e-3;

// The run every layout must reproduce: one process with the same global batch.
struct ReferenceRun {
  std::vector<StepResult> steps;  // loss and grad_norm of each step
  // Each parameter's gradient after step 1 (clipped, as the layouts' are), in the
  // reference model's parameter order.
  std::vector<std::pair<std::string, std::vector<double>>> step1_grads;
};

// The single-process run of `cfg` at `micro_batch` windows, run by rank 0 once per model
// and batch (layouts of equal dp share it) and broadcast: every rank running it for every
// layout was most of the MPI tests' CPU time, for the same numbers.
const ReferenceRun& reference_run(const ModelConfig& cfg, int micro_batch) {
  static std::map<std::tuple<int, int, int>, ReferenceRun> cache;
  const auto key = std::make_tuple(cfg.heads, cfg.layers, micro_batch);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  ReferenceRun run;
  Corpus corpus(corpus_path());
  // Every rank builds the model (cheap) for its parameters' names and sizes.
  const ProcessGrid single = ProcessGrid::single();
  Trainer ref(cfg, tiny_options(micro_batch), single, corpus);
  for (const ParamRef& p : ref.model().parameters())
    run.step1_grads.emplace_back(p.name, std::vector<double>(static_cast<size_t>(p.grad->numel())));
  std::vector<double> scalars(2 * kSteps);
  if (world_rank() == 0) {
    for (int step = 0; step < kSteps; ++step) {
      const StepResult r = ref.step(kLr);
      scalars[2 * step] = r.loss;
      scalars[2 * step + 1] = r.grad_norm;
      if (step > 0) continue;
      const ParameterList& params = ref.model().parameters();
      for (size_t k = 0; k < params.size(); ++k) {
        const float* g = params[k].grad->data<float>();
        std::copy(g, g + params[k].grad->numel(), run.step1_grads[k].second.begin());
      }
    }
  }
  MPI_Bcast(scalars.data(), static_cast<int>(scalars.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  for (auto& [name, g] : run.step1_grads) MPI_Bcast(g.data(), static_cast<int>(g.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  for (int step = 0; step < kSteps; ++step) {
    StepResult r;
    r.loss = scalars[2 * step];
    r.grad_norm = scalars[2 * step + 1];
    run.steps.push_back(r);
  }
  return cache.emplace(key, std::move(run)).first->second;
}

// The full gradient of every parameter of the reference run, assembled from the ranks'
// blocks: each element is contributed once (see Trainer's writer rule; under ZeRO-1 each
// DP rank holds the summed gradient of its shard only, so each contributes that) and the
// world sums the disjoint blocks.
std::map<std::string, std::vector<double>> gather_grads(const Trainer& dist, const ProcessGrid& grid,
                                                        const ReferenceRun& reference) {
  std::map<std::string, const ParamRef*> mine;
  for (const ParamRef& p : const_cast<Trainer&>(dist).model().parameters()) {
    if (!p.tied_copy) mine[p.name] = &p;
  }
  const GridCoord& c = grid.coord();
  const ParameterList& params = const_cast<Trainer&>(dist).model().parameters();
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, ref_grad] : reference.step1_grads) {
    std::vector<double> full(ref_grad.size(), 0.0);
    auto it = mine.find(name);
    const bool zero = !dist.zero_shards().empty();
    if (it != mine.end() && (zero || c.dp_rank == 0) && (!it->second->sharding.replicated || c.tp_rank == 0)) {
      const ParamRef& p = *it->second;
      const ElementRange held = zero ? dist.zero_shards().at(static_cast<size_t>(&p - params.data()))
                                     : ElementRange{0, p.grad->numel()};
      const Shape& g = p.sharding.global_shape;
      const float* src = p.grad->data<float>();
      const int64_t cols = p.grad->ndim() == 2 ? p.grad->dim(1) : 1;
      const int64_t gcols = g.size() == 2 ? g[1] : 1, col0 = g.size() == 2 ? p.sharding.offset[1] : 0;
      for (int64_t e = held.begin; e < held.end; ++e)
        full[(p.sharding.offset[0] + e / cols) * gcols + col0 + e % cols] = src[e];
    }
    grid.world().all_reduce_sum(full.data(), static_cast<int64_t>(full.size()));
    out[name] = std::move(full);
  }
  return out;
}

struct Layout {
  int tp, pp, dp;
  int zero = 0;  // --zero
  std::vector<int> stage_blocks = {};  // --pp-split; empty: even
  Recompute recompute = Recompute::none;
};

// watched: the grid's communicators run under an enabled watchdog (non-blocking MPI calls
// completed by polling, as `alibi train` runs them by default), else blocking calls.
void expect_same_training(const Layout& layout, int heads, int layers, bool watched) {
  const ModelConfig cfg = tiny_model(heads, layers);
  auto dog = watched ? std::make_shared<Watchdog>(MPI_COMM_WORLD, 600.0, kTrainJob) : nullptr;
  const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {layout.tp, layout.pp, layout.dp, layout.stage_blocks},
                                               cfg, CommBackend::mpi, dog);
  Corpus corpus(corpus_path());
  const int mb = 2;
  TrainOptions opt = tiny_options(mb, layout.zero);
  opt.recompute = layout.recompute;
  Trainer dist(cfg, opt, grid, corpus);
  ASSERT_EQ(dist.zero(), layout.zero == 1);
  if (!layout.stage_blocks.empty()) {  // this stage holds the blocks the split gives it
    const int stage = grid.coord().pp_rank;
    int first = 0;
    for (int s = 0; s < stage; ++s) first += layout.stage_blocks[s];
    EXPECT_EQ(dist.model().layer_range(), std::make_pair(first, first + layout.stage_blocks[stage]));
  }
  // The same global batch in one process: micro-batches of mb x dp windows.
  const ReferenceRun& ref = reference_run(cfg, mb * layout.dp);
  for (int step = 0; step < kSteps; ++step) {
    const StepResult d = dist.step(kLr);
    const StepResult& r = ref.steps[step];
    // The reported norm (before clipping) must be the global one on every rank: each
    // rank checks its own. Measured here it differs by at most 8e-8 relative over all 20
    // steps of every layout, ZeRO-1 ones included (float sums in another order), so 1e-6
    // leaves 10x room, while a parameter counted on every tp or dp rank, a tied copy
    // counted twice, a ZeRO shard counted on one DP rank only, or a norm left unsummed
    // over the world moved it by 8e-5 to 0.4. A norm reported wrong but clipped right
    // changes no loss and no gradient: only this check sees it.
    EXPECT_NEAR(d.grad_norm, r.grad_norm, 1e-6 * r.grad_norm) << "step " << step + 1 << " grad norm";
    if (step == 0) {
      // Step 1 differs only in the order of float sums: TP splits each GEMM's inner
      // dimension and the softmax's vocabulary sum, DP sums micro-batch gradients across
      // ranks. Single-precision rounding of O(1) losses stays far below 1e-6 relative.
      EXPECT_NEAR(d.loss, r.loss, 1e-6 * std::abs(r.loss)) << "step 1 loss";
      const auto full = gather_grads(dist, grid, ref);
      for (const auto& [name, expected] : ref.step1_grads) {
        // Gradients accumulate those rounding differences over the backward's reductions
        // (per element ~1e-7 relative); 1e-5 of the norm still catches any wrong shard,
        // offset or missing reduction, which are O(1).
        test::expect_close_in_norm(name, full.at(name), expected, 1e-5);
      }
    } else {
      // Over kSteps AdamW steps the rounding differences grow (Adam normalises small
      // gradients); 1e-4 relative is well inside any real divergence.
      EXPECT_NEAR(d.loss, r.loss, 1e-4 * std::abs(r.loss)) << "step " << step + 1;
    }
  }
}

std::vector<Layout> layouts_for_world(int n) {
  if (n == 2) return {{2, 1, 1}, {1, 2, 1}, {1, 1, 2}, {1, 1, 2, /*zero=*/1}};
  // At 4 ranks each product of two axes on its own: tp x pp, tp x dp, pp x dp; ZeRO-1 at
  // tp x dp (shards of TP-sharded and TP-replicated tensors) and pp x dp (the tied
  // embedding's copies updated in differently cut shards on the two stages).
  if (n == 4) return {{2, 2, 1}, {2, 1, 2}, {1, 2, 2}, {2, 1, 2, 1}, {1, 2, 2, 1}};
  if (n == 8) return {{2, 2, 2}};
  return {};
}

// expect_same_training over every layout that fits this world.
void expect_every_layout_trains_the_same(int heads, int layers, bool watched) {
  for (const Layout& l : layouts_for_world(world_size())) {
    SCOPED_TRACE("tp=" + std::to_string(l.tp) + " pp=" + std::to_string(l.pp) + " dp=" + std::to_string(l.dp) +
                 " zero=" + std::to_string(l.zero));
    expect_same_training(l, heads, layers, watched);
  }
}

TEST(Layouts, ReproduceSingleProcessWith8Heads) {
  if (layouts_for_world(world_size()).empty()) GTEST_SKIP() << "no layout for " << world_size() << " ranks";
  expect_every_layout_trains_the_same(8, 3, /*watched=*/false);  // 3 layers: an uneven pipeline split
}

TEST(Layouts, ReproduceSingleProcessWith12Heads) {
  if (layouts_for_world(world_size()).empty()) GTEST_SKIP() << "no layout for " << world_size() << " ranks";
  expect_every_layout_trains_the_same(12, 2, /*watched=*/true);  // the watchdog's non-blocking calls
}

TEST(Layouts, EachRankComputesTheSlopesOfItsOwnHeads) {
  const int n = world_size();
  for (int heads : {8, 12}) {
    if (heads % n != 0) continue;  // tp must divide the heads (12 over 8 ranks does not)
    const ModelConfig cfg = tiny_model(heads, 2);
    const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {n, 1, 1}, cfg);
    Model<float> model(cfg, 1, grid);
    const AttentionShape& s = model.blocks[0].attn.shape();
    EXPECT_EQ(s.NH, heads / n);
    EXPECT_EQ(s.head_offset, grid.coord().tp_rank * heads / n);
    EXPECT_EQ(s.n_heads_total, heads);
    // The single-process slopes, from the paper's definition for n=8 and n=12.
    std::vector<double> expected;
    for (int h = 0; h < heads; ++h) {
      expected.push_back(heads == 8 ? std::pow(2.0, -(h + 1)) : h < 8 ? std::pow(2.0, -(h + 1)) : std::pow(2.0, -(2 * (h - 8) + 1) / 2.0));
    }
    for (int h = 0; h < s.NH; ++h) EXPECT_EQ(alibi_slope(s.head_offset + h, s.n_heads_total), expected[s.head_offset + h]);
  }
}

// Pipeline stages of uneven size: 8 blocks over 3 stages, split by hand (2, 4, 2) and as
// an even split would (3, 3, 2) with full recomputation, against the single process.
// Run by ctest at 3 ranks only (mpi.layouts.pp_split.np3).
TEST(Layouts, ThreeStagesOverEightBlocks) {
  if (world_size() != 3) GTEST_SKIP() << "needs 3 ranks";
  for (const Layout& l : {Layout{1, 3, 1, 0, {2, 4, 2}}, Layout{1, 3, 1, 0, {3, 3, 2}, Recompute::full}}) {
    SCOPED_TRACE("--pp-split " + split_text(l.stage_blocks) + " --recompute " + enum_name(l.recompute));
    expect_same_training(l, 8, 8, /*watched=*/false);
  }
}

// Recomputation under a layout: the TP all-reduces rerun inside backward, pipeline slots
// recompute their own blocks; losses, reported norms and every local gradient are the
// same bits as the same layout keeping its activations.
TEST(Layouts, RecomputeGivesTheSameBits) {
  const int n = world_size();
  if (n != 2 && n != 4) GTEST_SKIP() << "runs at 2 and 4 ranks";
  const Layout layout = n == 2 ? Layout{1, 2, 1, 0, {1, 2}} : Layout{2, 2, 1};
  const ModelConfig cfg = tiny_model(8, 3);
  const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {layout.tp, layout.pp, layout.dp, layout.stage_blocks}, cfg);
  Corpus corpus(corpus_path());
  Trainer plain(cfg, tiny_options(2), grid, corpus);
  std::vector<StepResult> plain_steps;
  std::vector<std::vector<float>> plain_grads;
  for (int step = 0; step < 3; ++step) {
    plain_steps.push_back(plain.step(kLr));
    if (step > 0) continue;
    for (const ParamRef& p : plain.model().parameters())
      plain_grads.emplace_back(p.grad->data<float>(), p.grad->data<float>() + p.grad->numel());
  }
  for (Recompute mode : {Recompute::selective, Recompute::full}) {
    SCOPED_TRACE(std::string("--recompute ") + enum_name(mode));
    TrainOptions opt = tiny_options(2);
    opt.recompute = mode;
    Trainer again(cfg, opt, grid, corpus);
    for (int step = 0; step < 3; ++step) {
      const StepResult r = again.step(kLr);
      // Tolerance 0: the same kernels and collectives on the same inputs in the same order.
      EXPECT_EQ(r.loss, plain_steps[step].loss) << "step " << step + 1;
      EXPECT_EQ(r.grad_norm, plain_steps[step].grad_norm) << "step " << step + 1;
      if (step > 0) continue;
      const ParameterList& params = again.model().parameters();
      ASSERT_EQ(params.size(), plain_grads.size());
      for (size_t k = 0; k < params.size(); ++k) {
        const std::vector<float> g(params[k].grad->data<float>(), params[k].grad->data<float>() + params[k].grad->numel());
        test::expect_close_per_element(params[k].name, g, plain_grads[k], 0.0);
      }
    }
  }
}

// The LM head's vocabulary padding (Model::set_vocab_multiple, 64 on CUDA) under TP: each
// rank pads its own shard (257 tokens over 2 ranks: 129 rows padded to 192 and 128 left as
// they are; over 4: 65 -> 128, three of 64 unpadded), and the vocabulary-parallel softmax
// must not count the padding columns in its max or its sum. The padded model at tp=n gives
// the unpadded one's loss, real logits and every local gradient at the same layout, whose
// equality with one process the tests above show; its padding stays zero.
TEST(Layouts, VocabPaddingUnderTp) {
  const int n = world_size();
  if (n != 2 && n != 4) GTEST_SKIP() << "runs at 2 and 4 ranks";
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied head" : "untied head");
    ModelConfig cfg = tiny_model(8, 2);
    cfg.tie_embeddings = tied;
    const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {n, 1, 1}, cfg);
    Model<float> plain(cfg, 5, grid), padded(cfg, 5, grid);
    padded.set_vocab_multiple(64);
    const int64_t rows = plain.head_rows(), C = cfg.channels;
    ASSERT_EQ(padded.head_rows(), padded_rows(rows, 64));
    const int B = 2, T = cfg.seq_len, N = B * T;
    std::vector<int32_t> tokens(N), targets(N);
    std::mt19937 gen(11);
    for (int i = 0; i < N; ++i) {
      tokens[i] = static_cast<int32_t>(gen() % cfg.vocab);
      targets[i] = i % 5 == 2 ? -1 : static_cast<int32_t>(gen() % cfg.vocab);
    }
    targets[0] = cfg.vocab - 1;  // the last row of the last shard
    for (int micro = 0; micro < 2; ++micro) {  // gradients accumulate over two micro-batches
      const double lp = plain.forward(tokens.data(), targets.data(), B, T);
      const double lq = padded.forward(tokens.data(), targets.data(), B, T);
      // Float sums over the shard in another blocking, at most: scoring one padding column
      // (a logit 0 among logits ~0.1) moves the loss by ~1e-2 relative.
      EXPECT_NEAR(lq, lp, 1e-6 * std::abs(lp)) << "micro-batch " << micro;
      const float* zp = plain.logits().data<float>();
      const float* zq = padded.logits().data<float>();
      for (int64_t r = 0; r < N; ++r) {
        // Logits of size ~1 from a 48-term float dot product in another blocking: ~1e-7.
        for (int64_t v = 0; v < rows; ++v) ASSERT_NEAR(zq[r * padded.head_rows() + v], zp[r * rows + v], 1e-5f);
        for (int64_t v = rows; v < padded.head_rows(); ++v) ASSERT_EQ(zq[r * padded.head_rows() + v], 0.0f);
      }
      plain.backward(1.0f / N);
      padded.backward(1.0f / N);
    }
    const ParameterList& a = plain.parameters();
    const ParameterList& b = padded.parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].grad->shape(), b[i].grad->shape()) << a[i].name;
      const std::vector<float> ga(a[i].grad->data<float>(), a[i].grad->data<float>() + a[i].grad->numel());
      const std::vector<float> gb(b[i].grad->data<float>(), b[i].grad->data<float>() + b[i].grad->numel());
      test::expect_close_in_norm(b[i].name, gb, ga, 1e-5);
    }
    const float* w = padded.padded_head().data<float>();
    const float* dw = padded.padded_head_grad().data<float>();
    for (int64_t k = rows * C; k < padded.head_rows() * C; ++k) {
      ASSERT_EQ(w[k], 0.0f) << "padding weight element " << k;
      ASSERT_EQ(dw[k], 0.0f) << "padding gradient element " << k;
    }
  }
}

// A checkpoint saved at tp=2 x pp=2 continues at tp=1 x pp=1 and the reverse.
TEST(Layouts, CheckpointsMoveBetweenLayouts) {
  if (world_size() != 4) GTEST_SKIP() << "needs 4 ranks";
  const ModelConfig cfg = tiny_model(8, 2);
  const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {2, 2, 1}, cfg);
  const ProcessGrid single = ProcessGrid::single();
  Corpus corpus(corpus_path());
  const double lr = 3e-3;
  // Parallel -> single.
  {
    const std::string path = shared_dir() + "/from_parallel.h5";
    Trainer dist(cfg, tiny_options(2), grid, corpus);
    dist.step(lr);
    dist.save(path);
    const double continued = dist.step(lr).loss;
    Trainer one(cfg, tiny_options(2), single, corpus);
    EXPECT_EQ(one.resume(path), 1);
    // Only summation order differs between the two layouts (see above).
    EXPECT_NEAR(one.step(lr).loss, continued, 1e-6 * continued);
  }
  // Single -> parallel.
  {
    const std::string path = shared_dir() + "/from_single.h5";
    Trainer one(cfg, tiny_options(2), single, corpus);
    one.step(lr);
    if (world_rank() == 0) one.save(path);
    MPI_Barrier(MPI_COMM_WORLD);
    const double continued = one.step(lr).loss;
    Trainer dist(cfg, tiny_options(2), grid, corpus);
    EXPECT_EQ(dist.resume(path), 1);
    EXPECT_NEAR(dist.step(lr).loss, continued, 1e-6 * continued);
  }
}

// What a Trainer allocates for its state (weights, grads, DP buckets, AdamW moments) is
// what `alibi plan` predicts, with and without ZeRO-1, on every rank: with ZeRO-1 at dp=2
// the moments are halved (padding to equal shards included), so a miscut shard or a
// moment allocated whole shows as a byte difference.
TEST(Layouts, ZeroStateMatchesPlan) {
  const int n = world_size();
  if (n != 2 && n != 4) GTEST_SKIP() << "needs 2 or 4 ranks";
  const ModelConfig cfg = tiny_model(8, 3);
  const GridShape shape = n == 2 ? GridShape{1, 1, 2} : GridShape{2, 1, 2};
  const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, shape, cfg);
  Corpus corpus(corpus_path());
  const RankPlan plan = plan_layout(cfg, shape, 2, 3).at(grid.rank());
  for (int zero : {0, 1}) {
    CpuAllocator& alloc = CpuAllocator::instance();
    const size_t before = alloc.stats().bytes_in_use;
    Trainer t(cfg, tiny_options(2, zero), grid, corpus);
    const double state = static_cast<double>(alloc.stats().bytes_in_use - before);
    // The allocator rounds each tensor up to 64 B, which plan leaves out as slack (a
    // vocabulary shard of 129 rows, a ZeRO shard cut anywhere): under 64 B for each of a
    // parameter's value, grad, m, v and its bucket's share. A moment allocated whole
    // instead of its shard would add ~100 kB.
    const double slack = 5.0 * 64 * static_cast<double>(t.model().parameters().size());
    EXPECT_NEAR(state, zero ? plan.zero1_state_bytes : plan.state_bytes, slack) << "--zero " << zero;
  }
  // Of 20 B per parameter at dp > 1 (weights, grads, bucket, m, v), m and v halve: 20% less.
  EXPECT_LT(plan.zero1_state_bytes, 0.81 * plan.state_bytes);
}

// The losses of the next two steps: the first sees only the restored weights (a step's
// loss comes before its update), the second also the restored AdamW moments.
std::vector<double> losses_of_next_steps(Trainer& t, double lr) {
  const double first = t.step(lr).loss;
  return {first, t.step(lr).loss};
}

void expect_same_losses(const std::vector<double>& got, const std::vector<double>& expected, const std::string& what) {
  // Only summation order differs between the layouts (see expect_same_training): 1e-6.
  for (size_t k = 0; k < expected.size(); ++k)
    EXPECT_NEAR(got[k], expected[k], 1e-6 * expected[k]) << what << ", step " << k + 1 << " after the resume";
}

// A ZeRO-1 checkpoint holds whole tensors: it continues at dp=1 without ZeRO (the moments
// gathered right), and a plain checkpoint continues under ZeRO-1 (the moments sliced
// right). Run at 2 ranks only: at 4 (dp=4 -> tp2 x dp2 as well) it passes too, but costs
// minutes of CI on a loaded 2-core machine (ALIBI_ZERO_CHECKPOINTS_AT_4=1 runs it there).
TEST(Layouts, ZeroCheckpointsMoveBetweenLayouts) {
  const int n = world_size();
  if (n != 2 && !std::getenv("ALIBI_ZERO_CHECKPOINTS_AT_4")) GTEST_SKIP() << "runs at 2 ranks";
  if (n != 2 && n != 4) GTEST_SKIP() << "needs 2 or 4 ranks";
  const ModelConfig cfg = tiny_model(8, 2);
  const ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, {1, 1, n}, cfg);
  const ProcessGrid single = ProcessGrid::single();
  Corpus corpus(corpus_path());
  const double lr = 3e-3;
  const int mb = 2;  // per DP rank; the single process runs the same global batch
  {
    const std::string path = shared_dir() + "/from_zero.h5";
    Trainer dist(cfg, tiny_options(mb, 1), grid, corpus);
    ASSERT_TRUE(dist.zero());
    dist.step(lr);
    dist.step(lr);  // moments of two steps: m and v differ from a fresh start's
    dist.save(path);
    const std::vector<double> continued = losses_of_next_steps(dist, lr);
    Trainer one(cfg, tiny_options(mb * n), single, corpus);
    EXPECT_EQ(one.resume(path), 2);
    expect_same_losses(losses_of_next_steps(one, lr), continued, "ZeRO dp=" + std::to_string(n) + " -> dp=1 without ZeRO");
    if (n == 4) {
      const ProcessGrid tp2dp2 = ProcessGrid::create(MPI_COMM_WORLD, {2, 1, 2}, cfg);
      Trainer other(cfg, tiny_options(2 * mb, 1), tp2dp2, corpus);
      ASSERT_TRUE(other.zero());
      EXPECT_EQ(other.resume(path), 2);
      expect_same_losses(losses_of_next_steps(other, lr), continued, "ZeRO dp=4 -> ZeRO tp=2 x dp=2");
    }
  }
  {
    const std::string path = shared_dir() + "/to_zero.h5";
    Trainer one(cfg, tiny_options(mb * n), single, corpus);
    one.step(lr);
    one.step(lr);
    if (world_rank() == 0) one.save(path);
    MPI_Barrier(MPI_COMM_WORLD);
    const std::vector<double> continued = losses_of_next_steps(one, lr);
    Trainer dist(cfg, tiny_options(mb, 1), grid, corpus);
    EXPECT_EQ(dist.resume(path), 2);
    expect_same_losses(losses_of_next_steps(dist, lr), continued, "dp=1 -> ZeRO dp=" + std::to_string(n));
  }
}

}  // namespace
}  // namespace alibi
