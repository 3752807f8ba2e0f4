// The naive causal attention the CPU kernel (kernels/cpu/attention.cpp) is held to, written
// here from the papers rather than from the kernel: full T x T scores in double, each
// position method's bias built its own way (ALiBi from the paper's slope recipe, rotary in
// HF's rotate_half form, T5 buckets transcribed from _relative_position_bucket), causal
// softmax, output, and the backward of each step. With it, what test_attention.cpp (ALiBi,
// shards) and test_attention_positions.cpp (rotary, T5) both need: random inputs, the
// kernel run as the layer runs it, the comparison and the finite-difference check.
//
//   const AttentionCase c{2, 65, 12, 4, PositionBias::alibi, 0, 12};
//   const AttentionInputs in = random_attention_inputs(c, 1);
//   expect_attention_close(run_cpu_attention<float>(c, in), naive_attention(c, in), c.HS, 1e-4);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/attention.h"

namespace alibi::test {

struct AttentionCase {
  int B, T, NH, HS;
  PositionBias bias;
  int head_offset = 0;    // ALiBi: global index of local head 0 ...
  int n_heads_total = 0;  // ... of this many (only ALiBi reads these two)
  double rope_base = 10000;
  int t5_buckets = 32;
  int t5_max_distance = 128;
};

std::string describe(const AttentionCase& c);

// Index into the interleaved qkv (B, T, NH, 3, HS); part 0 = q, 1 = k, 2 = v.
struct QkvIndex {
  int T, NH, HS;
  int64_t operator()(int b, int t, int h, int part, int d) const {
    return ((((int64_t)b * T + t) * NH + h) * 3 + part) * HS + d;
  }
};

struct AttentionInputs {
  std::vector<double> qkv;    // (B, T, NH, 3, HS)
  std::vector<double> dout;   // (B, T, NH, HS)
  std::vector<double> table;  // (t5_buckets, NH); empty unless t5
};

struct AttentionResult {       // in double whatever the kernel's type, for comparison
  std::vector<double> out;     // (B, T, NH, HS)
  std::vector<double> lse;     // (B, NH, T)
  std::vector<double> dqkv;    // (B, T, NH, 3, HS)
  std::vector<double> dtable;  // (t5_buckets, NH); empty unless t5
};

// q and k in [-2, 2] so that scores spread over a few units (a peaked softmax, not a flat
// one); v and dout in [-1, 1]; the T5 table in [-2, 2] so that the bias moves the weights
// as much as the content does.
AttentionInputs random_attention_inputs(const AttentionCase& c, unsigned seed);

// T5's _relative_position_bucket(relative_position = -(i - j), bidirectional=False),
// transcribed: n = max(-relative_position, 0); half the buckets exact, the rest
// logarithmic up to max_distance, clamped to the last.
int ref_t5_bucket(int n, int num_buckets, int max_distance);

// The reference: naive attention in double, materialising each head's T x T probabilities.
AttentionResult naive_attention(const AttentionCase& c, const AttentionInputs& in);

// cpu::attention_forward and attention_backward in T on the inputs rounded to T, outputs
// started as NaN (an element the kernel fails to write shows up); the T5 table gradient
// comes back without the value the kernel added to, so it compares with the reference's.
template <class T>
AttentionResult run_cpu_attention(const AttentionCase& c, const AttentionInputs& in);

// Every output of `got` within tol of `want` per element (|got - want| <= tol (1 + |want|)),
// the gradient split into dq, dk and dv for clearer failures.
void expect_attention_close(const AttentionResult& got, const AttentionResult& want, int HS, double tol);

// The kernel in T against the naive reference on every case, inputs drawn from seeds 1, 2,
// ... and rounded to T (the reference sees exactly what the kernel gets); tol as for
// expect_attention_close.
template <class T>
void expect_cpu_attention_matches_naive(const std::vector<AttentionCase>& cases, double tol);

// The backward against central differences of loss = sum(out * dout), for the first n
// elements that `perturb(x, i, e)` moves by e: `analytic` (what the backward returned for
// dout) element by element. eps = 1e-5: truncation ~eps^2 |L'''| ~ 1e-10, rounding
// ~1e-16 |L| / eps ~ 1e-11; 1e-7 is far above both and far below a wrong term (O(1e-2)).
void expect_attention_matches_finite_differences(const AttentionCase& c, const AttentionInputs& in, size_t n,
                                                 const std::function<void(AttentionInputs&, size_t, double)>& perturb,
                                                 const std::vector<double>& analytic, const std::string& what);

// How far one float forward + backward at length T (B = 1, kPeakGrowthNH heads of
// kPeakGrowthHS) raises the CPU allocator's peak above what was in use before it.
constexpr int kPeakGrowthNH = 2, kPeakGrowthHS = 16;
size_t attention_peak_growth(PositionBias bias, int T);

}  // namespace alibi::test
