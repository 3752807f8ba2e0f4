// Softmax cross-entropy over full logit rows on the CPU (the single-rank reference; the
// vocab-parallel version splits the same max / sum-exp steps over TP ranks).
// Stable: exponents are taken of x - max(x) <= 0, and the sum of exponentials and the
// loss are accumulated in double, so logits of 1e4 give finite, accurate losses.
#include <cmath>

#include "kernels/ops.h"
#include "runtime/error.h"

namespace alibi::cpu {

static void check_targets(const int32_t* targets, int64_t N, int64_t V) {
  for (int64_t n = 0; n < N; ++n)
    ALIBI_CHECK(targets[n] < V, "cross-entropy: target " << targets[n] << " at row " << n
                                                         << " is outside the vocabulary of " << V
                                                         << "; check --vocab against the corpus");
}

// max(x) and sum_v exp(x_v - max(x)) over one row of logits.
template <class T>
static void row_softmax_stats(const T* x, int64_t V, T& max_out, double& sum_out) {
  T mx = x[0];
  for (int64_t v = 1; v < V; ++v) mx = x[v] > mx ? x[v] : mx;
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(x[v] - mx);
  max_out = mx;
  sum_out = sum;
}

// ---- forward: losses[n] = log sum_v exp(x_v) - x_target, 0 for unscored rows ----------------
template <class T>
void cross_entropy_forward(T* losses, const T* logits, const int32_t* targets, int64_t N, int64_t V) {
  check_targets(targets, N, V);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    if (targets[n] < 0) {
      losses[n] = T(0);
      continue;
    }
    const T* x = logits + n * V;
    T mx;
    double sum;
    row_softmax_stats(x, V, mx, sum);
    losses[n] = static_cast<T>(std::log(sum) - (static_cast<double>(x[targets[n]]) - mx));
  }
}

// ---- backward: dlogits = scale * (softmax(x) - onehot(target)), 0 for unscored rows --------
// In place is allowed (dlogits == logits): each row's statistics are read first, then every
// element is read before it is overwritten, so no pointer here may be __restrict.
template <class T>
void cross_entropy_backward(T* dlogits, const T* logits, const int32_t* targets, int64_t N, int64_t V,
                            T scale) {
  check_targets(targets, N, V);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = logits + n * V;
    T* dx = dlogits + n * V;
    const int32_t target = targets[n];
    if (target < 0) {
      for (int64_t v = 0; v < V; ++v) dx[v] = T(0);
      continue;
    }
    T mx;
    double sum;
    row_softmax_stats(x, V, mx, sum);
    const T p_scale = static_cast<T>(static_cast<double>(scale) / sum);  // scale * softmax = e * p_scale
    for (int64_t v = 0; v < V; ++v) dx[v] = std::exp(x[v] - mx) * p_scale;
    dx[target] -= scale;
  }
}

template void cross_entropy_forward<float>(float*, const float*, const int32_t*, int64_t, int64_t);
template void cross_entropy_forward<double>(double*, const double*, const int32_t*, int64_t, int64_t);
template void cross_entropy_backward<float>(float*, const float*, const int32_t*, int64_t, int64_t, float);
template void cross_entropy_backward<double>(double*, const double*, const int32_t*, int64_t, int64_t, double);

}  // namespace alibi::cpu
