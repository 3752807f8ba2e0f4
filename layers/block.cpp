// Transformer block: forward, and its backward directly below in reverse order.
#include "layers/block.h"

#include <cmath>

#include "kernels/dispatch.h"

namespace alibi {

template <class Real>
Block<Real>::Block(const std::string& name, const AttentionShape& shape, int64_t F, int n_layers,
                   uint64_t seed, const Communicator& tp)
    : C_(shape.C) {
  // GPT-2: residual projections start smaller so the residual stream's variance does not
  // grow with depth.
  const double proj_std = 0.02 / std::sqrt(2.0 * n_layers);
  ln1 = LayerNorm<Real>(name + ".ln1", shape.C, seed);
  attn = Attention<Real>(name + ".attn", shape, proj_std, seed, tp);
  ln2 = LayerNorm<Real>(name + ".ln2", shape.C, seed);
  mlp = Mlp<Real>(name + ".mlp", shape.C, F, proj_std, seed, tp);
}

template <class Real>
void Block<Real>::forward(Tensor& out, const Tensor& x, int B, int T) {
  forward_with(out, x, int64_t{B} * T, [&](Tensor& o, const Tensor& in) { attn.forward(o, in, B, T); });
  B_ = B;
  T_ = T;
  if (recompute_ == Recompute::full) {  // keep only the input; backward recomputes the rest
    release_activations();
    x_ = x;
  }
}

template <class Real>
void Block<Real>::forward_cached(Tensor& out, const Tensor& x, int T, KvCache& cache, int layer) {
  forward_with(out, x, T, [&](Tensor& o, const Tensor& in) { attn.forward_cached(o, in, T, cache, layer); });
}

template <class Real>
template <class Attend>
void Block<Real>::forward_with(Tensor& out, const Tensor& x, int64_t N, Attend&& attend) {
  forward_to_mlp(x, N, attend);
  mlp.forward(branch_, ln2_out_);
  ops::add<Real>(x.device(), out.data<Real>(), residual_.data<Real>(), branch_.data<Real>(), N * C_);
}

template <class Real>
template <class Attend>
void Block<Real>::forward_to_mlp(const Tensor& x, int64_t N, Attend&& attend) {
  const DType dt = dtype_of<Real>();
  const Device dev = x.device();
  // The LayerNorms' outputs feed only the products after them: bf16 under bf16 precision.
  const DType ln_dt = product_input_dtype<Real>(precision_);
  if (!residual_.defined() || residual_.dim(0) != N || residual_.device() != dev || ln1_out_.dtype() != ln_dt) {
    ln1_out_ = Tensor::empty({N, C_}, ln_dt, dev);
    ln1_mean_ = Tensor::empty({N}, dt, dev);
    ln1_rstd_ = Tensor::empty({N}, dt, dev);
    residual_ = Tensor::empty({N, C_}, dt, dev);
    ln2_out_ = Tensor::empty({N, C_}, ln_dt, dev);
    ln2_mean_ = Tensor::empty({N}, dt, dev);
    ln2_rstd_ = Tensor::empty({N}, dt, dev);
    branch_ = Tensor::empty({N, C_}, dt, dev);
  }
  x_ = x;
  ln1.forward(ln1_out_, ln1_mean_, ln1_rstd_, x);
  attend(branch_, ln1_out_);
  // residual_ = x + branch_, ln2_out_ = ln2(residual_): one kernel on CUDA, deterministic, so
  // full recomputation's rerun in backward gives the same bits as this forward.
  ln2.forward_residual(residual_, ln2_out_, ln2_mean_, ln2_rstd_, x, branch_);
}

template <class Real>
void Block<Real>::backward(Tensor& dres) {
  const bool recompute = recompute_ == Recompute::full;
  if (recompute) {  // the same kernels on the same x: the activations forward dropped, bit for bit
    const Tensor x = x_;
    forward_to_mlp(x, int64_t{B_} * T_, [&](Tensor& o, const Tensor& in) { attn.forward(o, in, B_, T_); });
    mlp.forward_hidden(ln2_out_);
  }
  // out = r + mlp(ln2(r)): dr = dout + ln2'(mlp'(dout))
  mlp.backward(branch_, dres, ln2_out_);                                  // branch_ = d ln2_out
  ln2.backward(dres, branch_, residual_, ln2_mean_, ln2_rstd_);           // dres += ...
  // r = x + attn(ln1(x)): dx = dr + ln1'(attn'(dr))
  attn.backward(branch_, dres, ln1_out_);                                 // branch_ = d ln1_out
  ln1.backward(dres, branch_, x_, ln1_mean_, ln1_rstd_);                  // dres += ...
  if (recompute) {  // back to the cache, where the next block's recomputation finds them
    const Tensor x = x_;
    release_activations();
    x_ = x;
  }
}

template <class Real>
void Block<Real>::release_activations() {
  for (Tensor* t : {&x_, &ln1_out_, &ln1_mean_, &ln1_rstd_, &residual_, &ln2_out_, &ln2_mean_, &ln2_rstd_, &branch_})
    *t = Tensor();
  attn.release_activations();
  mlp.release_activations();
}

template <class Real>
void Block<Real>::collect(ParameterList& params) {
  ln1.collect(params);
  attn.collect(params);
  ln2.collect(params);
  mlp.collect(params);
}

template class Block<float>;
template class Block<double>;

}  // namespace alibi
