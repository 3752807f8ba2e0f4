// The element math of the position methods that live inside the attention kernel (ALiBi,
// rotary, T5 relative buckets), host+device, so the CPU kernel and a CUDA kernel form the
// same numbers and the CPU tests check the formulas the GPU runs.
//
//   score(i, j) += alibi_bias(-slope, i - j);                        // ALiBi, slope from alibi.h
//   double a = rope_angle(t, i, HS, 10000.0);                        // rotary: angle of pair i at t
//   rope_rotate(x[i], x[i + HS/2], (Real)cos(a), (Real)sin(a));      //   q, k rotated; v not
//   score(i, j) += table[t5_bucket(i - j, 32, 128) * NH + h];        // T5, learned (bucket, head)
#pragma once

#include <cmath>

#include "kernels/alibi.h"

namespace alibi {

// ---- ALiBi ---------------------------------------------------------------------------------
// The bias of a key `distance` = i - j >= 0 positions back: -slope * (i - j), formed in the
// kernel's precision per tile (neg_slope = -alibi_slope(global_head, n_heads_total)).
template <class Real>
ALIBI_HOST_DEVICE inline Real alibi_bias(Real neg_slope, int distance) {
  return neg_slope * static_cast<Real>(distance);
}

// ---- rotary (Su et al., RoFormer; GPT-NeoX / LLaMA "rotate_half" pairing) ----------------
// Pair i in [0, HS/2) of a head is (x_i, x_{i + HS/2}); at position t it turns by
// t * theta_i, theta_i = base^(-2i / HS). In double: at t = 2048 a float angle would be off
// by ~1e-4 rad before the cosine is even taken.
ALIBI_HOST_DEVICE inline double rope_angle(int t, int pair, int head_size, double base) {
  return static_cast<double>(t) * pow(base, -2.0 * pair / head_size);
}

// (x0, x1) -> (x0 cos - x1 sin, x1 cos + x0 sin). The backward applies the transpose, which
// is the same call with -sin.
template <class Real>
ALIBI_HOST_DEVICE inline void rope_rotate(Real& x0, Real& x1, Real cos_a, Real sin_a) {
  const Real r0 = x0 * cos_a - x1 * sin_a;
  const Real r1 = x1 * cos_a + x0 * sin_a;
  x0 = r0;
  x1 = r1;
}

// ---- T5 relative position buckets (Raffel et al.) -----------------------------------------
// T5's _relative_position_bucket with bidirectional=False for n = i - j >= 0 (causal): the
// first num_buckets/2 distances get a bucket each, the rest share log-spaced buckets up to
// max_distance, beyond which everything is the last bucket. The int() truncates toward zero
// like T5's .to(torch.long) / tf.cast. T5 evaluates the log in float32, this in double; the
// two agree for every n < 200000 at (32, 128) and the other usual settings (the quotient
// only lands on an integer at n = max_exact, where both give exactly 0).
// Needs num_buckets >= 2 and max_distance > num_buckets / 2.
ALIBI_HOST_DEVICE inline int t5_bucket(int n, int num_buckets, int max_distance) {
  const int max_exact = num_buckets / 2;
  if (n < max_exact) return n;
  const int large = max_exact + static_cast<int>(log(static_cast<double>(n) / max_exact) /
                                                 log(static_cast<double>(max_distance) / max_exact) *
                                                 (num_buckets - max_exact));
  return large < num_buckets - 1 ? large : num_buckets - 1;
}

}  // namespace alibi
