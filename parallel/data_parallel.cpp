// Bucketed, overlapped DP gradient all-reduce, or ZeRO-1's reduce-scatter and all-gather.
#include "parallel/data_parallel.h"

#include <algorithm>
#include <cstring>

#include "runtime/device.h"
#include "runtime/error.h"

namespace alibi {

GradBuckets::GradBuckets(std::vector<std::vector<Tensor*>> groups, const Communicator& dp, GradSync sync,
                         std::vector<std::vector<Tensor*>> values)
    : dp_(&dp), sync_(sync) {
  ALIBI_CHECK(sync == GradSync::all_reduce || values.size() == groups.size(),
              "GradBuckets: reduce_scatter needs the parameters of every bucket");
  for (size_t g = 0; g < groups.size(); ++g) {
    Bucket b;
    int64_t n = 0;
    DType dtype = DType::f32;
    Device device = Device::cpu;
    for (Tensor* t : groups[g]) {
      b.offsets.push_back(n);
      n += t->numel();
      dtype = t->dtype();
      device = t->device();
    }
    b.grads = std::move(groups[g]);
    if (sync == GradSync::reduce_scatter) {
      b.values = std::move(values[g]);
      ALIBI_CHECK(b.values.size() == b.grads.size(), "GradBuckets: bucket " << g << " has "
                                                          << b.grads.size() << " gradients but " << b.values.size()
                                                          << " parameters");
    }
    b.shard = (n + dp.size() - 1) / dp.size();
    // Zeros: the padding past n is summed and gathered with the rest and must stay finite.
    if (dp.size() > 1 && n > 0) b.buffer = Tensor::zeros({sharded() ? b.shard * dp.size() : n}, dtype, device);
    buckets_.push_back(std::move(b));
  }
}

ElementRange GradBuckets::owned(int bucket, size_t k) const {
  const Bucket& b = buckets_.at(bucket);
  const int64_t n = b.grads.at(k)->numel();
  if (!sharded()) return {0, n};
  const int64_t first = b.shard * dp_->rank(), off = b.offsets[k];
  const int64_t begin = std::clamp<int64_t>(first - off, 0, n), end = std::clamp<int64_t>(first + b.shard - off, 0, n);
  return {begin, std::max(begin, end)};
}

void GradBuckets::copy(Bucket& b, const std::vector<Tensor*>& tensors, bool to_buffer, bool owned_only) const {
  const int bucket = static_cast<int>(&b - buckets_.data());
  char* base = static_cast<char*>(b.buffer.raw());
  for (size_t k = 0; k < tensors.size(); ++k) {
    Tensor* t = tensors[k];
    const ElementRange r = owned_only ? owned(bucket, k) : ElementRange{0, t->numel()};
    if (r.size() == 0) continue;
    const size_t elem = dtype_size(t->dtype());
    char* in_buffer = base + (b.offsets[k] + r.begin) * elem;
    char* in_tensor = static_cast<char*>(t->raw()) + r.begin * elem;
    if (to_buffer) {
      copy_bytes_async(in_buffer, b.buffer.device(), in_tensor, t->device(), r.size() * elem);
    } else {
      copy_bytes_async(in_tensor, t->device(), in_buffer, b.buffer.device(), r.size() * elem);
    }
  }
}

void GradBuckets::start(int index) {
  Bucket& b = buckets_.at(index);
  if (b.started || !b.buffer.defined()) return;
  if (!any_started_) {
    window_timer_.reset();
    device_ = b.buffer.device();
    window_timer_.begin(device_);
    any_started_ = true;
  }
  copy(b, b.grads, /*to_buffer=*/true, /*owned_only=*/false);
  b.request = sharded() ? dp_->ireduce_scatter_sum(b.buffer.raw(), b.shard, b.buffer.dtype())
                        : dp_->iall_reduce_sum(b.buffer.raw(), b.buffer.numel(), b.buffer.dtype());
  b.started = true;
}

void GradBuckets::finish() {
  for (size_t i = 0; i < buckets_.size(); ++i) start(static_cast<int>(i));
  wait_timer_.reset();
  if (!any_started_) {  // nothing to reduce (dp has one rank)
    window_timer_.reset();
    return;
  }
  wait_timer_.begin(device_);
  for (Bucket& b : buckets_) b.request.wait();
  wait_timer_.end();
  window_timer_.end();
  for (Bucket& b : buckets_) {
    if (!b.started) continue;
    copy(b, b.grads, /*to_buffer=*/false, /*owned_only=*/sharded());
    b.started = false;
  }
  any_started_ = false;
}

void GradBuckets::gather() {
  if (!sharded()) return;
  for (Bucket& b : buckets_) {
    if (!b.buffer.defined()) continue;
    copy(b, b.values, /*to_buffer=*/true, /*owned_only=*/true);
    b.request = dp_->iall_gather(b.buffer.raw(), b.shard, b.buffer.dtype());
  }
  for (Bucket& b : buckets_) {
    if (!b.buffer.defined()) continue;
    b.request.wait();
    copy(b, b.values, /*to_buffer=*/false, /*owned_only=*/false);
    for (Tensor* v : b.values) v->bump_version();  // new weights: their bf16 copies are stale
  }
}

}  // namespace alibi
