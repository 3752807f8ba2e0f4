// alibi train: phases set-up (options, resume), data, model, the train loop, save.
//
//   alibi train --data corpus.h5 --out-dir runs/tiny --config launch/configs/tiny.ini
//   alibi train --resume runs/tiny/step_00000500.h5        # everything else from the checkpoint
//   alibi train --out-dir runs/tiny --resume auto ...       # newest checkpoint, or a fresh start
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "data/corpus.h"
#include "data/sampler.h"
#include "data/tokenizer.h"
#include "launch/commands.h"
#include "launch/evaluate.h"
#include "launch/metrics.h"
#include "launch/train_options.h"
#include "layers/model.h"
#include "layers/optimizer.h"

namespace alibi {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The checkpoint to resume from, or "" for a fresh start.
std::string resolve_resume(const TrainOptions& opt) {
  if (opt.resume.empty()) return "";
  if (opt.resume == "auto") return latest_checkpoint(opt.out_dir).value_or("");
  ALIBI_CHECK_AS(IoError, fs::is_regular_file(opt.resume),
                 "--resume " << opt.resume << ": no such checkpoint; give a step_*.h5 file or --resume auto");
  return opt.resume;
}

// The model's tensors as checkpointed: the fused QKV head-major (NH, 3, HS, C).
std::vector<CheckpointTensor> checkpoint_view(const ParameterList& params, std::vector<Tensor>* moments,
                                              const ModelConfig& cfg) {
  std::vector<CheckpointTensor> out;
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamRef& p = params[i];
    Tensor* t = moments ? &(*moments)[i] : p.value;
    Shape stored = t->shape();
    const bool qkv = p.name.size() > 9 && p.name.find(".attn.qkv.") != std::string::npos;
    if (qkv && p.name.ends_with(".weight")) stored = {cfg.heads, 3, cfg.head_size(), cfg.channels};
    if (qkv && p.name.ends_with(".bias")) stored = {cfg.heads, 3, cfg.head_size()};
    out.push_back({p.name, t, stored});
  }
  return out;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  // ---- set-up: options, then the checkpoint's options below them when resuming -------
  ModelConfig cfg;
  TrainOptions opt;
  po::options_description desc("model and training");
  add_model_options(desc, cfg);
  add_train_options(desc, opt);
  po::variables_map vm;
  if (!parse_command_line("train", argc, argv, desc, vm)) return 0;
  const std::string resume_path = resolve_resume(opt);
  if (!resume_path.empty()) {
    OptionMap saved = read_checkpoint_options(resume_path);
    vm.clear();
    parse_command_line("train", argc, argv, desc, vm, nullptr, to_ini(saved));
  }
  opt.validate();

  // ---- data ---------------------------------------------------------------------------
  Corpus corpus(opt.data);
  const int vocab = static_cast<int>(corpus.vocab_size());
  ALIBI_CHECK_AS(ConfigError, vm["vocab"].defaulted() || cfg.vocab == vocab,
                 "--vocab " << cfg.vocab << " differs from the corpus " << opt.data << " (vocabulary "
                            << vocab << "); drop --vocab to take the corpus's");
  cfg.vocab = vocab;
  cfg.validate();
  const int B = opt.micro_batch, T = cfg.seq_len;
  Sampler sampler(corpus, Split::train, T, opt.seed, /*dp_rank=*/0, /*dp_size=*/1);
  ALIBI_CHECK_AS(IoError, [&] { std::error_code ec; fs::create_directories(opt.out_dir, ec); return fs::is_directory(opt.out_dir); }(),
                 "--out-dir " << opt.out_dir << ": cannot create the directory; choose a writable path");

  // ---- model and optimizer ------------------------------------------------------------
  Model<float> model(cfg, opt.seed);
  AdamW<float> adam(model.parameters(), {static_cast<float>(opt.beta1), static_cast<float>(opt.beta2), 1e-8f});
  CheckpointState state;
  state.seed = opt.seed;
  if (!resume_path.empty()) {
    state = read_checkpoint_state(resume_path);
    {
      h5::File ck(resume_path, h5::Access::read_only);
      const Tokenizer saved = Tokenizer::read_from(ck.group("tokenizer"));
      ALIBI_CHECK_AS(DataError, saved == corpus.tokenizer(),
                     resume_path << ": the checkpoint's tokenizer differs from the corpus " << opt.data
                                 << "'s; resume with the corpus it was trained on");
    }
    read_checkpoint_tensors(resume_path, checkpoint_view(model.parameters(), nullptr, cfg),
                            checkpoint_view(model.parameters(), &adam.first_moments(), cfg),
                            checkpoint_view(model.parameters(), &adam.second_moments(), cfg));
    adam.set_steps_taken(state.step);
    sampler.set_position(state.data_position);
    std::printf("resumed from %s at step %lld\n", resume_path.c_str(), static_cast<long long>(state.step));
  }
  std::printf("model: %lld parameters (L=%d C=%d NH=%d F=%d V=%d T=%d, position %s); batch %d x %d windows "
              "= %lld tokens/step\n",
              static_cast<long long>(cfg.parameter_count()), cfg.layers, cfg.channels, cfg.heads,
              cfg.ffn_width(), cfg.vocab, T, cfg.position.c_str(), B, opt.grad_accum,
              static_cast<long long>(int64_t{B} * T * opt.grad_accum));

  auto save = [&](int64_t step) {
    state.step = step;
    state.data_position = sampler.position();
    const std::string path = checkpoint_path(opt.out_dir, step);
    write_checkpoint(path, to_option_map(cfg, opt), state, checkpoint_view(model.parameters(), nullptr, cfg),
                     checkpoint_view(model.parameters(), &adam.first_moments(), cfg),
                     checkpoint_view(model.parameters(), &adam.second_moments(), cfg),
                     [&](h5::File& f) {
                       h5::Group g = f.create_group("tokenizer");
                       corpus.tokenizer().write_to(g);
                     });
    prune_checkpoints(opt.out_dir, opt.keep);
    return path;
  };

  // ---- train loop ---------------------------------------------------------------------
  MetricsLog metrics(opt.out_dir, state.step);
  const LrSchedule schedule{opt.lr, opt.min_lr, opt.warmup, opt.steps};
  const int64_t tokens_per_step = int64_t{B} * T * opt.grad_accum;
  const float loss_scale = 1.0f / static_cast<float>(tokens_per_step);
  std::vector<int32_t> inputs(size_t(B) * T), targets(size_t(B) * T);
  ProgressBar progress(state.step, opt.steps, static_cast<int>(opt.log_every));
  const Clock::time_point start = Clock::now();
  for (int64_t step = state.step; step < opt.steps; ++step) {
    const Clock::time_point t0 = Clock::now();
    zero_grads(model.parameters());
    double loss_sum = 0.0;
    for (int micro = 0; micro < opt.grad_accum; ++micro) {
      sampler.next_batch(B, inputs.data(), targets.data());
      loss_sum += model.forward(inputs.data(), targets.data(), B, T);
      model.backward(loss_scale);
    }
    const double grad_norm = clip_grad_norm<float>(model.parameters(), opt.clip);
    const double lr = lr_at(step, schedule);
    adam.step(static_cast<float>(lr), static_cast<float>(opt.weight_decay));

    StepMetrics m;
    m.step = step + 1;
    m.loss = loss_sum / static_cast<double>(tokens_per_step);
    m.lr = lr;
    m.grad_norm = grad_norm;
    m.tokens_per_s = static_cast<double>(tokens_per_step) / seconds_since(t0);
    m.elapsed_s = seconds_since(start);
    ALIBI_CHECK_AS(DataError, std::isfinite(m.loss),
                   "the training loss became " << m.loss << " at step " << m.step
                                               << "; lower --lr or raise --warmup, then --resume auto");
    const bool last = m.step == opt.steps;
    if ((opt.eval_every > 0 && m.step % opt.eval_every == 0) || last) {
      m.val_loss = evaluate_loss(model, corpus, Split::valid, T, B, opt.eval_batches).loss();
    }
    metrics.write(m);
    progress.update(m);
    if ((opt.save_every > 0 && m.step % opt.save_every == 0) || last) {
      const std::string path = save(m.step);
      if (!last) progress.message("saved " + path);
    }
  }
  progress.finish();

  // ---- report: held-out loss on the whole validation split ----------------------------
  const EvalResult final_eval = evaluate_loss(model, corpus, Split::valid, T, B, /*max_batches=*/0);
  std::printf("checkpoint: %s\n", checkpoint_path(opt.out_dir, opt.steps).c_str());
  std::printf("validation (%lld tokens, windows of %d): loss %.4f nats/token, perplexity %.3f\n",
              static_cast<long long>(final_eval.tokens), T, final_eval.loss(), final_eval.perplexity());
  return 0;
}

}  // namespace alibi
