// Data parallelism: gradients summed over the DP group in buckets, each started as soon
// as backward has finished with it (non-blocking MPI all-reduce), so communication runs
// under the rest of the backward; finish() waits for all before the optimizer.
//
//   GradBuckets buckets({block0_grads, block1_grads, rest}, grid.dp());
//   ... backward of block 1 done -> buckets.start(1); ... block 0 -> buckets.start(0);
//   buckets.finish();   // starts what was not started, waits, copies the sums back
//
// The loss is pre-scaled by 1 / (tokens of the global batch), so the sum over DP ranks
// is the gradient of the global mean: no division afterwards.
#pragma once

#include <chrono>
#include <vector>

#include "parallel/comm.h"
#include "runtime/tensor.h"

namespace alibi {

class GradBuckets {
 public:
  GradBuckets(std::vector<std::vector<Tensor*>> groups, const Communicator& dp);

  void start(int bucket);  // no-op when already started or when dp has one rank
  void finish();

  // Seconds finish() spent blocked waiting: communication not hidden behind backward.
  double last_wait_s() const { return wait_s_; }
  // Seconds from the first start() to the end of finish() (the all-reduce window).
  double last_window_s() const { return window_s_; }

 private:
  struct Bucket {
    std::vector<Tensor*> grads;
    Tensor buffer;  // flat copy of the grads, reduced in place
    Request request;
    bool started = false;
  };
  std::vector<Bucket> buckets_;
  const Communicator* dp_;
  std::chrono::steady_clock::time_point first_start_;
  bool any_started_ = false;
  double wait_s_ = 0, window_s_ = 0;
};

}  // namespace alibi
