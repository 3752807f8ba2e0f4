// The model: forward through the blocks, backward walking them in exact reverse.
#include "layers/model.h"

#include "kernels/ops.h"

namespace alibi {

static PositionBias attention_bias(PositionMethod method) {
  return method == PositionMethod::alibi ? PositionBias::alibi : PositionBias::none;
}

template <class Real>
Model<Real>::Model(const ModelConfig& config, uint64_t seed) : config_(config) {
  config.validate();
  const int64_t V = config.vocab, C = config.channels;
  make_parameter<Real>(wte, dwte, "embedding.weight", {V, C}, Init::normal, 0.02, seed);
  params_.push_back({"embedding.weight", &wte, &dwte, true});
  AttentionShape shape;
  shape.C = config.channels;
  shape.NH = config.heads;
  shape.head_offset = 0;
  shape.n_heads_total = config.heads;
  shape.bias = attention_bias(config.position_method());
  blocks.reserve(config.layers);
  for (int l = 0; l < config.layers; ++l) {
    blocks.emplace_back("blocks." + std::to_string(l), shape, config.ffn_width(), config.layers, seed);
  }
  for (Block<Real>& b : blocks) b.collect(params_);
  ln_f = LayerNorm<Real>("ln_f", C, seed);
  ln_f.collect(params_);
  if (!config.tie_embeddings) {
    lm_head = Linear<Real>("lm_head", C, V, false, 0.02, seed);
    lm_head.collect(params_);
  }
}

template <class Real>
double Model<Real>::forward(const int32_t* tokens, const int32_t* targets, int B, int T) {
  const int64_t N = int64_t{B} * T, C = config_.channels, V = config_.vocab;
  const DType dt = dtype_of<Real>();
  for (int64_t i = 0; i < N; ++i) {
    ALIBI_CHECK_AS(DataError, tokens[i] >= 0 && tokens[i] < V,
                   "token id " << tokens[i] << " at position " << i << " is outside the vocabulary [0, "
                               << V << "); the corpus and the model's --vocab disagree");
  }
  if (B != B_ || T != T_) {
    residuals_.assign(config_.layers + 1, Tensor());
    for (Tensor& r : residuals_) r = Tensor::empty({N, C}, dt);
    lnf_out_ = Tensor::empty({N, C}, dt);
    lnf_mean_ = Tensor::empty({N}, dt);
    lnf_rstd_ = Tensor::empty({N}, dt);
    logits_ = Tensor::empty({N, V}, dt);
    losses_ = Tensor::empty({N}, dt);
    B_ = B;
    T_ = T;
  }
  tokens_.assign(tokens, tokens + N);
  cpu::embedding_forward<Real>(residuals_[0].data<Real>(), tokens, wte.data<Real>(), N, C);
  for (int l = 0; l < config_.layers; ++l) blocks[l].forward(residuals_[l + 1], residuals_[l], B, T);
  ln_f.forward(lnf_out_, lnf_mean_, lnf_rstd_, residuals_.back());
  const Tensor& head = config_.tie_embeddings ? wte : lm_head.weight;
  cpu::linear_forward<Real>(logits_.data<Real>(), lnf_out_.data<Real>(), head.data<Real>(), nullptr, N, C, V);
  scored_ = 0;
  if (targets == nullptr) {
    targets_.clear();
    return 0.0;
  }
  targets_.assign(targets, targets + N);
  for (int64_t i = 0; i < N; ++i) {
    ALIBI_CHECK_AS(DataError, targets[i] < V,
                   "target id " << targets[i] << " is outside the vocabulary [0, " << V << ")");
    scored_ += targets[i] >= 0;
  }
  cpu::cross_entropy_forward<Real>(losses_.data<Real>(), logits_.data<Real>(), targets, N, V);
  double sum = 0.0;
  const Real* l = losses_.data<Real>();
  for (int64_t i = 0; i < N; ++i) sum += l[i];
  return sum;
}

template <class Real>
void Model<Real>::backward(Real scale) {
  ALIBI_CHECK(!targets_.empty(), "Model::backward needs a forward with targets first");
  const int64_t N = int64_t{B_} * T_, C = config_.channels, V = config_.vocab;
  // dlogits replace the logits in place: (N, V) is the largest activation.
  cpu::cross_entropy_backward<Real>(logits_.data<Real>(), logits_.data<Real>(), targets_.data(), N, V, scale);
  Tensor dlnf = Tensor::empty({N, C}, dtype_of<Real>());
  if (config_.tie_embeddings) {
    cpu::linear_backward<Real>(dlnf.data<Real>(), dwte.data<Real>(), nullptr, logits_.data<Real>(),
                            lnf_out_.data<Real>(), wte.data<Real>(), N, C, V);
  } else {
    lm_head.backward(&dlnf, logits_, lnf_out_);
  }
  Tensor dres = Tensor::zeros({N, C}, dtype_of<Real>());
  ln_f.backward(dres, dlnf, residuals_.back(), lnf_mean_, lnf_rstd_);
  for (int l = config_.layers - 1; l >= 0; --l) blocks[l].backward(dres);
  cpu::embedding_backward<Real>(dwte.data<Real>(), dres.data<Real>(), tokens_.data(), N, C);
  targets_.clear();  // dlogits overwrote the logits: a second backward would be wrong
}

template class Model<float>;
template class Model<double>;

}  // namespace alibi
