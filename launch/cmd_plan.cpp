// alibi plan: what every rank of a layout would hold, without launching it (one process,
// no communication): coordinates, blocks, heads and their ALiBi slopes, vocabulary rows,
// parameter elements and a memory estimate; a bad layout prints the failed equation.
// With --gpus N, a scaling study instead: every tp x pp x dp layout and micro-batch size
// of N GPUs, the memory per GPU with and without activation recomputation, whether it
// fits, and the predicted step time and tokens/s, with the model's assumptions.
//
//   alibi plan --config launch/configs/tiny.ini --tp 2 --pp 2 --dp 2
//   alibi plan --layers 24 --channels 2048 --heads 16 --tp 4 --pp 2 --dp 8 --micro-batch 4 --grad-accum 16
//   alibi plan --config launch/configs/alibi_1.3b.ini --gpus 8 --gpu-memory-gb 80
//   alibi plan ... --json                      # the same, machine-readable
//
// It takes every option of `alibi train`, so a training INI works unchanged; --data, when
// the file is here, supplies the vocabulary as it would for training.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "kernels/alibi.h"
#include "launch/commands.h"
#include "launch/plan.h"
#include "launch/report.h"
#include "train/options.h"
#include "runtime/error.h"

namespace alibi {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGB = 1e9;

// "[a, b)" in the text, [a, b] in the JSON.
template <class T>
Cell range(const std::pair<T, T>& r) {
  return {"[" + std::to_string(r.first) + ", " + std::to_string(r.second) + ")", Json::array({r.first, r.second})};
}

// The model both outputs start with: "L=24 C=2048 ..." in the text, {"layers": 24, ...}.
std::vector<Column<ModelConfig>> model_columns() {
  return {
      {"L", "layers", [](const ModelConfig& m) { return Cell(m.layers); }},
      {"C", "channels", [](const ModelConfig& m) { return Cell(m.channels); }},
      {"NH", "heads", [](const ModelConfig& m) { return Cell(m.heads); }},
      {"HS", "head_size", [](const ModelConfig& m) { return Cell(m.head_size()); }},
      {"F", "ffn", [](const ModelConfig& m) { return Cell(m.ffn_width()); }},
      {"V", "vocab", [](const ModelConfig& m) { return Cell(m.vocab); }},
      {"T", "seq_len", [](const ModelConfig& m) { return Cell(m.seq_len); }},
      {"position", "position", [](const ModelConfig& m) { return Cell(enum_name(m.position)); }},
      {"tied embeddings", "tie_embeddings", [](const ModelConfig& m) { return Cell(m.tie_embeddings); }},
      {"parameters", "parameters", [](const ModelConfig& m) { return Cell::grouped(m.parameter_count()); }},
  };
}

void print_model_line(const ModelConfig& cfg, const std::string& vocab_source) {
  std::string line = "model:";
  const auto columns = model_columns();
  const std::vector<std::string> headers = header_row(columns), cells = text_row(columns, cfg);
  for (size_t i = 0; i < headers.size(); ++i) line += (i == 0 ? " " : i < 7 ? " " : ", ") + headers[i] + "=" + cells[i];
  std::printf("%s (V: %s)\n", line.c_str(), vocab_source.c_str());
}

struct PlanInput {
  ModelConfig cfg;
  GridShape shape;
  int micro_batch = 1, grad_accum = 1;
  Recompute recompute = Recompute::none;
  std::string pp_split = "auto";
  std::string vocab_source;
};

// The ALiBi slopes of the rank's heads: [{"head": h, "log2": x, "value": 2^x}, ...].
Json slopes_of(const ModelConfig& cfg, const RankPlan& r) {
  Json slopes = Json::array();
  if (cfg.position != PositionMethod::alibi) return slopes;
  for (int h = r.heads.first; h < r.heads.second; ++h) {
    const double m = alibi_slope(h, cfg.heads);
    slopes.push_back({{"head", h}, {"log2", std::log2(m)}, {"value", m}});
  }
  return slopes;
}

std::string general(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// One rank of the per-rank plan: the text table's row and the JSON's "ranks" entry.
std::vector<Column<RankPlan>> rank_columns(const ModelConfig& cfg) {
  auto vocab_here = [](const RankPlan& r) { return r.embedding_stage || r.head_stage; };
  auto mib = [](int64_t bytes) { return Cell(fixed(bytes / kMiB, 1), bytes); };
  return {
      {"rank", "rank", [](const RankPlan& r) { return Cell(r.rank); }},
      {"tp", "tp_rank", [](const RankPlan& r) { return Cell(r.coord.tp_rank); }},
      {"dp", "dp_rank", [](const RankPlan& r) { return Cell(r.coord.dp_rank); }},
      {"pp", "pp_rank", [](const RankPlan& r) { return Cell(r.coord.pp_rank); }},
      {"layers", "layers", [](const RankPlan& r) { return range(r.layers); }},
      {"heads", "heads", [](const RankPlan& r) { return range(r.heads); }},
      {nullptr, "slopes", [cfg](const RankPlan& r) { return Cell("", slopes_of(cfg, r)); }},
      {"vocab rows", "vocab", [=](const RankPlan& r) { return vocab_here(r) ? range(r.vocab) : Cell::none(); }},
      {nullptr, "params.embedding", [](const RankPlan& r) { return Cell(r.params.embedding); }},
      {nullptr, "params.positions", [](const RankPlan& r) { return Cell(r.params.positions); }},
      {nullptr, "params.blocks", [](const RankPlan& r) { return Cell(r.params.blocks); }},
      {nullptr, "params.head", [](const RankPlan& r) { return Cell(r.params.head); }},
      {nullptr, "params.tp_replicated", [](const RankPlan& r) { return Cell(r.params.replicated); }},
      {"params", "params.local", [](const RankPlan& r) { return Cell::grouped(r.params.local()); }},
      {"tied copy", "params.tied_copy",
       [](const RankPlan& r) {
         return r.params.tied_copy > 0 ? Cell::grouped(r.params.tied_copy) : Cell("-", int64_t{0});
       }},
      {"in flight", "in_flight", [](const RankPlan& r) { return Cell(r.in_flight); }},
      {"state MiB", "state_bytes", [=](const RankPlan& r) { return mib(r.state_bytes); }},
      {"activ. MiB", "activation_bytes", [=](const RankPlan& r) { return mib(r.activation_bytes); }},
      {"scratch MiB", "scratch_bytes", [=](const RankPlan& r) { return mib(r.scratch_bytes); }},
      {"total MiB", "total_bytes", [=](const RankPlan& r) { return mib(r.total_bytes()); }},
      {"ZeRO-1 state", "zero1_state_bytes", [=](const RankPlan& r) { return mib(r.zero1_state_bytes); }},
      {"ZeRO-1 total", "zero1_total_bytes", [=](const RankPlan& r) { return mib(r.zero1_total_bytes()); }},
  };
}

// The sum over ranks, shown as the table's last row and the JSON's "total".
RankPlan total_of(const std::vector<RankPlan>& plan) {
  RankPlan t;
  for (const RankPlan& r : plan) {
    t.params.blocks += r.params.local();
    t.state_bytes += r.state_bytes;
    t.activation_bytes += r.activation_bytes;
    t.zero1_state_bytes += r.zero1_state_bytes;
    t.scratch_bytes += r.scratch_bytes;
  }
  return t;
}

// Each pipeline stage's FLOPs per token under the split and its predicted idle share of
// a step: step = (M + pp - 1) x the slowest stage's micro-batch, stage s busy M x its own.
struct StageLoad {
  int stage = 0;
  std::pair<int, int> layers;
  double flops = 0;  // per token, forward and backward (recomputation included)
  double idle = 0;   // share of the step
};

std::vector<StageLoad> stage_loads(const PlanInput& in) {
  const StageCosts c = stage_costs(in.cfg, in.recompute);
  const int pp = in.shape.pp, M = in.grad_accum;
  std::vector<StageLoad> loads(pp);
  double slowest = 0;
  for (int s = 0; s < pp; ++s) {
    StageLoad& l = loads[s];
    l.stage = s;
    l.layers = stage_layers(in.shape, in.cfg.layers, s);
    l.flops = (l.layers.second - l.layers.first) * c.block + (s == 0 ? c.embedding : 0.0) + (s == pp - 1 ? c.head : 0.0);
    slowest = std::max(slowest, l.flops);
  }
  for (StageLoad& l : loads) l.idle = 1.0 - M * l.flops / ((M + pp - 1) * slowest);
  return loads;
}

// The most any rank holds under each --recompute mode.
Json recompute_totals(const PlanInput& in) {
  Json j = Json::object();
  for (const auto& [mode, name] : EnumNames<Recompute>::values) {
    int64_t most = 0;
    for (const RankPlan& r : plan_layout(in.cfg, in.shape, in.micro_batch, in.grad_accum, mode))
      most = std::max(most, r.total_bytes());
    j[name] = most;
  }
  return j;
}

void print_text(const PlanInput& in, const std::vector<RankPlan>& plan, int64_t replica_params) {
  const ModelConfig& cfg = in.cfg;
  const GridShape& g = in.shape;
  const int64_t windows = int64_t{in.micro_batch} * in.grad_accum * g.dp;
  print_model_line(cfg, in.vocab_source);
  std::printf("layout: tp=%d pp=%d dp=%d = %d rank%s; micro-batch %d x grad-accum %d x dp %d = %lld windows "
              "(%s tokens) per step\n\n",
              g.tp, g.pp, g.dp, g.world(), g.world() == 1 ? "" : "s", in.micro_batch, in.grad_accum, g.dp,
              static_cast<long long>(windows), grouped(windows * cfg.seq_len).c_str());

  const auto columns = rank_columns(cfg);
  std::vector<std::vector<std::string>> rows = {header_row(columns)};
  for (const RankPlan& r : plan) rows.push_back(text_row(columns, r));
  // The total row: the summed columns, blank elsewhere.
  const RankPlan total = total_of(plan);
  std::vector<std::string> last;
  for (const Column<RankPlan>& c : columns) {
    if (!c.header) continue;
    const std::string h = c.header;
    last.push_back(h == "rank" ? "total" : h == "params" ? grouped(total.params.local()) : h.ends_with("MiB") || h.starts_with("ZeRO") ? c.cell(total).text : "");
  }
  rows.push_back(last);
  print_table(rows);

  std::printf("\nparams: elements allocated on the rank; 'tied copy' (included) is the last stage's copy of the\n"
              "  tied embedding shard.%s\n"
              "state: fp32 weights, grads, AdamW m and v (16 B/param)%s.\n"
              "activ.: tensors kept for backward by each micro-batch in flight (1F1B: min(pp - pp_rank, grad-accum)),\n"
              "  with --recompute %s. scratch: one block's gradients in backward%s, kept by the caching\n"
              "  allocator. A process's peak RSS is the total plus about 40 MiB (libraries, MPI, the corpus).\n"
              "ZeRO-1 state, total (MiB): the same with --zero 1, AdamW m and v sharded over dp (8 B/param / dp;\n"
              "  equal to state at dp = 1).\n",
              cfg.position == PositionMethod::learned ? " The first stage holds the learned position table." : "",
              g.dp > 1 ? " + DP all-reduce buckets (4 B/param)" : "", enum_name(in.recompute),
              in.recompute == Recompute::full        ? " and the block being recomputed"
              : in.recompute == Recompute::selective ? " and the attention core being recomputed"
                                                     : "");
  std::string modes;
  const Json totals = recompute_totals(in);
  for (const auto& [name, bytes] : totals.items())
    modes += (modes.empty() ? "" : ", ") + name + " " + fixed(bytes.get<int64_t>() / kMiB, 1);
  std::printf("--recompute: the rank needing the most holds (MiB) %s.\n", modes.c_str());
  if (g.pp > 1) {
    char bubble[32];
    std::snprintf(bubble, sizeof bubble, "%.1f%%", 100 * pipeline_bubble(g.pp, in.grad_accum));
    std::printf("\n");
    print_wrapped("", "  ",
                  "pipeline: --pp-split " + in.pp_split + "; 1F1B over " + std::to_string(in.grad_accum) +
                      " micro-batches, bubble (pp - 1) / (M + pp - 1) = " + bubble +
                      " with equal stages. FLOPs per token by stage (forward and backward; the embedding on the "
                      "first, the LM head and loss on the last) and each stage's predicted idle share of a step:");
    for (const StageLoad& l : stage_loads(in))
      std::printf("  stage %d  blocks [%d, %d)  %.1f MFLOP  idle %.1f%%\n", l.stage, l.layers.first, l.layers.second,
                  l.flops / 1e6, 100 * l.idle);
  }

  if (cfg.position == PositionMethod::alibi) {
    std::printf("\nALiBi slopes of each tp rank's heads (the same at every dp and pp rank; head h of NH=%d: slope = 2^x):\n",
                cfg.heads);
    for (const RankPlan& r : plan) {
      if (r.coord.dp_rank != 0 || r.coord.pp_rank != 0) continue;
      std::string line = "  tp " + std::to_string(r.coord.tp_rank) + "  heads " + range(r.heads).text + ":";
      for (const Json& s : slopes_of(cfg, r))
        line += "  h" + s["head"].dump() + " 2^" + general(s["log2"]) + " = " + general(s["value"]);
      std::printf("%s\n", line.c_str());
    }
  } else {
    std::printf("\nno ALiBi slopes: --position %s\n", enum_name(cfg.position));
  }

  const int64_t expected = cfg.parameter_count();
  std::printf("\nparameters: %s in the model, %s summed over one DP replica's ranks: %s\n"
              "  (each once: the tied copy left out, TP-replicated LayerNorms and row-parallel biases on tp rank 0)\n",
              grouped(expected).c_str(), grouped(replica_params).c_str(), expected == replica_params ? "ok" : "MISMATCH");
}

void print_json(const PlanInput& in, const std::vector<RankPlan>& plan, int64_t replica_params) {
  const ModelConfig& cfg = in.cfg;
  const GridShape& g = in.shape;
  Json j;
  j["model"] = json_row(model_columns(), cfg);
  j["layout"] = {{"tp", g.tp}, {"pp", g.pp}, {"dp", g.dp}, {"world", g.world()}, {"micro_batch", in.micro_batch},
                 {"grad_accum", in.grad_accum}};
  j["ranks"] = json_rows(rank_columns(cfg), plan);
  const RankPlan total = total_of(plan);
  j["total"] = {{"params", total.params.local()}, {"bytes", total.total_bytes()}};
  j["recompute"] = enum_name(in.recompute);
  j["recompute_totals"] = recompute_totals(in);
  j["pp_split"] = in.pp_split;
  j["bubble"] = pipeline_bubble(g.pp, in.grad_accum);
  j["stages"] = Json::array();
  for (const StageLoad& l : stage_loads(in))
    j["stages"].push_back({{"stage", l.stage}, {"layers", {l.layers.first, l.layers.second}}, {"flops_per_token", l.flops},
                           {"idle", l.idle}});
  j["replica_parameters"] = replica_params;
  j["parameters_match"] = replica_params == cfg.parameter_count();
  std::printf("%s\n", j.dump(2).c_str());
}

// ---- scaling study (--gpus N) ----------------------------------------------------------

struct StudyInput {
  ModelConfig cfg;
  Hardware hw;
  int64_t global_batch = 512;
  int top = 20;
  std::string vocab_source, restriction;  // restriction: e.g. " with tp = 2" when --tp was given
};

// The model's assumptions in words, with this run's numbers: printed under the table and
// stored in the JSON, so a reader of either knows what the predictions rest on.
std::vector<std::string> assumptions(const StudyInput& in) {
  const Hardware& hw = in.hw;
  auto f = [](const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return std::string(buf);
  };
  return {
      "GB = 1e9 bytes. Memory is what the CUDA path allocates with bf16 products (its default; each term "
      "names its allocation in launch/plan.cpp). It has never run on a GPU here: a model, not a measurement.",
      "per local parameter: weights 4 B (fp32), grads 4 B (fp32, accumulated over micro-batches) + 4 B when "
      "dp > 1 (the DP buckets' flat copy, as parallel/data_parallel keeps), AdamW m and v 8 B: 16 B, 20 B "
      "with dp > 1; and 2 B more for the bf16 working copy of each matrix the products multiply (the blocks' "
      "four, the LM head's rows padded to 64; not the embedding lookup's table). A rank holds its TP shard of "
      "its stage's blocks, its vocabulary rows on the first stage and, tied, their copy on the last.",
      "activations: the tensors our Model, Block, Attention and Mlp keep for backward, fp32 but for the "
      "LayerNorm and GELU outputs, which feed only products and are bf16 (the logits' columns padded to "
      "64), and, at head sizes 32, 64 and 128 (the attention kernel's tensor cores), each block's bf16 q, "
      "k, v prepared by its forward for its backward, times the micro-batches in flight (1F1B: "
      "min(pp - pp_rank, accum); the first "
      "stage holds the most). With recomputation a micro-batch keeps only its residual stream (each "
      "block's input), its residual gradient and the head. scratch: the most transient memory alive at "
      "once (a product's bf16 operands not kept so, one block's backward gradients, the attention kernel's per-call "
      "tables and, at other head sizes, fp32 operands; with recomputation the recomputed block's activations) and cuBLAS's 32 MiB workspace.",
      "fits: the rank needing the most stays within " + f("%.0f", 100 * (1 - hw.headroom)) + "% of " +
          f("%g", hw.memory_gb) + " GB = " + f("%.1f", hw.usable_bytes() / kGB) +
          " GB; the rest is for the CUDA context, NCCL's buffers and fragmentation. Recomputation is used only where the plain run does not fit.",
      "compute: " + f("%.3g", model_flops_per_token(in.cfg) / 1e9) +
          " GFLOP per token = 6 x parameters (those that multiply) + 12 L T C, forward and backward; "
          "recomputation adds a forward of the blocks (x 4/3). Each stage does its blocks' share (the last "
          "also the LM head) split over tp, at " + f("%.0f", 100 * hw.mfu) + "% of the " + f("%g", hw.tflops) +
          " TFLOP/s bf16 peak.",
      "pipeline: 1F1B; step = (M + pp - 1) x the slowest stage's micro-batch (M = accum). Idle = the "
          "bubble (pp - 1) / (M + pp - 1) plus the stages' imbalance.",
      "TP: per block and micro-batch 4 all-reduces of (B T, C) bf16 (6 with recomputation), plus the "
          "embedding's, the head's and the cross-entropy's; not overlapped with compute. An all-reduce "
          "over n GPUs takes 2 (n - 1) / n x bytes / bandwidth, with no latency term.",
      "PP: each micro-batch's activations and their gradients, (B T, C) bf16, one message each way per "
          "stage boundary, not overlapped.",
      "DP: one all-reduce of the fp32 gradients per step; half hides behind the last micro-batch's "
          "backward (at most that backward's length). Tied embedding with pp > 1: the first and last stage "
          "all-reduce its gradient (fp32).",
      "bandwidth: " + f("%g", hw.intra_node_gbs) + " GB/s inside a node of " + std::to_string(hw.gpus_per_node) +
          " GPUs (TP always is), " + f("%g", hw.inter_node_gbs) +
          " GB/s when a DP, PP or embedding group crosses nodes; the optimizer step (AdamW, grad norm) moves "
          "34 B per local parameter through " + f("%g", hw.hbm_gbs) +
          " GB/s of HBM (+16 B for the DP bucket copies).",
      "not modelled: data loading, kernel launch and communication latency, stragglers, and any overlap "
          "of TP or PP communication with compute.",
  };
}

// One layout of the study: the text table's row and the JSON's "layouts" entry. Memory
// is GB (1e9 bytes) in the text, bytes in the JSON; shares are percent in the text,
// fractions in the JSON.
std::vector<Column<LayoutEstimate>> study_columns() {
  using E = LayoutEstimate;
  auto gb = [](int64_t bytes) { return Cell(fixed(bytes / kGB, 1), bytes); };
  auto percent = [](double share) { return Cell(fixed(100 * share, 1), share); };
  auto seconds = [](double s) { return Cell(fixed(s, 3), s); };
  auto memory = [gb](const char* key, int which, int64_t GpuMemory::*part) {
    return Column<E>{nullptr, key, [=](const E& e) { return gb(e.memory[which].*part); }};
  };
  return {
      {"tp", "tp", [](const E& e) { return Cell(e.shape.tp); }},
      {"pp", "pp", [](const E& e) { return Cell(e.shape.pp); }},
      {"dp", "dp", [](const E& e) { return Cell(e.shape.dp); }},
      {"mb", "micro_batch", [](const E& e) { return Cell(e.micro_batch); }},
      {"accum", "grad_accum", [](const E& e) { return Cell(e.grad_accum); }},
      {"weights", "memory.weights", [=](const E& e) { return gb(e.run_memory().weights); }},
      {"grads", "memory.grads", [=](const E& e) { return gb(e.run_memory().grads); }},
      {"optim", "memory.optimizer", [=](const E& e) { return gb(e.run_memory().optimizer); }},
      memory("memory_plain.weights", 0, &GpuMemory::weights),
      memory("memory_plain.grads", 0, &GpuMemory::grads),
      memory("memory_plain.optimizer", 0, &GpuMemory::optimizer),
      memory("memory_recompute.weights", 1, &GpuMemory::weights),
      memory("memory_recompute.grads", 1, &GpuMemory::grads),
      memory("memory_recompute.optimizer", 1, &GpuMemory::optimizer),
      memory("memory_plain.scratch", 0, &GpuMemory::scratch),
      memory("memory_recompute.scratch", 1, &GpuMemory::scratch),
      {"activ", "memory_plain.activations", [=](const E& e) { return gb(e.memory[0].activations); }},
      {"activ rc", "memory_recompute.activations", [=](const E& e) { return gb(e.memory[1].activations); }},
      {"total", "memory_plain.total", [=](const E& e) { return gb(e.memory[0].total()); }},
      {"total rc", "memory_recompute.total", [=](const E& e) { return gb(e.memory[1].total()); }},
      {"run", "run", [](const E& e) { return Cell(!e.fits_any() ? "no fit" : e.recompute ? "recompute" : "plain"); }},
      {nullptr, "fits", [](const E& e) { return Cell(e.fits_any()); }},
      {nullptr, "fits_plain", [](const E& e) { return Cell(e.fits[0]); }},
      {nullptr, "fits_recompute", [](const E& e) { return Cell(e.fits[1]); }},
      {nullptr, "recompute", [](const E& e) { return Cell(e.recompute); }},
      {nullptr, "bubble", [=](const E& e) { return percent(e.bubble); }},
      {"idle %", "idle", [=](const E& e) { return percent(e.idle); }},
      {nullptr, "stage_s", [=](const E& e) { return seconds(e.stage_s); }},
      {nullptr, "tp_comm_s", [=](const E& e) { return seconds(e.tp_comm_s); }},
      {nullptr, "pipeline_s", [=](const E& e) { return seconds(e.pipeline_s); }},
      {nullptr, "dp_exposed_s", [=](const E& e) { return seconds(e.dp_exposed_s); }},
      {nullptr, "embedding_sync_s", [=](const E& e) { return seconds(e.embedding_sync_s); }},
      {nullptr, "optimizer_s", [=](const E& e) { return seconds(e.optimizer_s); }},
      {"step s", "step_s", [=](const E& e) { return seconds(e.step_s); }},
      {"tokens/s", "tokens_per_s",
       [](const E& e) { return Cell(grouped(std::llround(e.tokens_per_s)), e.tokens_per_s); }},
      {"MFU %", "mfu", [=](const E& e) { return percent(e.mfu); }},
  };
}

void print_study_text(const StudyInput& in, const std::vector<LayoutEstimate>& study) {
  const ModelConfig& cfg = in.cfg;
  const Hardware& hw = in.hw;
  print_model_line(cfg, in.vocab_source);
  std::printf("hardware: %d GPU%s (%d per node), %g GB each, %g TFLOP/s bf16 peak, %g GB/s HBM, all-reduce %g GB/s "
              "in a node and %g GB/s between nodes\n",
              hw.gpus, hw.gpus == 1 ? "" : "s", hw.gpus_per_node, hw.memory_gb, hw.tflops, hw.hbm_gbs,
              hw.intra_node_gbs, hw.inter_node_gbs);
  std::printf("global batch: %lld windows x %d tokens = %s tokens per step (micro-batch x accum x dp)\n\n",
              static_cast<long long>(in.global_batch), cfg.seq_len, grouped(in.global_batch * cfg.seq_len).c_str());

  const auto columns = study_columns();
  auto print_first = [&](int64_t n) {
    std::vector<std::vector<std::string>> rows = {header_row(columns)};
    for (int64_t i = 0; i < n; ++i) rows.push_back(text_row(columns, study[i]));
    print_table(rows);
  };
  const auto fit_end = std::find_if(study.begin(), study.end(), [](const LayoutEstimate& e) { return !e.fits_any(); });
  const int64_t n_fit = fit_end - study.begin();
  const int64_t n_plain = std::count_if(study.begin(), fit_end, [](const LayoutEstimate& e) { return e.fits[0]; });
  if (study.empty()) {
    std::printf("no layout of %d GPUs%s: tp must be a power of two dividing --heads, the FFN width and "
                "--gpus-per-node, pp <= --layers, and dp x micro-batch must divide --global-batch\n",
                hw.gpus, in.restriction.c_str());
  } else if (n_fit == 0) {
    std::printf("no layout fits: none of the %zu candidates%s stays within %.1f GB per GPU, even with "
                "recomputation. Closest:\n\n",
                study.size(), in.restriction.c_str(), hw.usable_bytes() / kGB);
    print_first(std::min<int64_t>(5, study.size()));
  } else {
    const int64_t shown = in.top > 0 ? std::min<int64_t>(in.top, n_fit) : n_fit;
    const int64_t n_out = static_cast<int64_t>(study.size()) - n_fit;
    std::printf("%lld of %zu candidates%s fit (%lld without recomputation); %lld %s not fit either way. "
                "%s, by predicted tokens/s:\n\n",
                static_cast<long long>(n_fit), study.size(), in.restriction.c_str(), static_cast<long long>(n_plain),
                static_cast<long long>(n_out), n_out == 1 ? "does" : "do",
                shown == n_fit ? "All that fit" : ("The fastest " + std::to_string(shown) + " (--top 0: all)").c_str());
    print_first(shown);
  }
  std::printf("\n");
  print_wrapped("", "",
                "Memory in GB per GPU, of the rank that needs the most: weights, grads and optim (AdamW m, v) for "
                "the run predicted; activ and total without and with ('rc') activation recomputation (total includes "
                "the transient scratch, --json's memory_*.scratch). run: plain, "
                "or recompute where only that fits. idle %: the pipeline's idle share. MFU: model FLOPs (without "
                "recomputation) per second over the GPUs' peak.");
  std::printf("\nassumptions:\n");
  for (const std::string& a : assumptions(in)) print_wrapped("  - ", "    ", a);
}

void print_study_json(const StudyInput& in, const std::vector<LayoutEstimate>& study) {
  const ModelConfig& cfg = in.cfg;
  const Hardware& hw = in.hw;
  Json j;
  j["model"] = json_row(model_columns(), cfg);
  j["model"]["flops_per_token"] = model_flops_per_token(cfg);
  j["hardware"] = {{"gpus", hw.gpus},
                   {"gpus_per_node", hw.gpus_per_node},
                   {"memory_gb", hw.memory_gb},
                   {"headroom", hw.headroom},
                   {"usable_bytes", hw.usable_bytes()},
                   {"tflops", hw.tflops},
                   {"mfu", hw.mfu},
                   {"hbm_gbs", hw.hbm_gbs},
                   {"interconnect_gbs", hw.intra_node_gbs},
                   {"internode_gbs", hw.inter_node_gbs}};
  j["global_batch"] = in.global_batch;
  j["assumptions"] = assumptions(in);
  j["candidates"] = study.size();
  j["fit"] = std::count_if(study.begin(), study.end(), [](const LayoutEstimate& e) { return e.fits_any(); });
  j["layouts"] = json_rows(study_columns(), study);
  std::printf("%s\n", j.dump(2).c_str());
}

}  // namespace

int cmd_plan(int argc, char** argv) {
  PlanInput in;
  TrainOptions opt;
  StudyInput study_in;
  Hardware& hw = study_in.hw;
  bool json = false;
  po::options_description desc("model and layout (every option of alibi train is accepted)");
  add_model_options(desc, in.cfg);
  add_train_options(desc, opt);
  desc.add_options()("dp", po::value<int>(&in.shape.dp)->default_value(1), "data-parallel replicas (world = tp*pp*dp)")
      ("json", po::bool_switch(&json), "print the plan as JSON");
  po::options_description study("scaling study (--gpus N: every layout of N GPUs; --tp, --pp, --dp given restrict it;\n"
                                 "--micro-batch and --grad-accum are ignored; GB = 1e9 bytes)");
  study.add_options()
      ("gpus", po::value<int>(&hw.gpus), "GPUs to plan for (not given: the per-rank plan of --tp/--pp/--dp)")
      ("gpu-memory-gb", po::value<double>(&hw.memory_gb)->default_value(80, "80"), "memory per GPU")
      ("headroom", po::value<double>(&hw.headroom)->default_value(0.1, "0.1"), "share of GPU memory kept free")
      ("gpu-tflops", po::value<double>(&hw.tflops)->default_value(989, "989"), "dense bf16 peak per GPU (H100 SXM: 989)")
      ("mfu", po::value<double>(&hw.mfu)->default_value(0.4, "0.4"), "share of the peak the model's math reaches")
      ("gpu-bandwidth-gbs", po::value<double>(&hw.hbm_gbs)->default_value(3350, "3350"), "HBM bandwidth per GPU")
      ("interconnect-gbs", po::value<double>(&hw.intra_node_gbs)->default_value(450, "450"),
       "all-reduce bus bandwidth per GPU inside a node (NVLink)")
      ("internode-gbs", po::value<double>(&hw.inter_node_gbs)->default_value(50, "50"),
       "all-reduce bandwidth per GPU between nodes (a 400 Gb/s NIC per GPU)")
      ("gpus-per-node", po::value<int>(&hw.gpus_per_node)->default_value(8), "GPUs per node; TP stays inside one")
      ("global-batch", po::value<int64_t>(&study_in.global_batch)->default_value(512),
       "windows per optimizer step, the same for every layout")
      ("top", po::value<int>(&study_in.top)->default_value(20), "layouts printed (0: all that fit; --json has all)");
  desc.add(study);
  po::variables_map vm;
  if (!parse_command_line("plan", argc, argv, desc, vm)) return 0;

  in.vocab_source = vm["vocab"].defaulted() ? "--vocab default" : "--vocab";
  if (!opt.data.empty() && vm["vocab"].defaulted() && std::filesystem::is_regular_file(opt.data)) {
    in.cfg.vocab = static_cast<int>(Corpus(opt.data).vocab_size());  // as alibi train takes it
    in.vocab_source = "from " + opt.data;
  }
  if (vm.count("gpus")) {
    ALIBI_CHECK_AS(ConfigError, study_in.top >= 0, "--top must be 0 (all) or more (got " << study_in.top << ")");
    study_in.cfg = in.cfg;
    study_in.vocab_source = in.vocab_source;
    std::vector<LayoutEstimate> all = scaling_study(in.cfg, hw, study_in.global_batch);
    // --tp, --pp or --dp given (here or in the INI) fix that axis.
    const GridShape given{opt.tp, opt.pp, in.shape.dp};
    for (auto [name, axis] : {std::make_pair("tp", &GridShape::tp), std::make_pair("pp", &GridShape::pp),
                              std::make_pair("dp", &GridShape::dp)}) {
      if (vm[name].defaulted()) continue;
      const int want = given.*axis;
      all.erase(std::remove_if(all.begin(), all.end(), [&](const LayoutEstimate& e) { return e.shape.*axis != want; }),
                all.end());
      study_in.restriction += (study_in.restriction.empty() ? " with " : ", ") + std::string(name) + " = " +
                              std::to_string(want);
    }
    if (json) {
      print_study_json(study_in, all);
    } else {
      print_study_text(study_in, all);
    }
    std::fflush(stdout);
    return 0;
  }
  in.shape.tp = opt.tp;
  in.shape.pp = opt.pp;
  in.micro_batch = opt.micro_batch;
  in.grad_accum = opt.grad_accum;
  in.recompute = opt.recompute;
  in.pp_split = opt.pp_split;
  in.shape.stage_blocks = pipeline_split(in.cfg, in.shape.pp, opt.pp_split, opt.recompute);
  const std::vector<RankPlan> plan = plan_layout(in.cfg, in.shape, in.micro_batch, in.grad_accum, in.recompute);
  const int64_t replica_params = replica_parameter_count(plan);
  if (json) {
    print_json(in, plan, replica_params);
  } else {
    print_text(in, plan, replica_params);
  }
  std::fflush(stdout);
  ALIBI_CHECK(replica_params == in.cfg.parameter_count(),
              "the per-rank parameter counts of one DP replica sum to "
                  << replica_params << ", not ModelConfig::parameter_count() = " << in.cfg.parameter_count()
                  << "; please report this layout");
  return 0;
}

}  // namespace alibi
