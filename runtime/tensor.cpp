// Tensor and Storage.
#include "runtime/tensor.h"

#include <atomic>
#include <cstring>
#include <sstream>

#include "runtime/allocator.h"
#include "runtime/device.h"

namespace alibi {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u16: return 2;
    case DType::u32: return 4;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u16: return "u16";
    case DType::u32: return "u32";
  }
  return "?";
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ")";
  return os.str();
}

namespace {
// Storage versions: one counter for the process, so a version is never seen twice, not even
// on a new storage at a freed one's address. Starts at 1: version 0 means "no storage".
uint64_t next_version() {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device), version_(next_version()) {
  ptr_ = device == Device::cpu ? CpuAllocator::instance().allocate(bytes) : cuda_allocate(bytes);
}

void Storage::bump_version() { version_ = next_version(); }

Storage::~Storage() {
  if (device_ == Device::cpu) {
    CpuAllocator::instance().deallocate(ptr_, bytes_);
  } else {
    cuda_deallocate(ptr_, bytes_);
  }
}

static int64_t product(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) ALIBI_CHECK(d >= 0, "negative dimension in shape " << shape_str(shape));
  Tensor t;
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(product(shape)) * dtype_size(dtype), device);
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

int64_t Tensor::dim(int i) const {
  const int n = ndim();
  if (i < 0) i += n;
  ALIBI_CHECK(i >= 0 && i < n, "dimension " << i << " out of range for shape " << shape_str(shape_));
  return shape_[i];
}

int64_t Tensor::numel() const { return product(shape_); }

Tensor Tensor::view(const Shape& shape) const {
  ALIBI_CHECK(product(shape) == numel(),
              "view " << shape_str(shape) << " does not match " << shape_str(shape_));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  ALIBI_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0],
              "slice [" << begin << ", " << end << ") out of range for " << shape_str(shape_));
  Tensor t = *this;
  const int64_t row = shape_[0] ? numel() / shape_[0] : 0;
  t.offset_ += static_cast<size_t>(begin * row) * dtype_size(dtype_);
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

void Tensor::zero_() {
  if (numel() > 0) zero_bytes(raw(), device(), nbytes());
  bump_version();
}

void Tensor::copy_from(const Tensor& other) {
  ALIBI_CHECK(other.numel() == numel() && other.dtype_ == dtype_,
              "copy of " << shape_str(other.shape_) << " " << dtype_name(other.dtype_) << " into "
                         << shape_str(shape_) << " " << dtype_name(dtype_));
  if (numel() > 0) copy_bytes(raw(), device(), other.raw(), other.device(), nbytes());
  bump_version();
}

void Tensor::check_shape(const Shape& expected, const char* what) const {
  ALIBI_CHECK_AS(ShapeError, shape_ == expected,
                 what << ": expected shape " << shape_str(expected) << ", got " << shape_str(shape_));
}

void Tensor::check_dtype(DType expected) const {
  ALIBI_CHECK(storage_ != nullptr, "access to an undefined tensor");
  ALIBI_CHECK(expected == dtype_, "tensor holds " << dtype_name(dtype_) << ", accessed as "
                                                  << dtype_name(expected));
}

}  // namespace alibi
