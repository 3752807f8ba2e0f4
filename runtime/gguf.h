// A writer of GGUF files (version 3), the single-file model format of ggml and llama.cpp:
// typed key-value metadata, then tensor descriptions, then the tensor data, each tensor
// aligned. Knows the container only; what the keys and tensors mean for a model is the
// exporter's business (train/export_gguf.h).
//
//   gguf::Writer w;
//   w.add_string("general.architecture", "mpt");
//   w.add_u32("mpt.block_count", 4);
//   w.add_tensor("token_embd.weight", {C, V}, gguf::TensorType::f16,
//                [&](float* out) { std::copy(wte, wte + V * C, out); });   // filled at write time
//   w.write("model.gguf");    // model.gguf.tmp, renamed into place once whole
//
// File layout (little-endian): "GGUF", u32 version 3, u64 tensor count, u64 key-value
// count; each key-value pair as (string key, u32 value type, value); each tensor as
// (string name, u32 dimensions, i64 extent of each, u32 tensor type, u64 offset into the
// data section); zero padding to the alignment; the data, each tensor starting at a
// multiple of the alignment (32). A string is a u64 byte count and the bytes (no NUL);
// an array is (u32 element type, u64 count, elements).
//
// Dimensions are ggml's: the first is the contiguous one. A row-major matrix of R rows
// and K columns, y = W x with x of K elements, is {K, R}.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/enum_names.h"

namespace alibi {

// ggml's tensor types that we write (ggml.h: GGML_TYPE_F32 = 0, F16 = 1, BF16 = 30). Outside
// namespace gguf so that the option parser finds its names (runtime/enum_names.h).
enum class GgufType : uint32_t { f32 = 0, f16 = 1, bf16 = 30 };

namespace gguf {

using TensorType = GgufType;

size_t type_size(TensorType type);  // bytes per element

// IEEE binary16 and bfloat16 from float, rounded to nearest even; overflow becomes
// infinity and NaN stays NaN.
uint16_t to_f16(float x);
uint16_t to_bf16(float x);
float from_f16(uint16_t h);
float from_bf16(uint16_t h);

inline constexpr uint32_t kAlignment = 32;  // GGUF_DEFAULT_ALIGNMENT

class Writer {
 public:
  // Metadata, written in the order added. A key added twice is an internal error.
  void add_u32(const std::string& key, uint32_t value);
  void add_f32(const std::string& key, float value);
  void add_bool(const std::string& key, bool value);
  void add_string(const std::string& key, const std::string& value);
  void add_strings(const std::string& key, const std::vector<std::string>& values);
  void add_i32s(const std::string& key, const std::vector<int32_t>& values);

  // A tensor of `dims` (ggml order, see above) stored as `type`. `fill` writes its
  // numel floats when write() reaches it, so only one tensor is in memory at a time.
  void add_tensor(const std::string& name, const std::vector<int64_t>& dims, TensorType type,
                  std::function<void(float*)> fill);

  // Writes the file to temporary_path(path), then renames it to path. IoError naming the
  // file when it cannot be created or written (the temporary file is removed).
  void write(const std::string& path) const;

  int64_t tensor_count() const { return static_cast<int64_t>(tensors_.size()); }
  uint64_t data_bytes() const { return data_bytes_; }  // the data section, padding included

 private:
  struct TensorInfo {
    std::string name;
    std::vector<int64_t> dims;
    TensorType type;
    uint64_t offset;  // into the data section
    int64_t numel;
    std::function<void(float*)> fill;
  };
  void add_key(const std::string& key, uint32_t value_type);

  std::string kv_;  // the key-value section, encoded as added
  int64_t kv_count_ = 0;
  std::vector<std::string> keys_;
  std::vector<TensorInfo> tensors_;
  uint64_t data_bytes_ = 0;
};

}  // namespace gguf

template <>
struct EnumNames<GgufType> {
  static constexpr const char* option = "--dtype";
  static constexpr std::array<std::pair<GgufType, const char*>, 3> values{
      {{GgufType::f32, "f32"}, {GgufType::f16, "f16"}, {GgufType::bf16, "bf16"}}};
};

}  // namespace alibi
