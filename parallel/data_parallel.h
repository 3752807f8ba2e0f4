// Data parallelism: gradients summed over the DP group in buckets, each started as soon
// as backward has finished with it (non-blocking MPI all-reduce), so communication runs
// under the rest of the backward; finish() waits for all before the optimizer.
//
//   GradBuckets buckets({block0_grads, block1_grads, rest}, grid.dp());
//   ... backward of block 1 done -> buckets.start(1); ... block 0 -> buckets.start(0);
//   buckets.finish();   // starts what was not started, waits, copies the sums back
//
// ZeRO-1 (GradSync::reduce_scatter, `--zero 1`): each bucket's flat buffer, padded to a
// multiple of dp, is cut into dp equal shards and DP rank r owns shard r. The same start()
// reduce-scatters instead of all-reducing, and finish() copies back only the owned part
// (owned(b, k): the elements of tensor k of bucket b inside this rank's shard; the rest of
// each gradient keeps this rank's partial sum). The optimizer updates the owned parts of
// the parameters, then gather() all-gathers them in the same buffers:
//
//   GradBuckets buckets(grads, grid.dp(), GradSync::reduce_scatter, values);
//   buckets.finish();  ... update values[b][k] on owned(b, k) ...;  buckets.gather();
//
// The loss is pre-scaled by 1 / (tokens of the global batch), so the sum over DP ranks
// is the gradient of the global mean: no division afterwards.
#pragma once

#include <utility>
#include <vector>

#include "parallel/comm.h"
#include "runtime/device.h"
#include "runtime/tensor.h"

namespace alibi {

enum class GradSync {
  all_reduce,      // every DP rank gets every summed gradient
  reduce_scatter,  // ZeRO-1: each DP rank gets its shard of the sums, and gathers parameters
};

// Elements [begin, end) of one tensor (empty when begin == end).
struct ElementRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

class GradBuckets {
 public:
  // `values` (reduce_scatter only): the parameters of each bucket, in the order and
  // shapes of `groups`' gradients.
  GradBuckets(std::vector<std::vector<Tensor*>> groups, const Communicator& dp, GradSync sync = GradSync::all_reduce,
              std::vector<std::vector<Tensor*>> values = {});

  void start(int bucket);  // no-op when already started or when dp has one rank
  void finish();

  // ZeRO-1: whether buckets are sharded (reduce_scatter over more than one DP rank), the
  // part of tensor k of bucket b this rank owns (the whole tensor when not sharded), and
  // the all-gather of every bucket's parameters from their owners (blocking; the buckets
  // are started one after another so the later copies overlap the earlier transfers; each
  // parameter's storage version is bumped: runtime/tensor.h).
  bool sharded() const { return sync_ == GradSync::reduce_scatter && dp_->size() > 1; }
  ElementRange owned(int bucket, size_t k) const;
  void gather();

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
    std::vector<Tensor*> values;   // reduce_scatter: the parameters, gathered after the update
    std::vector<int64_t> offsets;  // of each tensor in the flat buffer
    int64_t shard = 0;             // elements per DP rank (reduce_scatter; buffer = dp x shard)
    Tensor buffer;  // flat copy of the grads, reduced in place
    Request request;
    bool started = false;
  };
  // Copies the owned part (everything when not sharded) of each tensor of `from` into
  // the buffer (to_buffer) or back.
  void copy(Bucket& b, const std::vector<Tensor*>& tensors, bool to_buffer, bool owned_only) const;

  std::vector<Bucket> buckets_;
  const Communicator* dp_;
  GradSync sync_;
  StreamTimer wait_timer_, window_timer_;
  Device device_ = Device::cpu;  // of the buffers
  bool any_started_ = false;
};

}  // namespace alibi
