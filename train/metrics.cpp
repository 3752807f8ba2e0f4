// metrics.jsonl and the progress bar.
#include "train/metrics.h"


#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <vector>

#include "parallel/comm.h"
#include "runtime/error.h"

namespace alibi {

namespace {

// The step field of a metrics line, or -1 when the line is not ours.
int64_t step_of_line(const std::string& line) {
  const std::string key = "{\"step\": ";
  if (line.compare(0, key.size(), key) != 0) return -1;
  return std::atoll(line.c_str() + key.size());
}

}  // namespace

MetricsLog::MetricsLog(const std::string& out_dir, int64_t resume_step) : path_(out_dir + "/metrics.jsonl") {
  if (resume_step > 0) {
    std::vector<std::string> keep;
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);) {
      const int64_t s = step_of_line(line);
      if (s >= 0 && s <= resume_step) keep.push_back(line);
    }
    in.close();
    std::ofstream out(path_, std::ios::trunc);
    for (const std::string& line : keep) out << line << "\n";
    ALIBI_CHECK_AS(IoError, out.good(), path_ << ": cannot rewrite the metrics file; check --out-dir");
  }
  file_ = std::fopen(path_.c_str(), resume_step > 0 ? "a" : "w");
  ALIBI_CHECK_AS(IoError, file_ != nullptr,
                 path_ << ": cannot open for writing; check that --out-dir is a writable directory");
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const StepMetrics& m) {
  std::fprintf(file_, "{\"step\": %lld, \"loss\": %.6f, \"lr\": %.6e, \"grad_norm\": %.6f, "
                      "\"tokens_per_s\": %.1f, \"elapsed_s\": %.3f",
               static_cast<long long>(m.step), m.loss, m.lr, m.grad_norm, m.tokens_per_s, m.elapsed_s);
  if (m.val_loss) std::fprintf(file_, ", \"val_loss\": %.6f", *m.val_loss);
  if (m.pipeline_wait_s > 0 || m.dp_window_s > 0) {
    std::fprintf(file_, ", \"pipeline_wait_s\": %.4f, \"dp_wait_s\": %.4f, \"dp_window_s\": %.4f", m.pipeline_wait_s,
                 m.dp_wait_s, m.dp_window_s);
  }
  std::fprintf(file_, "}\n");
  std::fflush(file_);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

ProgressBar::ProgressBar(int64_t first_step, int64_t total_steps, int log_every)
    : first_(first_step), total_(total_steps), log_every_(log_every), tty_(stdout_is_interactive()) {}

void ProgressBar::update(const StepMetrics& m) {
  ema_tokens_per_s_ = ema_tokens_per_s_ == 0 ? m.tokens_per_s : 0.9 * ema_tokens_per_s_ + 0.1 * m.tokens_per_s;
  const double steps_per_s = m.elapsed_s > 0 ? static_cast<double>(m.step - first_) / m.elapsed_s : 0;
  const double eta = steps_per_s > 0 ? static_cast<double>(total_ - m.step) / steps_per_s : -1;
  std::ostringstream val;
  if (m.val_loss) val << " val " << std::fixed << std::setprecision(4) << *m.val_loss;
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * static_cast<double>(m.step) / std::max<int64_t>(1, total_));
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::printf("\r[%s] %lld/%lld loss %.4f%s | %.0f tok/s | lr %.2e | ETA %s   ", bar.c_str(),
                static_cast<long long>(m.step), static_cast<long long>(total_), m.loss, val.str().c_str(),
                ema_tokens_per_s_, m.lr, format_duration(eta).c_str());
    std::fflush(stdout);
    drawn_ = true;
  } else if (m.step % log_every_ == 0 || m.step == total_ || m.val_loss) {
    std::printf("step %lld/%lld | loss %.4f%s | lr %.3e | grad norm %.3f | %.0f tok/s | %s elapsed, ETA %s\n",
                static_cast<long long>(m.step), static_cast<long long>(total_), m.loss, val.str().c_str(), m.lr,
                m.grad_norm, m.tokens_per_s, format_duration(m.elapsed_s).c_str(),
                format_duration(eta).c_str());
    std::fflush(stdout);
  }
}

void ProgressBar::message(const std::string& text) {
  if (drawn_) std::printf("\n");
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
  drawn_ = false;
}

void ProgressBar::finish() {
  if (drawn_) std::printf("\n");
  drawn_ = false;
}

}  // namespace alibi
