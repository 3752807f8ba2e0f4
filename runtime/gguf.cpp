// GGUF v3 writer: encoding of metadata and tensor descriptions, half-precision rounding,
// and the atomic write.
#include "runtime/gguf.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <memory>

#include "runtime/error.h"
#include "runtime/h5.h"  // temporary_path, atomic_rename, remove_file_quietly

namespace alibi::gguf {

namespace {

// gguf.h's gguf_type: the value types of the key-value section.
enum ValueType : uint32_t { u32_type = 4, i32_type = 5, f32_type = 6, bool_type = 7, string_type = 8, array_type = 9 };

static_assert(std::endian::native == std::endian::little, "GGUF is little-endian; this writer copies host bytes");

template <class T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

uint64_t align_up(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

// ---- half precision ---------------------------------------------------------------------

size_t type_size(TensorType type) { return type == TensorType::f32 ? 4 : 2; }

uint16_t to_f16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t exp = (bits >> 23) & 0xffu, mant = bits & 0x7fffffu;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));  // inf, NaN
  const int e = static_cast<int>(exp) - 127 + 15;  // the binary16 exponent field
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    // Subnormal (or zero): the value is m * 2^-24 with m = full >> (14 - e).
    if (e < -10) return sign;  // below half the smallest subnormal
    const uint32_t full = mant | 0x800000u;
    const int shift = 14 - e;
    uint32_t m = full >> shift;
    const uint32_t rem = full & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (m & 1u))) ++m;  // may carry into the smallest normal: right
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t h = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right, up to inf
  return static_cast<uint16_t>(sign | h);
}

uint16_t to_bf16(float x) {
  uint32_t bits = std::bit_cast<uint32_t>(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float from_f16(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

float from_bf16(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

// ---- metadata ---------------------------------------------------------------------------

void Writer::add_key(const std::string& key, uint32_t value_type) {
  ALIBI_CHECK(std::find(keys_.begin(), keys_.end(), key) == keys_.end(), "GGUF key " << key << " added twice");
  keys_.push_back(key);
  put_string(kv_, key);
  put<uint32_t>(kv_, value_type);
  ++kv_count_;
}

void Writer::add_u32(const std::string& key, uint32_t value) {
  add_key(key, u32_type);
  put<uint32_t>(kv_, value);
}

void Writer::add_f32(const std::string& key, float value) {
  add_key(key, f32_type);
  put<float>(kv_, value);
}

void Writer::add_bool(const std::string& key, bool value) {
  add_key(key, bool_type);
  put<int8_t>(kv_, value ? 1 : 0);
}

void Writer::add_string(const std::string& key, const std::string& value) {
  add_key(key, string_type);
  put_string(kv_, value);
}

void Writer::add_strings(const std::string& key, const std::vector<std::string>& values) {
  add_key(key, array_type);
  put<uint32_t>(kv_, string_type);
  put<uint64_t>(kv_, values.size());
  for (const std::string& s : values) put_string(kv_, s);
}

void Writer::add_i32s(const std::string& key, const std::vector<int32_t>& values) {
  add_key(key, array_type);
  put<uint32_t>(kv_, i32_type);
  put<uint64_t>(kv_, values.size());
  for (int32_t v : values) put<int32_t>(kv_, v);
}

// ---- tensors ----------------------------------------------------------------------------

void Writer::add_tensor(const std::string& name, const std::vector<int64_t>& dims, TensorType type,
                        std::function<void(float*)> fill) {
  // ggml's limits: names shorter than GGML_MAX_NAME (64), at most GGML_MAX_DIMS (4) dimensions.
  ALIBI_CHECK(name.size() < 64 && !dims.empty() && dims.size() <= 4, "GGUF tensor " << name << ": bad name or rank");
  for (const TensorInfo& t : tensors_) ALIBI_CHECK(t.name != name, "GGUF tensor " << name << " added twice");
  int64_t numel = 1;
  for (int64_t d : dims) {
    ALIBI_CHECK(d > 0, "GGUF tensor " << name << ": extent " << d);
    numel *= d;
  }
  tensors_.push_back({name, dims, type, data_bytes_, numel, std::move(fill)});
  data_bytes_ = align_up(data_bytes_ + static_cast<uint64_t>(numel) * type_size(type));
}

// ---- the file ---------------------------------------------------------------------------

void Writer::write(const std::string& path) const {
  const std::string tmp = temporary_path(path);
  std::FILE* raw = std::fopen(tmp.c_str(), "wb");
  ALIBI_CHECK_AS(IoError, raw != nullptr,
                 "cannot create " << tmp << " (" << std::strerror(errno) << "); check that the directory exists and is writable");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(raw, &std::fclose);
  auto emit = [&](const void* data, size_t bytes) {
    ALIBI_CHECK_AS(IoError, std::fwrite(data, 1, bytes, file.get()) == bytes,
                   "cannot write " << tmp << " (" << std::strerror(errno) << "); check the free space");
  };
  try {
    std::string head("GGUF");
    put<uint32_t>(head, 3);
    put<uint64_t>(head, tensors_.size());
    put<uint64_t>(head, static_cast<uint64_t>(kv_count_));
    head += kv_;
    for (const TensorInfo& t : tensors_) {
      put_string(head, t.name);
      put<uint32_t>(head, static_cast<uint32_t>(t.dims.size()));
      for (int64_t d : t.dims) put<int64_t>(head, d);
      put<uint32_t>(head, static_cast<uint32_t>(t.type));
      put<uint64_t>(head, t.offset);
    }
    head.resize(align_up(head.size()), '\0');
    emit(head.data(), head.size());

    std::vector<float> values;
    std::vector<uint16_t> halves;
    const char zeros[kAlignment] = {};
    uint64_t at = 0;  // bytes of the data section written
    for (const TensorInfo& t : tensors_) {
      emit(zeros, t.offset - at);
      values.assign(static_cast<size_t>(t.numel), 0.0f);
      t.fill(values.data());
      if (t.type == TensorType::f32) {
        emit(values.data(), values.size() * sizeof(float));
      } else {
        halves.resize(values.size());
        std::transform(values.begin(), values.end(), halves.begin(), t.type == TensorType::f16 ? to_f16 : to_bf16);
        emit(halves.data(), halves.size() * sizeof(uint16_t));
      }
      at = t.offset + static_cast<uint64_t>(t.numel) * type_size(t.type);
    }
    emit(zeros, data_bytes_ - at);
    ALIBI_CHECK_AS(IoError, std::fclose(file.release()) == 0,
                   "cannot write " << tmp << " (" << std::strerror(errno) << "); check the free space");
  } catch (...) {  // a failed write or a tensor that could not be read: no partial file stays
    file.reset();
    remove_file_quietly(tmp);
    throw;
  }
  atomic_rename(tmp, path);
}

}  // namespace alibi::gguf
