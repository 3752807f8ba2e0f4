// The training step over the process grid.
#include "train/trainer.h"

#include <cmath>

#include "kernels/dispatch.h"
#include "parallel/checkpoint.h"
#include "parallel/pipeline.h"
#include "train/model_checkpoint.h"

namespace alibi {

namespace {

// The model as the 1F1B schedule sees one pipeline stage.
struct TrainStage {
  Model<float>& model;
  int B, T, M;
  const int32_t* inputs;   // (M, B, T)
  const int32_t* targets;  // (M, B, T)
  float scale;
  std::function<void(int)> on_last_block_done;
  double loss_sum = 0;

  Tensor& input(int slot) { return model.stage_input(slot, B, T); }
  Tensor& output(int slot) { return model.stage_output(slot); }
  Tensor& output_grad(int slot) { return model.stage_output_grad(slot, B, T); }
  Tensor& input_grad(int slot) { return model.stage_input_grad(slot); }
  void forward(int micro, int slot) {
    const int64_t off = int64_t{micro} * B * T;
    loss_sum += model.forward_stage(slot, inputs + off, targets + off, B, T);
  }
  void backward(int micro, int slot) {
    model.backward_stage(slot, scale, micro == M - 1 ? on_last_block_done : std::function<void(int)>());
  }
};

// DP buckets: one per local block (its gradients are final once the last micro-batch's
// backward leaves it), then one for everything else (embedding, final LN, head).
std::vector<std::vector<Tensor*>> bucket_groups(const Model<float>& model, std::vector<int>& bucket_of_layer) {
  const auto [first, last] = model.layer_range();
  bucket_of_layer.assign(model.config().layers, -1);
  std::vector<std::vector<Tensor*>> groups(last - first + 1);
  for (const ParamRef& p : model.parameters()) {
    int bucket = last - first;  // the rest
    if (p.name.rfind("blocks.", 0) == 0) bucket = std::stoi(p.name.substr(7)) - first;
    groups[bucket].push_back(p.grad);
  }
  for (int l = first; l < last; ++l) bucket_of_layer[l] = l - first;
  return groups;
}

// The model's parameters after moving them to --device: the AdamW moments and the DP
// buckets are allocated beside them.
const ParameterList& parameters_on_device(Model<float>& model, const TrainOptions& opt) {
  model.to_device(opt.device, opt.matmul_precision);
  return model.parameters();
}

}  // namespace

Trainer::Trainer(const ModelConfig& cfg, const TrainOptions& opt, const ProcessGrid& grid, const Corpus& corpus)
    : cfg_(cfg),
      opt_(opt),
      grid_(grid),
      corpus_(corpus),
      model_(cfg, opt.seed, grid),
      adam_(parameters_on_device(model_, opt), {static_cast<float>(opt.beta1), static_cast<float>(opt.beta2), 1e-8f}),
      sampler_(corpus, Split::train, cfg.seq_len, opt.seed, grid.coord().dp_rank, grid.shape().dp),
      buckets_(bucket_groups(model_, bucket_of_layer_), grid.dp()) {}

int64_t Trainer::tokens_per_step() const {
  return int64_t{opt_.micro_batch} * cfg_.seq_len * opt_.grad_accum * grid_.shape().dp;
}

StepResult Trainer::step(double lr) {
  const int B = opt_.micro_batch, T = cfg_.seq_len, M = opt_.grad_accum;
  inputs_.resize(size_t(M) * B * T);
  targets_.resize(inputs_.size());
  for (int m = 0; m < M; ++m) {
    sampler_.next_batch(B, inputs_.data() + size_t(m) * B * T, targets_.data() + size_t(m) * B * T);
  }
  zero_grads(model_.parameters());
  TrainStage stage{model_, B, T, M, inputs_.data(), targets_.data(), 1.0f / static_cast<float>(tokens_per_step()),
                   [this](int layer) { buckets_.start(bucket_of_layer_[layer]); }};
  StepResult r;
  pipeline_waits_.reset();
  run_1f1b(stage, grid_, M, &pipeline_waits_);
  buckets_.finish();
  if (cfg_.tie_embeddings && grid_.shape().pp > 1 && model_.wte.defined()) {
    grid_.embedding().all_reduce_sum(model_.dwte.data<float>(), model_.dwte.numel());
  }
  r.grad_norm = clip_grad_norm<float>(model_.parameters(), opt_.clip, grid_);  // the step's host sync
  r.pipeline_wait_s = pipeline_waits_.seconds();  // on CUDA read from events the stream has passed
  r.dp_wait_s = buckets_.last_wait_s();
  r.dp_window_s = buckets_.last_window_s();
  adam_.step(static_cast<float>(lr), static_cast<float>(opt_.weight_decay));
  // Each loss once: the last stage's TP rank 0 of every DP replica.
  const bool reports = model_.has_head() && grid_.coord().tp_rank == 0;
  r.loss = grid_.world().sum(reports ? stage.loss_sum : 0.0) / static_cast<double>(tokens_per_step());
  return r;
}

EvalResult Trainer::evaluate(Split split, int max_batches) {
  const int T = cfg_.seq_len;
  SlidingWindows windows(corpus_, split, T, /*stride=*/T, grid_.coord().dp_rank, grid_.shape().dp);
  return score_windows(model_, grid_, windows, T, opt_.micro_batch, max_batches);
}

void Trainer::save(const std::string& path) {
  const CheckpointState state{steps_done(), sampler_.position(), opt_.seed};
  const GridCoord& c = grid_.coord();
  write_checkpoint(path, grid_.world(), to_option_map(cfg_, opt_), state,
                   stored_blocks(model_.parameters(), nullptr, c), stored_blocks(model_.parameters(), &adam_.first_moments(), c),
                   stored_blocks(model_.parameters(), &adam_.second_moments(), c), [&](h5::File& f) {
                     h5::Group g = f.create_group("tokenizer");
                     corpus_.tokenizer().write_to(g);
                   });
}

int64_t Trainer::resume(const std::string& path) {
  check_checkpoint_tokenizer(path, corpus_, "resume with the corpus it was trained on");
  const GridCoord& c = grid_.coord();
  read_checkpoint_tensors(path, stored_blocks(model_.parameters(), nullptr, c),
                          stored_blocks(model_.parameters(), &adam_.first_moments(), c),
                          stored_blocks(model_.parameters(), &adam_.second_moments(), c));
  const CheckpointState state = read_checkpoint_state(path);
  adam_.set_steps_taken(state.step);
  sampler_.set_position(state.data_position);
  return state.step;
}

}  // namespace alibi
