// alibi train: phases set-up (options, grid, resume), data, model, the train loop, save.
//
//   alibi train --data corpus.h5 --out-dir runs/tiny --config launch/configs/tiny.ini
//   mpirun -np 8 alibi train ... --tp 2 --pp 2               # dp = 8 / (2*2) = 2
//   alibi train --resume runs/tiny/step_00000500.h5          # everything else from the checkpoint
//   alibi train --out-dir runs/tiny --resume auto ...         # newest checkpoint, or a fresh start
#include <mpi.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "launch/commands.h"
#include "launch/plan.h"
#include "parallel/checkpoint.h"
#include "parallel/nccl_comm.h"
#include "runtime/device.h"
#include "runtime/stop_signals.h"
#include "train/metrics.h"
#include "train/model_checkpoint.h"
#include "train/trainer.h"

namespace alibi {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The checkpoint to resume from, or "" for a fresh start.
std::string resolve_resume(const TrainOptions& opt) {
  if (opt.resume.empty()) return "";
  if (opt.resume == "auto") return latest_checkpoint(opt.out_dir).value_or("");
  ALIBI_CHECK_AS(IoError, fs::is_regular_file(opt.resume),
                 "--resume " << opt.resume << ": no such checkpoint; give a step_*.h5 file or --resume auto");
  return opt.resume;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  // ---- set-up: options (the checkpoint's below the command line when resuming), grid --
  // From the start: a warning signal while data and model load still stops at step 0+.
  // SIGUSR1 (SLURM's warning before the time limit) or SIGTERM (preemption) is recorded
  // (runtime/stop_signals.h); the ranks agree on it at the next step boundary, checkpoint
  // together and exit cleanly.
  arm_graceful_stop();
  ModelConfig cfg;
  TrainOptions opt;
  po::options_description desc("model and training");
  add_model_options(desc, cfg);
  add_train_options(desc, opt);
  po::variables_map vm;
  if (!parse_command_line("train", argc, argv, desc, vm)) return 0;
  const std::string resume_path = resolve_resume(opt);
  if (!resume_path.empty()) {
    const OptionMap saved = upgrade_saved_options(read_checkpoint_options(resume_path));
    vm.clear();
    parse_command_line("train", argc, argv, desc, vm, nullptr, to_ini(saved));
  }
  opt.validate();
  int world_size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  ALIBI_CHECK_AS(ConfigError, opt.tp >= 1 && opt.pp >= 1 && world_size % (opt.tp * opt.pp) == 0,
                 "world = tp*pp*dp fails: " << world_size << " ranks are not a multiple of --tp " << opt.tp
                                            << " x --pp " << opt.pp << "; launch a multiple of tp*pp ranks");
  GridShape shape{opt.tp, opt.pp, world_size / (opt.tp * opt.pp)};

  // ---- data ---------------------------------------------------------------------------
  Corpus corpus(opt.data);
  // Before the vocabulary check: a resume's --vocab is the checkpoint's, so another
  // tokenizer would otherwise read as a --vocab the user never gave.
  if (!resume_path.empty()) check_checkpoint_tokenizer(resume_path, corpus, "resume with the corpus it was trained on");
  const int vocab = static_cast<int>(corpus.vocab_size());
  ALIBI_CHECK_AS(ConfigError, vm["vocab"].defaulted() || cfg.vocab == vocab,
                 "--vocab " << cfg.vocab << " differs from the corpus " << opt.data << " (vocabulary " << vocab
                            << "); drop --vocab to take the corpus's");
  cfg.vocab = vocab;
  cfg.validate();
  // The blocks of each pipeline stage: as given, or balanced by the plan's FLOP model.
  shape.stage_blocks = pipeline_split(cfg, shape.pp, opt.pp_split, opt.recompute);
  corpus.require_tokens(Split::valid, int64_t{cfg.seq_len} + 1, "validation at --seq-len " + std::to_string(cfg.seq_len));
  // --device cuda: one GPU per rank by node-local rank (a clear error where none exists),
  // NCCL for the grid's tensors.
  const bool on_gpu = opt.device == Device::cuda;
  if (on_gpu) select_cuda_device(local_rank(MPI_COMM_WORLD));
  const auto watchdog = std::make_shared<Watchdog>(MPI_COMM_WORLD, 60 * opt.timeout_minutes, kTrainJob);
  const ProcessGrid grid =
      ProcessGrid::create(MPI_COMM_WORLD, shape, cfg, on_gpu ? CommBackend::nccl : CommBackend::mpi, watchdog);
  const bool root = grid.rank() == 0;
  if (root) {
    std::error_code ec;
    fs::create_directories(opt.out_dir, ec);
  }
  grid.world().barrier();
  ALIBI_CHECK_AS(IoError, fs::is_directory(opt.out_dir),
                 "--out-dir " << opt.out_dir << ": cannot create the directory; choose a writable path");

  // ---- model and optimizer ------------------------------------------------------------
  Trainer trainer(cfg, opt, grid, corpus);
  if (!resume_path.empty()) {
    Watchdog::Deadline deadline(*watchdog, "checkpoint read", kStartSkewS);  // parallel HDF5: not polled
    const int64_t step = trainer.resume(resume_path);
    if (root) std::printf("resumed from %s at step %lld\n", resume_path.c_str(), static_cast<long long>(step));
  }
  if (root) {
    std::printf("model: %lld parameters (L=%d C=%d NH=%d F=%d V=%d T=%d, position %s); layout tp=%d pp=%d dp=%d; "
                "%lld tokens/step (micro-batch %d x grad-accum %d x dp %d windows)\n",
                static_cast<long long>(cfg.parameter_count()), cfg.layers, cfg.channels, cfg.heads, cfg.ffn_width(),
                cfg.vocab, cfg.seq_len, enum_name(cfg.position), shape.tp, shape.pp, shape.dp,
                static_cast<long long>(trainer.tokens_per_step()), opt.micro_batch, opt.grad_accum, shape.dp);
    if (shape.pp > 1 || opt.recompute != Recompute::none) {
      std::string stages;
      for (int s = 0; s < shape.pp; ++s) {
        const auto [first, last] = stage_layers(shape, cfg.layers, s);
        stages += (s ? ", " : "") + std::string("[") + std::to_string(first) + ", " + std::to_string(last) + ")";
      }
      std::printf("pipeline stages: blocks %s (--pp-split %s); --recompute %s\n", stages.c_str(),
                  opt.pp_split.c_str(), enum_name(opt.recompute));
    }
    if (on_gpu) {
      std::printf("device: %s per rank (%s matrix products, fp32 weights, activations and optimizer)\n",
                  cuda_device_name().c_str(), enum_name(opt.matmul_precision));
    }
    if (opt.zero == 1 && shape.dp == 1) {
      std::printf("note: --zero 1 with dp = 1 shards nothing (one data-parallel rank holds all AdamW state); "
                  "launch tp*pp*dp ranks with dp > 1 to share it\n");
    } else if (trainer.zero()) {
      std::printf("ZeRO-1: AdamW m and v sharded over dp = %d (each rank keeps 1/%d)\n", shape.dp, shape.dp);
    }
  }

  // A write the file system refuses (full, read-only, vanished directory) ends the job
  // with kExitRequeue: once that is fixed, a requeue continues from the last checkpoint.
  auto save = [&] {
    const std::string path = checkpoint_path(opt.out_dir, trainer.steps_done());
    try {
      Watchdog::Deadline deadline(*watchdog, "checkpoint write");
      trainer.save(path);
    } catch (Error& e) {
      if (e.kind() == ErrorKind::io) e.set_exit_code(kExitRequeue);
      throw;
    }
    if (root) prune_checkpoints(opt.out_dir, opt.keep);
    return path;
  };

  // ---- train loop ---------------------------------------------------------------------
  std::unique_ptr<MetricsLog> metrics;
  if (root) metrics = std::make_unique<MetricsLog>(opt.out_dir, trainer.steps_done());
  const LrSchedule schedule{opt.lr, opt.min_lr, opt.warmup, opt.steps};
  ProgressBar progress(trainer.steps_done(), opt.steps, static_cast<int>(opt.log_every));
  const Clock::time_point start = Clock::now();
  for (int64_t step = trainer.steps_done(); step < opt.steps; ++step) {
    const Clock::time_point t0 = Clock::now();
    watchdog->set_progress(step + 1);
    const double lr = lr_at(step, schedule);
    const StepResult r = trainer.step(lr);
    StepMetrics m;
    m.step = step + 1;
    m.loss = r.loss;
    m.lr = lr;
    m.grad_norm = r.grad_norm;
    m.pipeline_wait_s = r.pipeline_wait_s;
    m.dp_wait_s = r.dp_wait_s;
    m.dp_window_s = r.dp_window_s;
    m.tokens_per_s = static_cast<double>(trainer.tokens_per_step()) / seconds_since(t0);
    m.elapsed_s = seconds_since(start);
    // The norm too: a non-finite gradient has just made the weights non-finite, and a
    // checkpoint of them would make "--resume auto" fail again at once. Stopping here
    // leaves the newest checkpoint from before the divergence. Every rank sees the same
    // loss and norm, so all stop together.
    ALIBI_CHECK_AS(DataError, std::isfinite(m.loss) && std::isfinite(m.grad_norm),
                   "training diverged at step " << m.step << " (loss " << m.loss << ", gradient norm " << m.grad_norm
                                                << "); lower --lr or raise --warmup, and resume from a checkpoint saved before the "
                                                   "loss rose with --resume PATH (none of this step was written)");
    const bool last = m.step == opt.steps;
    if ((opt.eval_every > 0 && m.step % opt.eval_every == 0) || last) {
      m.val_loss = trainer.evaluate(Split::valid, opt.eval_batches).loss();
    }
    if (root) {
      metrics->write(m);
      progress.update(m);
    }
    // One flag all-reduced per step: every rank stops at the same step boundary.
    const bool stop = !last && grid.world().max(static_cast<double>(stop_signal())) > 0;
    if ((opt.save_every > 0 && m.step % opt.save_every == 0) || last || stop) {
      const std::string path = save();
      if (root && !last) progress.message("saved " + path);
    }
    if (stop) {
      if (root) {
        progress.finish();
        std::printf("stopped at step %lld on a signal; checkpoint saved; continue with --resume auto\n",
                    static_cast<long long>(m.step));
      }
      return 0;
    }
  }
  if (root) progress.finish();

  // ---- report: held-out loss on the whole validation split ----------------------------
  const EvalResult final_eval = trainer.evaluate(Split::valid, /*max_batches=*/0);
  if (root) {
    std::printf("checkpoint: %s\n", checkpoint_path(opt.out_dir, opt.steps).c_str());
    std::printf("validation (%lld tokens, windows of %d): loss %.4f nats/token, perplexity %.3f\n",
                static_cast<long long>(final_eval.tokens), cfg.seq_len, final_eval.loss(), final_eval.perplexity());
  }
  return 0;
}

}  // namespace alibi
