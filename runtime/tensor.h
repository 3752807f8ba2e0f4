// Tensor: a shape, a dtype and a device over shared storage; views share it.
//
//   Tensor x = Tensor::zeros({B, T, C}, DType::f32);   // (B, T, C)
//   float* p = x.data<float>();
//   Tensor row = x.slice(0, 1);                          // (1, T, C), same storage
//   Tensor flat = x.view({B * T, C});                    // (B*T, C), same storage
//
// Tensors are always contiguous (row-major); strided access is the kernels' business,
// through explicit strides in their params structs. CPU storage comes from the caching
// CpuAllocator, CUDA storage from the caching allocator of runtime/device.h; data<T>() of
// a Device::cuda tensor is a device pointer, for kernels only.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace alibi {

enum class DType { f32, f64, i32, i64, u16, u32 };
enum class Device { cpu, cuda };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::u16; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::u32; }

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& shape);

// Owns one allocation; freed (back to the allocator's cache) when the last view dies.
// Its version names its contents: a stamp never given to another storage or state in this
// process, renewed by bump_version() after a write. What is derived from the contents (the
// bf16 working copy of a weight, layers/bf16_copy.h) remembers the version it was made from.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* ptr() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version();

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  uint64_t version_;
};

class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const;  // negative i counts from the end
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const;
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  template <class T> T* data() {
    check_dtype(dtype_of<T>());
    return reinterpret_cast<T*>(static_cast<char*>(storage_->ptr()) + offset_);
  }
  template <class T> const T* data() const {
    check_dtype(dtype_of<T>());
    return reinterpret_cast<const T*>(static_cast<const char*>(storage_->ptr()) + offset_);
  }
  void* raw() const { return static_cast<char*>(storage_->ptr()) + offset_; }

  // Same storage, new shape with the same element count.
  Tensor view(const Shape& shape) const;
  // Rows [begin, end) along dimension 0, same storage.
  Tensor slice(int64_t begin, int64_t end) const;
  // A new tensor with its own storage holding the same values.
  Tensor clone() const;
  // A copy on `device` (a clone when it is already there).
  Tensor to(Device device) const;
  // Writes through data<T>() and kernels leave the version alone: whoever changes values
  // that something may have derived a copy from (weights: the optimizer step, the ZeRO-1
  // gather, a checkpoint read) calls bump_version(). zero_ and copy_from bump it themselves.
  uint64_t version() const { return storage_ ? storage_->version() : 0; }
  void bump_version() {
    if (storage_) storage_->bump_version();
  }
  void zero_();
  void copy_from(const Tensor& other);  // same numel and dtype; any devices (synchronous)

  // Throws ShapeError naming `what` and both shapes when they differ.
  void check_shape(const Shape& expected, const char* what) const;

 private:
  void check_dtype(DType expected) const;
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // bytes
  Shape shape_;
  DType dtype_ = DType::f32;
};

}  // namespace alibi
