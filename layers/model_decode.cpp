// The model's forward for generation: one stream of tokens through the blocks with a KV
// cache, the prompt in one blocked forward and then a token at a time, and the LM head on
// the last positions only (a long prompt never holds T x V logits).
#include <utility>

#include "kernels/dispatch.h"
#include "layers/model.h"
#include "parallel/tensor_parallel.h"

namespace alibi {

template <class Real>
KvCache Model<Real>::make_cache(int64_t capacity, int64_t window) const {
  const int NH_local = config_.heads / grid_.shape().tp;
  return KvCache(static_cast<int>(blocks.size()), NH_local, config_.head_size(), capacity, window, dtype_of<Real>(),
                 device_);
}

template <class Real>
const Tensor& Model<Real>::forward_cached(const int32_t* tokens, int T, KvCache& cache, int rows) {
  ALIBI_CHECK_AS(ConfigError, grid_.shape().pp == 1,
                 "generation runs every block on each rank: use --pp 1 (got --pp " << grid_.shape().pp
                                                                                   << "; --tp splits the heads)");
  ALIBI_CHECK(T >= 1 && rows >= 1 && rows <= T, "Model::forward_cached: need 1 <= rows <= T (got rows=" << rows << ", T=" << T << ")");
  ALIBI_CHECK(cache.n_layers() == static_cast<int>(blocks.size()),
              "Model::forward_cached: the cache has " << cache.n_layers() << " layers, the model " << blocks.size()
                                                      << "; make it with model.make_cache");
  Decoder& d = decoder_;
  if (d.blocks.empty()) d.blocks = blocks;  // shallow: shared parameters
  const int64_t C = config_.channels, V = config_.vocab, V_local = v1_ - v0_;
  const DType dt = dtype_of<Real>();
  if (!d.x.defined() || d.x.dim(0) != T || d.x.device() != device_) {
    d.x = Tensor::empty({T, C}, dt, device_);
    d.y = Tensor::empty({T, C}, dt, device_);
  }
  if (!d.logits.defined() || d.logits.dim(0) != rows || d.logits.device() != device_) {
    d.lnf_out = Tensor::empty({rows, C}, dt, device_);
    d.lnf_mean = Tensor::empty({rows}, dt, device_);
    d.lnf_rstd = Tensor::empty({rows}, dt, device_);
    d.logits = Tensor::empty({rows, V_local}, dt, device_);
  }

  // ---- embedding (vocab-parallel) and absolute positions at the stream's positions
  d.local_tokens.resize(T);
  for (int i = 0; i < T; ++i) {
    ALIBI_CHECK_AS(DataError, tokens[i] >= 0 && tokens[i] < V,
                   "token id " << tokens[i] << " is outside the model's vocabulary [0, " << V << ")");
    d.local_tokens[i] = tokens[i] >= v0_ && tokens[i] < v1_ ? static_cast<int32_t>(tokens[i] - v0_) : -1;
  }
  ops::embedding_forward<Real>(device_, d.x.template data<Real>(), d.local_tokens.data(), wte.data<Real>(), T, C);
  reduce_from_tp_forward(grid_.tp(), d.x);
  add_positions(d.x, 1, T, cache.next_position());

  // ---- blocks, each appending its keys and values to its layer of the cache
  cache.reserve(T);
  for (size_t l = 0; l < d.blocks.size(); ++l) {
    d.blocks[l].forward_cached(d.y, d.x, T, cache, static_cast<int>(l));
    // A prompt's activations go once the next block has its input (as an evaluation's);
    // a single token's stay allocated for the next step.
    if (T > 1) d.blocks[l].release_activations();
    std::swap(d.x, d.y);
  }
  cache.commit(T);

  // ---- final LayerNorm and LM head on the last `rows` positions (copy_to_tp: identity)
  const Tensor last = d.x.slice(T - rows, T);
  ln_f.forward(d.lnf_out, d.lnf_mean, d.lnf_rstd, last);
  ops::linear_forward<Real>(device_, precision_, d.logits.template data<Real>(), d.lnf_out.template data<Real>(),
                            head_weight().template data<Real>(), nullptr, rows, C, V_local, head_bf16());
  return d.logits;
}

// The members of this file only: the class itself is instantiated in model.cpp.
template KvCache Model<float>::make_cache(int64_t, int64_t) const;
template KvCache Model<double>::make_cache(int64_t, int64_t) const;
template const Tensor& Model<float>::forward_cached(const int32_t*, int, KvCache&, int);
template const Tensor& Model<double>::forward_cached(const int32_t*, int, KvCache&, int);

}  // namespace alibi
