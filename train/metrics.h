// What a training run reports: OUT_DIR/metrics.jsonl (one JSON object per logged step,
// always) and, when stdout is a terminal, a one-line progress bar with loss, tokens/s
// and ETA; otherwise a plain log line every --log-every steps.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace alibi {

struct StepMetrics {
  int64_t step = 0;  // 1-based: the number of optimizer steps done
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;
  double tokens_per_s = 0;
  double elapsed_s = 0;
  std::optional<double> val_loss;
  // Parallel runs: seconds this rank (rank 0) spent blocked on neighbour pipeline stages
  // and on the DP all-reduce after backward, and the all-reduce's window from its first
  // bucket to completion (window - wait = communication hidden behind backward).
  double pipeline_wait_s = 0, dp_wait_s = 0, dp_window_s = 0;
};

class MetricsLog {
 public:
  // Opens OUT_DIR/metrics.jsonl for appending. When resuming at `resume_step`, lines of
  // later steps (written by the interrupted run after its last checkpoint) are dropped so
  // the file reads as one continuous run.
  MetricsLog(const std::string& out_dir, int64_t resume_step);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const StepMetrics& m);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

class ProgressBar {
 public:
  ProgressBar(int64_t first_step, int64_t total_steps, int log_every);
  // Called after every step; draws the bar (terminal) or prints a line every log_every.
  void update(const StepMetrics& m);
  // Ends the bar's line.
  void finish();
  // Prints a message on its own line without breaking the bar.
  void message(const std::string& text);

 private:
  int64_t first_, total_;
  int log_every_;
  bool tty_;
  bool drawn_ = false;
  double ema_tokens_per_s_ = 0;
};

std::string format_duration(double seconds);

}  // namespace alibi
