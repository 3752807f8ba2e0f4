// The training step over the process grid.
#include "train/trainer.h"

#include <cmath>

#include "kernels/dispatch.h"
#include "runtime/device.h"
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
// backward leaves it), then one for everything else (embedding, final LN, head). The
// gradients and, beside them, the parameters (which ZeRO-1 gathers).
struct BucketGroups {
  std::vector<std::vector<Tensor*>> grads, values;
};

// The model is moved to --device first (and told what its blocks keep for backward): the DP
// buckets and the AdamW moments are allocated beside its parameters.
BucketGroups bucket_groups(Model<float>& model, const TrainOptions& opt, std::vector<int>& bucket_of_layer,
                           std::vector<std::pair<int, size_t>>& place) {
  model.to_device(opt.device, opt.matmul_precision);
  model.set_recompute(opt.recompute);
  const auto [first, last] = model.layer_range();
  bucket_of_layer.assign(model.config().layers, -1);
  BucketGroups groups;
  groups.grads.resize(last - first + 1);
  groups.values.resize(last - first + 1);
  for (const ParamRef& p : model.parameters()) {
    int bucket = last - first;  // the rest
    if (p.name.rfind("blocks.", 0) == 0) bucket = std::stoi(p.name.substr(7)) - first;
    place.emplace_back(bucket, groups.grads[bucket].size());
    groups.grads[bucket].push_back(p.grad);
    groups.values[bucket].push_back(p.value);
  }
  for (int l = first; l < last; ++l) bucket_of_layer[l] = l - first;
  return groups;
}

GradBuckets make_buckets(BucketGroups groups, const TrainOptions& opt, const ProcessGrid& grid) {
  if (opt.zero == 0) return GradBuckets(std::move(groups.grads), grid.dp());
  return GradBuckets(std::move(groups.grads), grid.dp(), GradSync::reduce_scatter, std::move(groups.values));
}

// Each parameter's range that this rank's AdamW updates: its DP shard under ZeRO-1, else
// all (empty list).
std::vector<ElementRange> adam_slices(const GradBuckets& buckets, const std::vector<std::pair<int, size_t>>& place) {
  std::vector<ElementRange> slices;
  if (!buckets.sharded()) return slices;
  for (const auto& [bucket, k] : place) slices.push_back(buckets.owned(bucket, k));
  return slices;
}

}  // namespace

Trainer::Trainer(const ModelConfig& cfg, const TrainOptions& opt, const ProcessGrid& grid, const Corpus& corpus)
    : cfg_(cfg),
      opt_(opt),
      grid_(grid),
      corpus_(corpus),
      model_(cfg, opt.seed, grid),
      sampler_(corpus, Split::train, cfg.seq_len, opt.seed, grid.coord().dp_rank, grid.shape().dp),
      buckets_(make_buckets(bucket_groups(model_, opt, bucket_of_layer_, bucket_place_), opt, grid)),
      adam_(model_.parameters(), {static_cast<float>(opt.beta1), static_cast<float>(opt.beta2), 1e-8f},
            adam_slices(buckets_, bucket_place_)) {}

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
  model_.zero_grads();
  TrainStage stage{model_, B, T, M, inputs_.data(), targets_.data(), 1.0f / static_cast<float>(tokens_per_step()),
                   [this](int layer) { buckets_.start(bucket_of_layer_[layer]); }};
  StepResult r;
  pipeline_waits_.reset();
  run_1f1b(stage, grid_, M, &pipeline_waits_);
  // The tied embedding's two copies summed before the DP reduction, whose last bucket
  // (embedding, head) starts in finish(): ZeRO-1 keeps only a shard of that sum.
  if (cfg_.tie_embeddings && grid_.shape().pp > 1 && model_.wte.defined()) {
    grid_.embedding().all_reduce_sum(model_.dwte.data<float>(), model_.dwte.numel());
  }
  buckets_.finish();
  // The step's host sync; the timers after it, on CUDA read from events the stream has passed.
  r.grad_norm = clip_grad_norm<float>(model_.parameters(), opt_.clip, grid_, zero() ? &adam_.slices() : nullptr);
  r.pipeline_wait_s = pipeline_waits_.seconds();
  r.dp_wait_s = buckets_.last_wait_s();  // the all-reduce's or ZeRO-1's reduce-scatter's wait
  r.dp_window_s = buckets_.last_window_s();
  adam_.step(static_cast<float>(lr), static_cast<float>(opt_.weight_decay));
  buckets_.gather();  // ZeRO-1: every DP rank's updated shard to all
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

Tensor Trainer::whole_moment(const std::vector<Tensor>& shards, size_t i) const {
  const Tensor& value = *model_.parameters()[i].value;
  Tensor whole = Tensor::zeros(value.shape(), shards[i].dtype(), value.device());
  const ElementRange r = adam_.slices()[i];
  copy_bytes_async(static_cast<char*>(whole.raw()) + r.begin * sizeof(float), value.device(), shards[i].raw(),
                   value.device(), shards[i].nbytes());
  grid_.dp().all_reduce_sum(whole.raw(), whole.numel(), whole.dtype());
  return whole;
}

void Trainer::save(const std::string& path) {
  const CheckpointState state{steps_done(), sampler_.position(), opt_.seed};
  const GridCoord& c = grid_.coord();
  std::vector<CheckpointTensor> m = stored_blocks(model_.parameters(), &adam_.first_moments(), c);
  std::vector<CheckpointTensor> v = stored_blocks(model_.parameters(), &adam_.second_moments(), c);
  // ZeRO-1 writes whole moments like any layout, each gathered just before its write.
  for (size_t i = 0; zero() && i < m.size(); ++i) {
    m[i].make = [this, i] { return whole_moment(adam_.first_moments(), i); };
    v[i].make = [this, i] { return whole_moment(adam_.second_moments(), i); };
  }
  write_checkpoint(path, grid_.world(), to_option_map(cfg_, opt_), state, stored_blocks(model_.parameters(), nullptr, c),
                   m, v, [&](h5::File& f) {
                     h5::Group g = f.create_group("tokenizer");
                     corpus_.tokenizer().write_to(g);
                   });
}

int64_t Trainer::resume(const std::string& path) {
  check_checkpoint_tokenizer(path, corpus_, "resume with the corpus it was trained on");
  const GridCoord& c = grid_.coord();
  const ParameterList& params = model_.parameters();
  if (!zero()) {
    read_checkpoint_tensors(path, stored_blocks(params, nullptr, c), stored_blocks(params, &adam_.first_moments(), c),
                            stored_blocks(params, &adam_.second_moments(), c));
  } else {
    // ZeRO-1 reads each whole moment in turn and keeps its slice (one at a time: the
    // caching allocator would keep all of them otherwise).
    read_checkpoint_tensors(path, stored_blocks(params, nullptr, c), {}, {});
    for (size_t i = 0; i < params.size(); ++i) {
      const ParameterList one{params[i]};
      std::vector<Tensor> m{Tensor::zeros(params[i].value->shape(), DType::f32, params[i].value->device())};
      std::vector<Tensor> v{Tensor::zeros(params[i].value->shape(), DType::f32, params[i].value->device())};
      read_checkpoint_tensors(path, {}, stored_blocks(one, &m, c), stored_blocks(one, &v, c));
      const ElementRange r = adam_.slices()[i];
      for (auto [whole, shard] : {std::pair{&m[0], &adam_.first_moments()[i]}, std::pair{&v[0], &adam_.second_moments()[i]}})
        copy_bytes_async(shard->raw(), shard->device(), static_cast<const char*>(whole->raw()) + r.begin * sizeof(float),
                         whole->device(), shard->nbytes());
    }
  }
  const CheckpointState state = read_checkpoint_state(path);
  adam_.set_steps_taken(state.step);
  sampler_.set_position(state.data_position);
  return state.step;
}

}  // namespace alibi
