// The online softmax of blockwise attention (Milakov & Gimelshein 2018; FlashAttention),
// host+device: a row's scores arrive a tile at a time, and the running max m, the running
// sum l of exp(x - m) and the unnormalised output O are rescaled whenever m grows.
//
//   float m = -INFINITY, l = 0;                             // per query row
//   for each key tile:                                      // x_j: scaled, biased, masked scores
//     const float alpha = online_softmax_rescale(m, max_j x_j);   // m is now the new max
//     l = alpha * l + sum_j exp(x_j - softmax_offset(m));  O = alpha * O + sum_j exp(..) v_j;
//   out = O / l;  lse = m + log(l);
//
// Masked scores are -inf. A row can see only masked keys in its first tiles (the CUDA
// kernels visit the diagonal tile first); m then stays -inf, and these helpers keep
// -inf - -inf = NaN out of the exponent.
#pragma once

#include <math.h>  // expf/exp: the C names exist on host and device alike

#include "kernels/alibi.h"  // ALIBI_HOST_DEVICE

namespace alibi {

ALIBI_HOST_DEVICE inline float softmax_exp_(float x) { return expf(x); }
ALIBI_HOST_DEVICE inline double softmax_exp_(double x) { return exp(x); }

// What to subtract from a score before exponentiating: the running max, or 0 while every
// key of the row has been masked (the weights are exp(-inf) = 0 either way).
template <class Real>
ALIBI_HOST_DEVICE inline Real softmax_offset(Real m) {
  return m == -static_cast<Real>(INFINITY) ? Real(0) : m;
}

// Folds a tile's row max into the running max m and returns exp(m_old - m_new), the factor
// that rescales what was accumulated under the old max (0 on the first unmasked tile, where
// m_old = -inf and nothing was accumulated; 1 when the max did not move).
template <class Real>
ALIBI_HOST_DEVICE inline Real online_softmax_rescale(Real& m, Real tile_max) {
  const Real m_new = m > tile_max ? m : tile_max;
  const Real alpha = m == m_new ? Real(1) : softmax_exp_(m - softmax_offset(m_new));
  m = m_new;
  return alpha;
}

}  // namespace alibi
