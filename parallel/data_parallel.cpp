// Bucketed, overlapped DP gradient all-reduce.
#include "parallel/data_parallel.h"

#include <cstring>

#include "runtime/device.h"
#include "runtime/error.h"

namespace alibi {

GradBuckets::GradBuckets(std::vector<std::vector<Tensor*>> groups, const Communicator& dp) : dp_(&dp) {
  for (std::vector<Tensor*>& g : groups) {
    Bucket b;
    int64_t n = 0;
    DType dtype = DType::f32;
    Device device = Device::cpu;
    for (Tensor* t : g) {
      n += t->numel();
      dtype = t->dtype();
      device = t->device();
    }
    b.grads = std::move(g);
    if (dp.size() > 1 && n > 0) b.buffer = Tensor::empty({n}, dtype, device);
    buckets_.push_back(std::move(b));
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
  char* dst = static_cast<char*>(b.buffer.raw());
  for (Tensor* t : b.grads) {
    copy_bytes_async(dst, b.buffer.device(), t->raw(), t->device(), t->nbytes());
    dst += t->nbytes();
  }
  b.request = dp_->iall_reduce_sum(b.buffer.raw(), b.buffer.numel(), b.buffer.dtype());
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
    const char* src = static_cast<const char*>(b.buffer.raw());
    for (Tensor* t : b.grads) {
      copy_bytes_async(t->raw(), t->device(), src, b.buffer.device(), t->nbytes());
      src += t->nbytes();
    }
    b.started = false;
  }
  any_started_ = false;
}

}  // namespace alibi
