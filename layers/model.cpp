// The model as one rank's pipeline stage: forward through the local blocks, backward
// walking them in exact reverse; vocab-parallel embedding, head and cross-entropy.
#include "layers/model.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/dispatch.h"
#include "runtime/device.h"
#include "parallel/tensor_parallel.h"

namespace alibi {

static PositionBias attention_bias(PositionMethod method) {
  switch (method) {
    case PositionMethod::alibi: return PositionBias::alibi;
    case PositionMethod::rotary: return PositionBias::rotary;
    case PositionMethod::t5: return PositionBias::t5;
    default: return PositionBias::none;  // absolute positions live in the embedding
  }
}

constexpr int64_t kT5Buckets = 32;  // T5's num_buckets (max_distance 128 in the kernel)

// Sinusoidal positions (Vaswani et al.; fairseq's layout: sines in the first C/2
// channels, cosines in the rest), added to token embeddings scaled by sqrt(C) as fairseq
// and the paper's baseline do: unscaled, unit-amplitude sinusoids swamp the tokens.
static double sinusoid(int64_t t, int64_t c, int64_t C) {
  const int64_t half = C / 2, i = c < half ? c : c - half;
  const double freq = std::exp(-std::log(10000.0) * static_cast<double>(i) / static_cast<double>(std::max<int64_t>(1, half - 1)));
  if (c >= 2 * half) return 0.0;  // odd C: the last channel carries no position
  return c < half ? std::sin(static_cast<double>(t) * freq) : std::cos(static_cast<double>(t) * freq);
}

template <class Real>
Model<Real>::Model(const ModelConfig& config, uint64_t seed) : Model(config, seed, ProcessGrid::single()) {}

template <class Real>
Model<Real>::Model(const ModelConfig& config, uint64_t seed, const ProcessGrid& grid)
    : config_(config), grid_(grid) {
  config.validate();
  const PositionMethod method = config.position;
  const GridShape& g = grid.shape();
  // The T5 table is shared by every layer; split over pipeline stages it would need its
  // copies kept in sync like the tied embedding, which is not written yet.
  ALIBI_CHECK_AS(ConfigError, method != PositionMethod::t5 || g.pp == 1,
                 "--position t5 with --pp " << g.pp << " is not supported yet; use --pp 1 (tp and dp work)");
  const GridCoord& c = grid.coord();
  validate_grid(g, g.world(), config);
  const int64_t V = config.vocab, C = config.channels;
  std::tie(v0_, v1_) = shard_range(V, g.tp, c.tp_rank);
  const Sharding vocab_rows = Sharding::rows({V, C}, v0_);
  const bool embedding_here = grid.first_stage() || (grid.last_stage() && config.tie_embeddings);
  if (embedding_here) {
    make_parameter<Real>(wte, dwte, "embedding.weight", {v1_ - v0_, C}, vocab_rows, Init::normal, 0.02, seed);
    params_.push_back({"embedding.weight", &wte, &dwte, true, vocab_rows, /*tied_copy=*/!grid.first_stage()});
  }
  if (grid.first_stage() && config.position == PositionMethod::learned) {
    const Shape shape{config.position_rows(), C};
    make_parameter<Real>(wpe, dwpe, "position.weight", shape, Sharding::whole(shape), Init::normal, 0.02, seed);
    params_.push_back({"position.weight", &wpe, &dwpe, true, Sharding::whole(shape)});
  }
  AttentionShape shape;
  shape.C = config.channels;
  shape.NH = config.heads / g.tp;
  shape.head_offset = shape.NH * c.tp_rank;
  shape.n_heads_total = config.heads;
  shape.bias = attention_bias(config.position);
  if (method == PositionMethod::t5) {
    const Sharding heads_cols = Sharding::cols({kT5Buckets, config.heads}, shape.head_offset);
    make_parameter<Real>(t5, dt5, "position.t5_bias", {kT5Buckets, shape.NH}, heads_cols, Init::zeros, 0.0, seed);
    params_.push_back({"position.t5_bias", &t5, &dt5, false, heads_cols});
    shape.t5_table = &t5;
    shape.t5_table_grad = &dt5;
  }
  int last_layer = 0;
  std::tie(first_layer_, last_layer) = stage_layers(g, config.layers, c.pp_rank);
  blocks.reserve(last_layer - first_layer_);
  for (int l = first_layer_; l < last_layer; ++l) {
    blocks.emplace_back("blocks." + std::to_string(l), shape, config.ffn_width(), config.layers, seed, grid_.tp());
  }
  for (Block<Real>& b : blocks) b.collect(params_);
  if (grid.last_stage()) {
    ln_f = LayerNorm<Real>("ln_f", C, seed);
    ln_f.collect(params_);
    if (!config.tie_embeddings) {
      lm_head = Linear<Real>("lm_head", C, v1_ - v0_, false, 0.02, seed, vocab_rows, Sharding::range(V, v0_));
      lm_head.collect(params_);
    }
  }
  head_rows_ = v1_ - v0_;
  pad_head();
}

// The head weight and its gradient become the first V_local rows of zero-padded
// (head_rows_, C) tensors. Rebinding is safe here: the slots (which copy Tensors) do not
// exist yet, and params_ points at these Tensor objects, not at their storage.
template <class Real>
void Model<Real>::pad_head() {
  if (!has_head()) return;
  Tensor& w = config_.tie_embeddings ? wte : lm_head.weight;
  Tensor& dw = config_.tie_embeddings ? dwte : lm_head.dweight;
  const int64_t rows = w.dim(0), C = w.dim(1);
  if (head_rows_ == rows) {  // no padding: the GEMMs take the parameters themselves
    head_w_ = w;
    head_dw_ = dw;
    return;
  }
  for (auto [param, padded] : {std::pair<Tensor*, Tensor*>{&w, &head_w_}, {&dw, &head_dw_}}) {
    *padded = Tensor::zeros({head_rows_, C}, param->dtype(), param->device());
    padded->slice(0, rows).copy_from(*param);
    *param = padded->slice(0, rows);
  }
}

template <class Real>
void Model<Real>::zero_grads() {
  alibi::zero_grads(params_);
  if (!has_head()) return;
  const Tensor& dw = config_.tie_embeddings ? dwte : lm_head.dweight;
  if (head_rows_ > dw.dim(0)) head_dw_.slice(dw.dim(0), head_rows_).zero_();
}

template <class Real>
void Model<Real>::set_vocab_multiple(int multiple) {
  ALIBI_CHECK(slots_.empty(), "Model::set_vocab_multiple must come before the first forward");
  ALIBI_CHECK(multiple >= 1, "the vocabulary multiple must be at least 1 (got " << multiple << ")");
  vocab_multiple_ = multiple;
  const int64_t V_local = v1_ - v0_;
  head_rows_ = padded_rows(V_local, multiple);
  pad_head();
}

template <class Real>
void Model<Real>::to_device(Device device, MatmulPrecision precision) {
  ALIBI_CHECK(slots_.empty(), "Model::to_device must come before the first forward");
  // The slots copy the template blocks on first use, precision included.
  precision = ops::resolve_precision(device, precision);
  precision_ = precision;
  for (Block<Real>& b : blocks) b.set_precision(precision);
  if (device == device_) return;
  if (device == Device::cuda) {
    require_cuda_device("--device cuda");
    ALIBI_CHECK_AS(DeviceError, (std::is_same_v<Real, float>), "--device cuda runs float models only");
  }
  // Assign in place: blocks, ParamRefs and the attention's T5 pointers refer to these
  // Tensor objects, which now hold device storage.
  for (const ParamRef& p : params_) {
    *p.value = p.value->to(device);
    *p.grad = p.grad->to(device);
  }
  device_ = device;
  set_vocab_multiple(device == Device::cuda ? kGpuVocabMultiple : vocab_multiple_);  // re-pads on the device
}

template <class Real>
const uint16_t* Model<Real>::head_bf16() {
  if constexpr (std::is_same_v<Real, float>) {
    if (precision_ == MatmulPrecision::bf16) return head16_.of(head_w_);
  }
  return nullptr;
}

template <class Real>
void Model<Real>::set_recompute(Recompute mode) {
  ALIBI_CHECK(slots_.empty(), "Model::set_recompute must come before the first forward");
  recompute_ = mode;
  for (Block<Real>& b : blocks) b.set_recompute(mode);
}

template <class Real>
typename Model<Real>::Slot& Model<Real>::slot(int index) {
  while (static_cast<int>(slots_.size()) <= index) {
    slots_.emplace_back();
    slots_.back().blocks = blocks;  // shallow: shared parameters and gradients
  }
  return slots_[index];
}

template <class Real>
void Model<Real>::ensure_buffers(Slot& s, int B, int T) {
  if (s.B == B && s.T == T) return;
  const int64_t N = int64_t{B} * T, C = config_.channels;
  const DType dt = dtype_of<Real>();
  const Device dev = device_;
  s.residuals.assign(blocks.size() + 1, Tensor());
  for (Tensor& r : s.residuals) r = Tensor::empty({N, C}, dt, dev);
  s.dres = Tensor::empty({N, C}, dt, dev);
  if (has_head()) {
    s.lnf_out = Tensor::empty({N, C}, product_input_dtype<Real>(precision_), dev);  // feeds only the head's products
    s.lnf_mean = Tensor::empty({N}, dt, dev);
    s.lnf_rstd = Tensor::empty({N}, dt, dev);
    s.logits = Tensor::empty({N, head_rows_}, dt, dev);  // the padding columns: zero from the GEMM
    s.losses = Tensor::empty({N}, dt, dev);
    s.row_max = Tensor::empty({N}, dt, dev);
    s.sum_exp = Tensor::empty({N}, DType::f64, dev);
    s.target_logit = Tensor::empty({N}, DType::f64, dev);
  }
  s.B = B;
  s.T = T;
}

template <class Real>
Tensor& Model<Real>::stage_input(int index, int B, int T) {
  Slot& s = slot(index);
  ensure_buffers(s, B, T);
  return s.residuals.front();
}

template <class Real>
Tensor& Model<Real>::stage_output(int index) {
  return slots_.at(index).residuals.back();
}

template <class Real>
Tensor& Model<Real>::stage_output_grad(int index, int B, int T) {
  Slot& s = slot(index);
  ensure_buffers(s, B, T);
  return s.dres;
}

template <class Real>
Tensor& Model<Real>::stage_input_grad(int index) {
  return slots_.at(index).dres;
}

template <class Real>
double Model<Real>::forward_stage(int index, const int32_t* tokens, const int32_t* targets, int B, int T,
                                  bool for_backward) {
  Slot& s = slot(index);
  ensure_buffers(s, B, T);
  const int64_t N = int64_t{B} * T, C = config_.channels, V = config_.vocab, V_local = v1_ - v0_;
  const Communicator& tp = grid_.tp();

  // ---- embedding (vocab-parallel: each rank looks up its rows, the sum is the lookup)
  if (has_embedding()) {
    s.tokens.assign(tokens, tokens + N);
    s.local_tokens.resize(N);
    for (int64_t i = 0; i < N; ++i) {
      ALIBI_CHECK_AS(DataError, tokens[i] >= 0 && tokens[i] < V,
                     "token id " << tokens[i] << " at position " << i << " is outside the vocabulary [0, " << V
                                 << "); the corpus and the model's --vocab disagree");
      s.local_tokens[i] = tokens[i] >= v0_ && tokens[i] < v1_ ? static_cast<int32_t>(tokens[i] - v0_) : -1;
    }
    ops::embedding_forward<Real>(device_, s.residuals[0].template data<Real>(), s.local_tokens.data(), wte.data<Real>(), N, C);
    reduce_from_tp_forward(tp, s.residuals[0]);
    add_positions(s.residuals[0], B, T);
  }

  // ---- blocks
  for (size_t l = 0; l < s.blocks.size(); ++l) {
    s.blocks[l].forward(s.residuals[l + 1], s.residuals[l], B, T);
    if (!for_backward) s.blocks[l].release_activations();
  }
  s.scored = 0;
  s.pending_backward = for_backward && targets != nullptr;
  if (!has_head()) return 0.0;

  // ---- final LayerNorm, LM head (copy_to_tp: identity forward), vocab-parallel CE
  ln_f.forward(s.lnf_out, s.lnf_mean, s.lnf_rstd, s.residuals.back());
  ops::linear_forward<Real>(device_, precision_, s.logits.template data<Real>(), real_view<Real>(s.lnf_out), head_w_.template data<Real>(), nullptr,
                            N, C, head_rows_, head_bf16(), bf16_view(s.lnf_out));
  if (targets == nullptr) return 0.0;
  s.targets.assign(targets, targets + N);
  for (int64_t i = 0; i < N; ++i) {
    ALIBI_CHECK_AS(DataError, targets[i] < V, "target id " << targets[i] << " is outside the vocabulary [0, " << V << ")");
    s.scored += targets[i] >= 0;
  }
  Real* row_max = s.row_max.template data<Real>();
  double* sum_exp = s.sum_exp.template data<double>();
  double* target_logit = s.target_logit.template data<double>();
  ops::vocab_ce_row_max<Real>(device_, row_max, s.logits.template data<Real>(), N, V_local, head_rows_);
  tp.all_reduce_max(row_max, N);
  ops::vocab_ce_partials<Real>(device_, sum_exp, target_logit, s.logits.template data<Real>(), row_max, targets, v0_, N, V_local, head_rows_);
  tp.all_reduce_sum(sum_exp, N);
  tp.all_reduce_sum(target_logit, N);
  ops::vocab_ce_losses<Real>(device_, s.losses.template data<Real>(), sum_exp, target_logit, row_max, targets, N);
  return ops::sum<Real>(device_, s.losses.template data<Real>(), N);
}

template <class Real>
void Model<Real>::backward_stage(int index, Real scale, const std::function<void(int)>& on_block_done) {
  Slot& s = slots_.at(index);
  ALIBI_CHECK(s.pending_backward, "Model::backward needs a forward with targets first");
  s.pending_backward = false;  // dlogits overwrite the logits: a second backward would be wrong
  const int64_t N = int64_t{s.B} * s.T, C = config_.channels, V_local = v1_ - v0_;
  const Communicator& tp = grid_.tp();

  // ---- head: vocab-parallel CE, LM head (copy_to_tp backward: all-reduce), final LN
  if (has_head()) {
    Real* dlogits = s.logits.template data<Real>();  // in place: (N, head_rows_) is the largest activation
    ops::vocab_ce_backward<Real>(device_, dlogits, dlogits, s.row_max.template data<Real>(), s.sum_exp.template data<double>(),
                                 s.targets.data(), v0_, N, V_local, head_rows_, scale);
    Tensor dlnf = Tensor::empty({N, C}, dtype_of<Real>(), device_);
    // The padding columns of dlogits are zero, so the padding rows of head_dw_ gain nothing.
    ops::linear_backward<Real>(device_, precision_, dlnf.data<Real>(), head_dw_.data<Real>(), nullptr, dlogits, real_view<Real>(s.lnf_out),
                               head_w_.template data<Real>(), N, C, head_rows_, head_bf16(), bf16_view(s.lnf_out));
    copy_to_tp_backward(tp, dlnf);
    s.dres.zero_();
    ln_f.backward(s.dres, dlnf, s.residuals.back(), s.lnf_mean, s.lnf_rstd);
  }

  // ---- blocks, in exact reverse
  for (int l = static_cast<int>(s.blocks.size()) - 1; l >= 0; --l) {
    s.blocks[l].backward(s.dres);
    if (on_block_done) on_block_done(first_layer_ + l);
  }

  // ---- positions, then the embedding: scatter-add of this rank's vocabulary rows
  if (has_embedding()) {
    positions_backward(s, s.dres);
    ops::embedding_backward<Real>(device_, dwte.data<Real>(), s.dres.template data<Real>(), s.local_tokens.data(), N, C);
  }
}

template <class Real>
void Model<Real>::add_positions(Tensor& x, int B, int T, int64_t pos0) {
  const int64_t C = config_.channels;
  Real* p = x.data<Real>();
  switch (config_.position) {
    case PositionMethod::learned: {
      const int64_t rows = config_.position_rows();
      if (pos0 == 0) {
        ALIBI_CHECK_AS(ConfigError, T <= rows,
                       "length " << T << " is past the learned position table's " << rows
                                 << " rows (--max-positions); evaluate learned positions at most that long");
      } else {
        ALIBI_CHECK_AS(ConfigError, pos0 + T <= rows,
                       "position " << pos0 + T - 1 << " is past the learned position table's " << rows
                                   << " rows (--max-positions): learned positions cannot go further; keep prompt + "
                                      "new tokens within "
                                   << rows);
      }
      ops::add_position_rows<Real>(device_, p, wpe.data<Real>() + pos0 * C, B, T, C, Real(1));
      break;
    }
    case PositionMethod::sinusoidal: {
      if (!sinusoids_.defined() || sinusoids_.dim(0) != T || sinusoids_pos0_ != pos0) {
        Tensor table = Tensor::empty({T, C}, dtype_of<Real>());
        Real* t_c = table.data<Real>();
        for (int64_t t = 0; t < T; ++t)
          for (int64_t c = 0; c < C; ++c) t_c[t * C + c] = static_cast<Real>(sinusoid(pos0 + t, c, C));
        sinusoids_ = table.to(device_);
        sinusoids_pos0_ = pos0;
      }
      const Real scale = static_cast<Real>(std::sqrt(static_cast<double>(C)));
      ops::add_position_rows<Real>(device_, p, sinusoids_.data<Real>(), B, T, C, scale);
      break;
    }
    default:
      break;
  }
}

template <class Real>
void Model<Real>::positions_backward(Slot& s, Tensor& dx) {
  const int64_t C = config_.channels, T = s.T, B = s.B;
  Real* d = dx.template data<Real>();
  switch (config_.position) {
    case PositionMethod::learned: {
      ops::position_rows_backward<Real>(device_, dwpe.data<Real>(), d, B, T, C);
      break;
    }
    case PositionMethod::sinusoidal: {  // the lookup was scaled by sqrt(C)
      const Real scale = static_cast<Real>(std::sqrt(static_cast<double>(C)));
      ops::scale_inplace<Real>(device_, d, B * T * C, scale);
      break;
    }
    default:
      break;
  }
}

template class Model<float>;
template class Model<double>;

}  // namespace alibi
