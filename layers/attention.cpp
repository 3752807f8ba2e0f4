// Attention layer: QKV projection, blocked ALiBi attention, output projection.
#include "layers/attention.h"

#include "kernels/dispatch.h"
#include "parallel/tensor_parallel.h"

namespace alibi {

template <class Real>
Attention<Real>::Attention(const std::string& name, const AttentionShape& shape, double proj_std,
                           uint64_t seed, const Communicator& tp)
    : shape_(shape), tp_(&tp) {
  ALIBI_CHECK(shape.NH > 0 && shape.C % shape.n_heads_total == 0, name << ": bad head layout");
  HS_ = shape.C / shape.n_heads_total;
  const int64_t C = shape.C, rows = int64_t{3} * shape.NH * HS_, all_rows = int64_t{3} * shape.n_heads_total * HS_;
  const int64_t row0 = int64_t{3} * shape.head_offset * HS_;
  qkv = Linear<Real>(name + ".qkv", C, rows, true, 0.02, seed, Sharding::rows({all_rows, C}, row0),
                     Sharding::range(all_rows, row0));
  proj = Linear<Real>(name + ".proj", int64_t{shape.NH} * HS_, C, true, proj_std, seed,
                      Sharding::cols({C, int64_t{shape.n_heads_total} * HS_}, int64_t{shape.head_offset} * HS_),
                      Sharding::whole({C}));
}

template <class Real>
AttentionParams<Real> Attention<Real>::params(int B, int T) const {
  AttentionParams<Real> p = fused_qkv_params<Real>(qkv_act_.data<Real>(), const_cast<Real*>(att_.data<Real>()),
                                                   const_cast<Real*>(lse_.data<Real>()), B, T, shape_.NH, HS_);
  p.head_offset = shape_.head_offset;
  p.n_heads_total = shape_.n_heads_total;
  p.bias = shape_.bias;
  p.precision = precision_;
  if (shape_.bias == PositionBias::t5) {
    p.t5_table = shape_.t5_table->template data<Real>();
    p.t5_table_grad = shape_.t5_table_grad->template data<Real>();
    p.t5_buckets = static_cast<int>(shape_.t5_table->dim(0));
  }
  if (prepared_.defined()) p.prepared = const_cast<uint16_t*>(prepared_.data<uint16_t>());
  return p;
}

template <class Real>
DecodeParams<Real> Attention<Real>::decode_params(int T, KvCache& cache, int layer) {
  DecodeParams<Real> p;
  const Real* qkv_rows = qkv_act_.data<Real>();
  p.q = qkv_rows;
  p.k = qkv_rows + HS_;
  p.v = qkv_rows + 2 * HS_;
  p.head_stride = 3 * HS_;
  p.row_stride = int64_t{3} * shape_.NH * HS_;
  cache.k(layer).check_shape({shape_.NH, cache.capacity(), HS_}, "KV cache keys (NH_local, capacity, HS)");
  p.k_cache = cache.k(layer).data<Real>();
  p.v_cache = cache.v(layer).data<Real>();
  p.cache_head_stride = cache.capacity() * HS_;
  p.capacity = cache.capacity();
  p.first_slot = cache.first_slot();
  p.n_keys = cache.length() + T;  // the T reserved slots follow the visible ones
  p.first_position = cache.first_position();
  p.window = cache.window();
  p.out = att_.data<Real>();
  p.Tq = T;
  p.NH = shape_.NH;
  p.HS = HS_;
  p.head_offset = shape_.head_offset;
  p.n_heads_total = shape_.n_heads_total;
  p.bias = shape_.bias;
  if (shape_.bias == PositionBias::t5) {
    p.t5_table = shape_.t5_table->template data<Real>();
    p.t5_buckets = static_cast<int>(shape_.t5_table->dim(0));
  }
  return p;
}

template <class Real>
void Attention<Real>::ensure_activations(int B, int T, Device dev) {
  const DType dt = dtype_of<Real>();
  if (B != B_ || T != T_ || qkv_act_.device() != dev) {
    qkv_act_ = Tensor::empty({B, T, shape_.NH, 3, HS_}, dt, dev);
    att_ = lse_ = prepared_ = Tensor();
    B_ = B;
    T_ = T;
  }
  if (!att_.defined()) {  // the first forward, or selective recomputation dropped them
    att_ = Tensor::empty({B, T, shape_.NH, HS_}, dt, dev);
    lse_ = Tensor::empty({B, shape_.NH, T}, dt, dev);
  }
}

// The prepared operands' array, sized by the backend for the current params (0: none). Asked
// on every forward, as set_precision may have changed the kernels since the last.
template <class Real>
void Attention<Real>::ensure_prepared(int B, int T, Device dev) {
  const int64_t n = ops::attention_prepared_elements<Real>(dev, params(B, T));
  if (n == 0) prepared_ = Tensor();
  else if (!prepared_.defined() || prepared_.numel() != n) prepared_ = Tensor::empty({n}, DType::u16, dev);
}

template <class Real>
void Attention<Real>::attend(int B, int T) {
  ops::attention_forward<Real>(qkv_act_.device(), params(B, T));
}

template <class Real>
void Attention<Real>::forward(Tensor& out, const Tensor& inp, int B, int T) {
  const Device dev = inp.device();
  ensure_activations(B, T, dev);
  ensure_prepared(B, T, dev);
  qkv.forward(qkv_act_, inp);  // copy_to_tp: identity forward
  attend(B, T);
  proj.forward(out, att_, /*add_bias=*/false);
  reduce_from_tp_forward(*tp_, out);
  proj.add_bias(out);  // once, after the partial sums are reduced
  // Back to the cache; backward attends again. The prepared operands go too: selective
  // recomputation is there to save memory, and backward's forward writes them anew.
  if (recompute_core_) att_ = lse_ = prepared_ = Tensor();
}

template <class Real>
void Attention<Real>::forward_cached(Tensor& out, const Tensor& inp, int T, KvCache& cache, int layer) {
  const Device dev = inp.device();
  ensure_activations(1, T, dev);
  qkv.forward(qkv_act_, inp);
  const DecodeParams<Real> d = decode_params(T, cache, layer);
  // The prompt: positions 0..T-1, as the blocked kernel numbers them, all inside the window.
  const bool prompt = cache.length() == 0 && cache.next_position() == 0 && T > 1 &&
                      (cache.window() == 0 || T <= cache.window());
  if (prompt) {
    AttentionParams<Real> p = params(1, T);
    p.prepared = nullptr;  // no backward follows: the kernel's own temporary
    ops::attention_forward<Real>(dev, p);
  }
  ops::kv_cache_append<Real>(dev, d);
  if (!prompt) ops::attention_decode<Real>(dev, d);
  proj.forward(out, att_, /*add_bias=*/false);
  reduce_from_tp_forward(*tp_, out);
  proj.add_bias(out);
}

template <class Real>
void Attention<Real>::backward(Tensor& dinp, const Tensor& dout, const Tensor& inp) {
  const DType dt = dtype_of<Real>();
  const Device dev = qkv_act_.device();
  if (recompute_core_) {  // the same kernel on the same qkv: the same att and lse, bit for bit
    ensure_activations(B_, T_, dev);
    ensure_prepared(B_, T_, dev);
    attend(B_, T_);
  }
  Tensor datt = Tensor::empty(att_.shape(), dt, dev);
  proj.backward(&datt, dout, att_);
  Tensor dqkv = Tensor::empty(qkv_act_.shape(), dt, dev);
  Real* d = dqkv.data<Real>();
  ops::attention_backward<Real>(dev, params(B_, T_), datt.data<Real>(), d, d + HS_, d + 2 * HS_);
  qkv.backward(&dinp, dqkv, inp);
  copy_to_tp_backward(*tp_, dinp);
  if (recompute_core_) att_ = lse_ = prepared_ = Tensor();
}

template <class Real>
void Attention<Real>::set_precision(MatmulPrecision precision) {
  precision_ = qkv.precision = proj.precision = precision;
}

template <class Real>
void Attention<Real>::release_activations() {
  qkv_act_ = Tensor();
  att_ = Tensor();
  lse_ = Tensor();
  prepared_ = Tensor();
  B_ = T_ = 0;  // the next forward allocates again
}

template <class Real>
void Attention<Real>::collect(ParameterList& params) {
  // The fused QKV's rows are already head-major (row h*3*HS + s*HS + d); checkpoints store
  // them as (NH, 3, HS, C) and (NH, 3, HS), so a TP shard of heads is one hyperslab
  // whatever the layout that reads it.
  const size_t first = params.size();
  qkv.collect(params);
  const int64_t NH_total = shape_.n_heads_total, NH = shape_.NH, h0 = shape_.head_offset, HS = HS_, C = shape_.C;
  params[first].stored_as = StoredBlock{{NH_total, 3, HS, C}, {h0, 0, 0, 0}, {NH, 3, HS, C}};
  params[first + 1].stored_as = StoredBlock{{NH_total, 3, HS}, {h0, 0, 0}, {NH, 3, HS}};
  proj.collect(params);
}

template class Attention<float>;
template class Attention<double>;

}  // namespace alibi
