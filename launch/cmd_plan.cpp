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
#include "train/options.h"
#include "runtime/error.h"

namespace alibi {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// 1234567 -> "1,234,567"
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

template <class T>
std::string range(const std::pair<T, T>& r) {
  return "[" + std::to_string(r.first) + ", " + std::to_string(r.second) + ")";
}

// Right-aligned columns, two spaces apart.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += std::string(width[i] - row[i].size(), ' ') + row[i];
    }
    std::printf("%s\n", line.c_str());
  }
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

struct PlanInput {
  ModelConfig cfg;
  GridShape shape;
  int micro_batch = 1, grad_accum = 1;
  std::string vocab_source;
};

void print_text(const PlanInput& in, const std::vector<RankPlan>& plan, int64_t replica_params) {
  const ModelConfig& cfg = in.cfg;
  const GridShape& g = in.shape;
  const int64_t windows = int64_t{in.micro_batch} * in.grad_accum * g.dp;
  std::printf("model: L=%d C=%d NH=%d HS=%d F=%d V=%d (%s) T=%d, position %s, %s embeddings\n", cfg.layers,
              cfg.channels, cfg.heads, cfg.head_size(), cfg.ffn_width(), cfg.vocab, in.vocab_source.c_str(),
              cfg.seq_len, enum_name(cfg.position), cfg.tie_embeddings ? "tied" : "untied");
  std::printf("layout: tp=%d pp=%d dp=%d = %d rank%s; micro-batch %d x grad-accum %d x dp %d = %lld windows "
              "(%s tokens) per step\n\n",
              g.tp, g.pp, g.dp, g.world(), g.world() == 1 ? "" : "s", in.micro_batch, in.grad_accum, g.dp, static_cast<long long>(windows),
              grouped(windows * cfg.seq_len).c_str());

  std::vector<std::vector<std::string>> rows;
  rows.push_back({"rank", "tp", "dp", "pp", "layers", "heads", "vocab rows", "params", "tied copy", "in flight",
                  "state MiB", "activ. MiB", "total MiB"});
  int64_t total_params = 0, total_bytes = 0, state_bytes = 0, act_bytes = 0;
  for (const RankPlan& r : plan) {
    const bool vocab_here = r.embedding_stage || r.head_stage;
    rows.push_back({std::to_string(r.rank), std::to_string(r.coord.tp_rank), std::to_string(r.coord.dp_rank),
                    std::to_string(r.coord.pp_rank), range(r.layers), range(r.heads),
                    vocab_here ? range(r.vocab) : "-", grouped(r.params.local()),
                    r.params.tied_copy > 0 ? grouped(r.params.tied_copy) : "-", std::to_string(r.in_flight),
                    format("%.1f", r.state_bytes / kMiB), format("%.1f", r.activation_bytes / kMiB),
                    format("%.1f", r.total_bytes() / kMiB)});
    total_params += r.params.local();
    state_bytes += r.state_bytes;
    act_bytes += r.activation_bytes;
    total_bytes += r.total_bytes();
  }
  rows.push_back({"total", "", "", "", "", "", "", grouped(total_params), "", "", format("%.1f", state_bytes / kMiB),
                  format("%.1f", act_bytes / kMiB), format("%.1f", total_bytes / kMiB)});
  print_table(rows);

  std::printf("\nparams: elements allocated on the rank; 'tied copy' (included) is the last stage's copy of the\n"
              "  tied embedding shard.%s\n"
              "state: fp32 weights, grads, AdamW m and v (16 B/param)%s.\n"
              "activ.: tensors kept for backward by each micro-batch in flight (1F1B: min(pp - pp_rank, grad-accum));\n"
              "  transient backward scratch and allocator slack are not counted.\n",
              cfg.position == PositionMethod::learned ? " The first stage holds the learned position table." : "",
              g.dp > 1 ? " + DP all-reduce buckets (4 B/param)" : "");

  if (cfg.position == PositionMethod::alibi) {
    std::printf("\nALiBi slopes of each tp rank's heads (the same at every dp and pp rank; head h of NH=%d: slope = 2^x):\n",
                cfg.heads);
    const int NH_local = cfg.heads / g.tp;
    for (int t = 0; t < g.tp; ++t) {
      std::string line = "  tp " + std::to_string(t) + "  heads " + range(std::make_pair(t * NH_local, (t + 1) * NH_local)) + ":";
      for (int h = t * NH_local; h < (t + 1) * NH_local; ++h) {
        const double m = alibi_slope(h, cfg.heads);
        line += "  h" + std::to_string(h) + " 2^" + format("%g", std::log2(m)) + " = " + format("%.6g", m);
      }
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
  const bool alibi = cfg.position == PositionMethod::alibi;
  std::string s = "{\n";
  s += "  \"model\": {\"layers\": " + std::to_string(cfg.layers) + ", \"channels\": " + std::to_string(cfg.channels) +
       ", \"heads\": " + std::to_string(cfg.heads) + ", \"ffn\": " + std::to_string(cfg.ffn_width()) +
       ", \"vocab\": " + std::to_string(cfg.vocab) + ", \"seq_len\": " + std::to_string(cfg.seq_len) +
       ", \"position\": " + json_string(enum_name(cfg.position)) +
       ", \"tie_embeddings\": " + (cfg.tie_embeddings ? "true" : "false") +
       ", \"parameters\": " + std::to_string(cfg.parameter_count()) + "},\n";
  s += "  \"layout\": {\"tp\": " + std::to_string(g.tp) + ", \"pp\": " + std::to_string(g.pp) +
       ", \"dp\": " + std::to_string(g.dp) + ", \"world\": " + std::to_string(g.world()) +
       ", \"micro_batch\": " + std::to_string(in.micro_batch) + ", \"grad_accum\": " + std::to_string(in.grad_accum) +
       "},\n";
  s += "  \"ranks\": [\n";
  int64_t total_params = 0, total_bytes = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    const RankPlan& r = plan[i];
    std::string slopes;
    if (alibi) {
      for (int h = r.heads.first; h < r.heads.second; ++h) {
        const double m = alibi_slope(h, cfg.heads);
        if (!slopes.empty()) slopes += ", ";
        slopes += "{\"head\": " + std::to_string(h) + ", \"log2\": " + format("%.17g", std::log2(m)) +
                  ", \"value\": " + format("%.17g", m) + "}";
      }
    }
    const bool vocab_here = r.embedding_stage || r.head_stage;
    s += "    {\"rank\": " + std::to_string(r.rank) + ", \"tp_rank\": " + std::to_string(r.coord.tp_rank) +
         ", \"dp_rank\": " + std::to_string(r.coord.dp_rank) + ", \"pp_rank\": " + std::to_string(r.coord.pp_rank) +
         ", \"layers\": [" + std::to_string(r.layers.first) + ", " + std::to_string(r.layers.second) + "]" +
         ", \"heads\": [" + std::to_string(r.heads.first) + ", " + std::to_string(r.heads.second) + "]" +
         ", \"slopes\": [" + slopes + "]" +
         ", \"vocab\": " +
         (vocab_here ? "[" + std::to_string(r.vocab.first) + ", " + std::to_string(r.vocab.second) + "]" : "null") +
         ", \"params\": {\"embedding\": " + std::to_string(r.params.embedding) +
         ", \"positions\": " + std::to_string(r.params.positions) +
         ", \"tied_copy\": " + std::to_string(r.params.tied_copy) + ", \"blocks\": " + std::to_string(r.params.blocks) +
         ", \"head\": " + std::to_string(r.params.head) +
         ", \"tp_replicated\": " + std::to_string(r.params.replicated) + ", \"local\": " + std::to_string(r.params.local()) + "}" +
         ", \"in_flight\": " + std::to_string(r.in_flight) + ", \"state_bytes\": " + std::to_string(r.state_bytes) +
         ", \"activation_bytes\": " + std::to_string(r.activation_bytes) +
         ", \"total_mib\": " + format("%.3f", r.total_bytes() / kMiB) + "}" + (i + 1 < plan.size() ? "," : "") + "\n";
    total_params += r.params.local();
    total_bytes += r.total_bytes();
  }
  s += "  ],\n";
  s += "  \"total\": {\"params\": " + std::to_string(total_params) + ", \"bytes\": " + std::to_string(total_bytes) +
       ", \"mib\": " + format("%.3f", total_bytes / kMiB) + "},\n";
  s += "  \"replica_parameters\": " + std::to_string(replica_params) +
       ", \"parameters_match\": " + (replica_params == cfg.parameter_count() ? "true" : "false") + "\n}\n";
  std::fputs(s.c_str(), stdout);
}

// ---- scaling study (--gpus N) ----------------------------------------------------------

constexpr double kGB = 1e9;

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
  auto f = [](const char* fmt, double v) { return format(fmt, v); };
  return {
      "GB = 1e9 bytes. Memory is the GPU path as DESIGN.md describes it (bf16 compute, fp32 master weights; "
      "the CUDA backend as built keeps activations in fp32, about 2x the activation column below, and has "
      "never run on a GPU here, so this is the design, not a measurement).",
      "per local parameter: weights 6 B (fp32 master 4 + bf16 working copy 2), grads 4 B (fp32, accumulated "
      "over micro-batches) + 4 B when dp > 1 (the DP buckets' flat copy, as parallel/data_parallel keeps), "
      "AdamW m and v 8 B: 18 B, 22 B with dp > 1. A rank holds its TP shard of its stage's blocks, its "
      "vocabulary rows on the first stage and, tied, their copy on the last.",
      "activations: the tensors our Model, Block, Attention and Mlp keep for backward, in bf16 (LayerNorm "
      "and softmax statistics and the (B T, V/tp) logits in fp32), times the micro-batches in flight "
      "(1F1B: min(pp - pp_rank, accum); the first stage holds the most). With recomputation a micro-batch "
      "keeps only its residual stream (each block's input), its residual gradient and the head, plus one "
      "block's activations for the block being recomputed.",
      "fits: the rank needing the most stays within " + f("%.0f", 100 * (1 - hw.headroom)) + "% of " +
          f("%g", hw.memory_gb) + " GB = " + f("%.1f", hw.usable_bytes() / kGB) +
          " GB; the rest is for the CUDA context, cuBLAS and NCCL workspaces, transient backward scratch "
          "and fragmentation. Recomputation is used only where the plain run does not fit.",
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

// Words of `text` in lines of at most `width` characters, each line after the first
// indented by `indent`.
void print_wrapped(const std::string& first_prefix, const std::string& indent, const std::string& text,
                   size_t width = 100) {
  std::string line = first_prefix, word;
  bool empty = true;
  auto flush_word = [&] {
    if (word.empty()) return;
    if (!empty && line.size() + 1 + word.size() > width) {
      std::printf("%s\n", line.c_str());
      line = indent;
      empty = true;
    }
    line += (empty ? "" : " ") + word;
    empty = false;
    word.clear();
  };
  for (char ch : text) {
    if (ch == ' ') {
      flush_word();
    } else {
      word += ch;
    }
  }
  flush_word();
  std::printf("%s\n", line.c_str());
}

std::vector<std::string> study_row(const LayoutEstimate& e) {
  auto gb = [](int64_t bytes) { return format("%.1f", bytes / kGB); };
  const GpuMemory& m = e.run_memory();
  return {std::to_string(e.shape.tp), std::to_string(e.shape.pp), std::to_string(e.shape.dp),
          std::to_string(e.micro_batch), std::to_string(e.grad_accum), gb(m.weights), gb(m.grads), gb(m.optimizer),
          gb(e.memory[0].activations), gb(e.memory[1].activations), gb(e.memory[0].total()),
          gb(e.memory[1].total()), !e.fits_any() ? "no fit" : e.recompute ? "recompute" : "plain",
          format("%.1f", 100 * e.idle), format("%.3f", e.step_s), grouped(std::llround(e.tokens_per_s)),
          format("%.1f", 100 * e.mfu)};
}

void print_study_text(const StudyInput& in, const std::vector<LayoutEstimate>& study) {
  const ModelConfig& cfg = in.cfg;
  const Hardware& hw = in.hw;
  std::printf("model: L=%d C=%d NH=%d HS=%d F=%d V=%d (%s) T=%d, position %s, %s embeddings: %s parameters\n",
              cfg.layers, cfg.channels, cfg.heads, cfg.head_size(), cfg.ffn_width(), cfg.vocab,
              in.vocab_source.c_str(), cfg.seq_len, enum_name(cfg.position), cfg.tie_embeddings ? "tied" : "untied",
              grouped(cfg.parameter_count()).c_str());
  std::printf("hardware: %d GPU%s (%d per node), %g GB each, %g TFLOP/s bf16 peak, %g GB/s HBM, all-reduce %g GB/s "
              "in a node and %g GB/s between nodes\n",
              hw.gpus, hw.gpus == 1 ? "" : "s", hw.gpus_per_node, hw.memory_gb, hw.tflops, hw.hbm_gbs,
              hw.intra_node_gbs, hw.inter_node_gbs);
  std::printf("global batch: %lld windows x %d tokens = %s tokens per step (micro-batch x accum x dp)\n\n",
              static_cast<long long>(in.global_batch), cfg.seq_len, grouped(in.global_batch * cfg.seq_len).c_str());

  const std::vector<std::string> header = {"tp", "pp", "dp", "mb", "accum", "weights", "grads", "optim",
                                           "activ", "activ rc", "total", "total rc", "run", "idle %", "step s",
                                           "tokens/s", "MFU %"};
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
    std::vector<std::vector<std::string>> rows = {header};
    for (size_t i = 0; i < study.size() && i < 5; ++i) rows.push_back(study_row(study[i]));
    print_table(rows);
  } else {
    const int64_t shown = in.top > 0 ? std::min<int64_t>(in.top, n_fit) : n_fit;
    const int64_t n_out = static_cast<int64_t>(study.size()) - n_fit;
    std::printf("%lld of %zu candidates%s fit (%lld without recomputation); %lld %s not fit either way. "
                "%s, by predicted tokens/s:\n\n",
                static_cast<long long>(n_fit), study.size(), in.restriction.c_str(), static_cast<long long>(n_plain),
                static_cast<long long>(n_out), n_out == 1 ? "does" : "do",
                shown == n_fit ? "All that fit" : ("The fastest " + std::to_string(shown) + " (--top 0: all)").c_str());
    std::vector<std::vector<std::string>> rows = {header};
    for (int64_t i = 0; i < shown; ++i) rows.push_back(study_row(study[i]));
    print_table(rows);
  }
  std::printf("\n");
  print_wrapped("", "",
                "Memory in GB per GPU, of the rank that needs the most: weights, grads and optim (AdamW m, v) for "
                "the run predicted; activ and total without and with ('rc') activation recomputation. run: plain, "
                "or recompute where only that fits. idle %: the pipeline's idle share. MFU: model FLOPs (without "
                "recomputation) per second over the GPUs' peak.");
  std::printf("\nassumptions:\n");
  for (const std::string& a : assumptions(in)) print_wrapped("  - ", "    ", a);
}

std::string memory_json(const GpuMemory& m) {
  return "{\"weights\": " + std::to_string(m.weights) + ", \"grads\": " + std::to_string(m.grads) +
         ", \"optimizer\": " + std::to_string(m.optimizer) + ", \"activations\": " + std::to_string(m.activations) +
         ", \"total\": " + std::to_string(m.total()) + "}";
}

void print_study_json(const StudyInput& in, const std::vector<LayoutEstimate>& study) {
  const ModelConfig& cfg = in.cfg;
  const Hardware& hw = in.hw;
  auto num = [](double v) { return format("%.6g", v); };
  std::string s = "{\n";
  s += "  \"model\": {\"layers\": " + std::to_string(cfg.layers) + ", \"channels\": " + std::to_string(cfg.channels) +
       ", \"heads\": " + std::to_string(cfg.heads) + ", \"ffn\": " + std::to_string(cfg.ffn_width()) +
       ", \"vocab\": " + std::to_string(cfg.vocab) + ", \"seq_len\": " + std::to_string(cfg.seq_len) +
       ", \"position\": " + json_string(enum_name(cfg.position)) +
       ", \"tie_embeddings\": " + (cfg.tie_embeddings ? "true" : "false") +
       ", \"parameters\": " + std::to_string(cfg.parameter_count()) +
       ", \"flops_per_token\": " + num(model_flops_per_token(cfg)) + "},\n";
  s += "  \"hardware\": {\"gpus\": " + std::to_string(hw.gpus) + ", \"gpus_per_node\": " +
       std::to_string(hw.gpus_per_node) + ", \"memory_gb\": " + num(hw.memory_gb) + ", \"headroom\": " +
       num(hw.headroom) + ", \"usable_bytes\": " + num(hw.usable_bytes()) + ", \"tflops\": " + num(hw.tflops) +
       ", \"mfu\": " + num(hw.mfu) + ", \"hbm_gbs\": " + num(hw.hbm_gbs) + ", \"interconnect_gbs\": " +
       num(hw.intra_node_gbs) + ", \"internode_gbs\": " + num(hw.inter_node_gbs) + "},\n";
  s += "  \"global_batch\": " + std::to_string(in.global_batch) + ",\n";
  s += "  \"assumptions\": [";
  const std::vector<std::string> a = assumptions(in);
  for (size_t i = 0; i < a.size(); ++i) s += (i ? ",\n    " : "\n    ") + json_string(a[i]);
  s += "\n  ],\n";
  const int64_t n_fit = std::count_if(study.begin(), study.end(), [](const LayoutEstimate& e) { return e.fits_any(); });
  s += "  \"candidates\": " + std::to_string(study.size()) + ", \"fit\": " + std::to_string(n_fit) + ",\n";
  s += "  \"layouts\": [\n";
  for (size_t i = 0; i < study.size(); ++i) {
    const LayoutEstimate& e = study[i];
    s += "    {\"tp\": " + std::to_string(e.shape.tp) + ", \"pp\": " + std::to_string(e.shape.pp) +
         ", \"dp\": " + std::to_string(e.shape.dp) + ", \"micro_batch\": " + std::to_string(e.micro_batch) +
         ", \"grad_accum\": " + std::to_string(e.grad_accum) + ", \"fits\": " + (e.fits_any() ? "true" : "false") +
         ", \"fits_plain\": " + (e.fits[0] ? "true" : "false") + ", \"fits_recompute\": " +
         (e.fits[1] ? "true" : "false") + ", \"recompute\": " + (e.recompute ? "true" : "false") +
         ", \"memory_plain\": " + memory_json(e.memory[0]) + ", \"memory_recompute\": " + memory_json(e.memory[1]) +
         ", \"bubble\": " + num(e.bubble) + ", \"idle\": " + num(e.idle) + ", \"stage_s\": " + num(e.stage_s) +
         ", \"tp_comm_s\": " + num(e.tp_comm_s) + ", \"pipeline_s\": " + num(e.pipeline_s) +
         ", \"dp_exposed_s\": " + num(e.dp_exposed_s) + ", \"embedding_sync_s\": " + num(e.embedding_sync_s) +
         ", \"optimizer_s\": " + num(e.optimizer_s) + ", \"step_s\": " + num(e.step_s) +
         ", \"tokens_per_s\": " + num(e.tokens_per_s) + ", \"mfu\": " + num(e.mfu) + "}" +
         (i + 1 < study.size() ? "," : "") + "\n";
  }
  s += "  ]\n}\n";
  std::fputs(s.c_str(), stdout);
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
  const std::vector<RankPlan> plan = plan_layout(in.cfg, in.shape, in.micro_batch, in.grad_accum);
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
