// alibi plan: what every rank of a layout would hold, without launching it (one process,
// no communication): coordinates, blocks, heads and their ALiBi slopes, vocabulary rows,
// parameter elements and a memory estimate; a bad layout prints the failed equation.
//
//   alibi plan --config launch/configs/tiny.ini --tp 2 --pp 2 --dp 2
//   alibi plan --layers 24 --channels 2048 --heads 16 --tp 4 --pp 2 --dp 8 --micro-batch 4 --grad-accum 16
//   alibi plan ... --json                      # the same, machine-readable
//
// It takes every option of `alibi train`, so a training INI works unchanged; --data, when
// the file is here, supplies the vocabulary as it would for training.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "kernels/alibi.h"
#include "launch/commands.h"
#include "launch/plan.h"
#include "launch/train_options.h"
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
              cfg.seq_len, cfg.position.c_str(), cfg.tie_embeddings ? "tied" : "untied");
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
              cfg.position_method() == PositionMethod::learned ? " The first stage holds the learned position table." : "",
              g.dp > 1 ? " + DP all-reduce buckets (4 B/param)" : "");

  if (cfg.position_method() == PositionMethod::alibi) {
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
    std::printf("\nno ALiBi slopes: --position %s\n", cfg.position.c_str());
  }

  const int64_t expected = cfg.parameter_count();
  std::printf("\nparameters: %s in the model, %s summed over one DP replica's ranks: %s\n"
              "  (each once: the tied copy left out, TP-replicated LayerNorms and row-parallel biases on tp rank 0)\n",
              grouped(expected).c_str(), grouped(replica_params).c_str(), expected == replica_params ? "ok" : "MISMATCH");
}

void print_json(const PlanInput& in, const std::vector<RankPlan>& plan, int64_t replica_params) {
  const ModelConfig& cfg = in.cfg;
  const GridShape& g = in.shape;
  const bool alibi = cfg.position_method() == PositionMethod::alibi;
  std::string s = "{\n";
  s += "  \"model\": {\"layers\": " + std::to_string(cfg.layers) + ", \"channels\": " + std::to_string(cfg.channels) +
       ", \"heads\": " + std::to_string(cfg.heads) + ", \"ffn\": " + std::to_string(cfg.ffn_width()) +
       ", \"vocab\": " + std::to_string(cfg.vocab) + ", \"seq_len\": " + std::to_string(cfg.seq_len) +
       ", \"position\": " + json_string(cfg.position) +
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

}  // namespace

int cmd_plan(int argc, char** argv) {
  PlanInput in;
  TrainOptions opt;
  bool json = false;
  po::options_description desc("model and layout (every option of alibi train is accepted)");
  add_model_options(desc, in.cfg);
  add_train_options(desc, opt);
  desc.add_options()("dp", po::value<int>(&in.shape.dp)->default_value(1), "data-parallel replicas (world = tp*pp*dp)")
      ("json", po::bool_switch(&json), "print the plan as JSON");
  po::variables_map vm;
  if (!parse_command_line("plan", argc, argv, desc, vm)) return 0;

  in.vocab_source = vm["vocab"].defaulted() ? "--vocab default" : "--vocab";
  if (!opt.data.empty() && vm["vocab"].defaulted() && std::filesystem::is_regular_file(opt.data)) {
    in.cfg.vocab = static_cast<int>(Corpus(opt.data).vocab_size());  // as alibi train takes it
    in.vocab_source = "from " + opt.data;
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
