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

#include <vector>

#include "parallel/comm.h"
#include "runtime/device.h"
#include "runtime/tensor.h"

namespace alibi {

class GradBuckets {
 public:
  GradBuckets(std::vector<std::vector<Tensor*>> groups, const Communicator& dp);

  void start(int bucket);  // no-op when already started or when dp has one rank
  void finish();

  // Seconds finish() spent waiting: communication not hidden behind backward. On CUDA the
  // compute stream's wait (measured with CUDA events around it), not the host's enqueue;
  // reading it waits for the stream to get there, so read it after the step's host sync.
  double last_wait_s() { return wait_timer_.seconds(); }
  // Seconds from the first start() to the end of finish() (the all-reduce window), on the
  // same clock.
  double last_window_s() { return window_timer_.seconds(); }

 private:
  struct Bucket {
    std::vector<Tensor*> grads;
    Tensor buffer;  // flat copy of the grads, reduced in place
    Request request;
    bool started = false;
  };
  std::vector<Bucket> buckets_;
  const Communicator* dp_;
  StreamTimer wait_timer_, window_timer_;
  Device device_ = Device::cpu;  // of the buffers
  bool any_started_ = false;
};

}  // namespace alibi
