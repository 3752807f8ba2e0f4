// GGUF export pieces: half-precision rounding, the container's bytes (parsed back here from
// the format's description in runtime/gguf.h), the QKV row order llama.cpp's mpt reads,
// ggml's ALiBi slopes against ours, and our tokenizers as llama.cpp's gpt2 vocabulary.
// tests/e2e/export_gguf.sh runs the exported files in llama.cpp itself.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "data/gguf_vocab.h"
#include "kernels/alibi.h"
#include "runtime/gguf.h"
#include "temp_dir.h"
#include "train/export_gguf.h"

namespace alibi {
namespace {

// ---- half precision ---------------------------------------------------------------------

TEST(Gguf, F16RoundsToNearestEvenWithSubnormalsAndOverflow) {
  EXPECT_EQ(gguf::to_f16(1.0f), 0x3c00);
  EXPECT_EQ(gguf::to_f16(-2.0f), 0xc000);
  EXPECT_EQ(gguf::to_f16(-0.0f), 0x8000);
  EXPECT_EQ(gguf::to_f16(65504.0f), 0x7bff);                       // the largest half
  EXPECT_EQ(gguf::to_f16(65519.0f), 0x7bff);                       // below the midpoint to 2^16
  EXPECT_EQ(gguf::to_f16(65520.0f), 0x7c00);                       // the midpoint rounds to even: inf
  EXPECT_EQ(gguf::to_f16(1e6f), 0x7c00);
  EXPECT_EQ(gguf::to_f16(std::ldexp(1.0f, -24)), 0x0001);          // the smallest subnormal
  EXPECT_EQ(gguf::to_f16(std::ldexp(1.0f, -25)), 0x0000);          // half of it: a tie, to even (0)
  EXPECT_EQ(gguf::to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(gguf::to_f16(std::ldexp(3.0f, -25)), 0x0002);          // 1.5 subnormal steps: tie to even
  EXPECT_EQ(gguf::to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);   // tie between 1 and 1+2^-10: even
  EXPECT_EQ(gguf::to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  EXPECT_EQ(gguf::to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(std::isnan(gguf::from_f16(gguf::to_f16(std::numeric_limits<float>::quiet_NaN()))));
  // Every finite half survives float and back.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(gguf::to_f16(gguf::from_f16(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(Gguf, Bf16RoundsToNearestEven) {
  EXPECT_EQ(gguf::to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(gguf::to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie: to even
  EXPECT_EQ(gguf::to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie: to even (up)
  EXPECT_EQ(gguf::to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(gguf::to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
  EXPECT_TRUE(std::isnan(gguf::from_bf16(gguf::to_bf16(std::bit_cast<float>(0x7f800001u)))));
  EXPECT_EQ(gguf::from_bf16(gguf::to_bf16(-3.5f)), -3.5f);
}

// ---- the container ----------------------------------------------------------------------

// Little-endian reads from the file's bytes.
struct Reader {
  std::string bytes;
  size_t at = 0;
  template <class T>
  T get() {
    T v;
    EXPECT_LE(at + sizeof(T), bytes.size());
    std::memcpy(&v, bytes.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  std::string str() {
    const auto n = get<uint64_t>();
    std::string s = bytes.substr(at, n);
    at += n;
    return s;
  }
};

TEST(Gguf, WriterBytesFollowTheFormat) {
  test::TempDir dir;
  const std::string path = dir.file("m.gguf");
  gguf::Writer w;
  w.add_string("general.architecture", "mpt");
  w.add_u32("mpt.block_count", 3);
  w.add_f32("mpt.attention.max_alibi_bias", 8.0f);
  w.add_bool("tokenizer.ggml.add_bos_token", false);
  w.add_strings("tokenizer.ggml.tokens", {"a", "Ġb"});
  w.add_i32s("tokenizer.ggml.token_type", {1, 3});
  // A (2 rows, 3 columns) matrix in f16 and a vector of 5 in f32.
  w.add_tensor("m", {3, 2}, GgufType::f16, [](float* x) { for (int i = 0; i < 6; ++i) x[i] = 0.5f * i; });
  w.add_tensor("v", {5}, GgufType::f32, [](float* x) { for (int i = 0; i < 5; ++i) x[i] = -1.0f * i; });
  w.write(path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  Reader r{s.str()};
  EXPECT_EQ(r.bytes.substr(0, 4), "GGUF");
  r.at = 4;
  EXPECT_EQ(r.get<uint32_t>(), 3u);
  EXPECT_EQ(r.get<uint64_t>(), 2u);  // tensors
  EXPECT_EQ(r.get<uint64_t>(), 6u);  // key-value pairs
  EXPECT_EQ(r.str(), "general.architecture");
  EXPECT_EQ(r.get<uint32_t>(), 8u);  // string
  EXPECT_EQ(r.str(), "mpt");
  EXPECT_EQ(r.str(), "mpt.block_count");
  EXPECT_EQ(r.get<uint32_t>(), 4u);  // uint32
  EXPECT_EQ(r.get<uint32_t>(), 3u);
  EXPECT_EQ(r.str(), "mpt.attention.max_alibi_bias");
  EXPECT_EQ(r.get<uint32_t>(), 6u);  // float32
  EXPECT_EQ(r.get<float>(), 8.0f);
  EXPECT_EQ(r.str(), "tokenizer.ggml.add_bos_token");
  EXPECT_EQ(r.get<uint32_t>(), 7u);  // bool, one byte
  EXPECT_EQ(r.get<int8_t>(), 0);
  EXPECT_EQ(r.str(), "tokenizer.ggml.tokens");
  EXPECT_EQ(r.get<uint32_t>(), 9u);  // array
  EXPECT_EQ(r.get<uint32_t>(), 8u);  // of strings
  EXPECT_EQ(r.get<uint64_t>(), 2u);
  EXPECT_EQ(r.str(), "a");
  EXPECT_EQ(r.str(), "Ġb");
  EXPECT_EQ(r.str(), "tokenizer.ggml.token_type");
  EXPECT_EQ(r.get<uint32_t>(), 9u);
  EXPECT_EQ(r.get<uint32_t>(), 5u);  // of int32
  EXPECT_EQ(r.get<uint64_t>(), 2u);
  EXPECT_EQ(r.get<int32_t>(), 1);
  EXPECT_EQ(r.get<int32_t>(), 3);
  // Tensor infos: name, rank, extents (contiguous first), type, offset into the data.
  EXPECT_EQ(r.str(), "m");
  EXPECT_EQ(r.get<uint32_t>(), 2u);
  EXPECT_EQ(r.get<int64_t>(), 3);
  EXPECT_EQ(r.get<int64_t>(), 2);
  EXPECT_EQ(r.get<uint32_t>(), 1u);  // GGML_TYPE_F16
  EXPECT_EQ(r.get<uint64_t>(), 0u);
  EXPECT_EQ(r.str(), "v");
  EXPECT_EQ(r.get<uint32_t>(), 1u);
  EXPECT_EQ(r.get<int64_t>(), 5);
  EXPECT_EQ(r.get<uint32_t>(), 0u);  // GGML_TYPE_F32
  EXPECT_EQ(r.get<uint64_t>(), 32u);  // 12 bytes of m, padded to the alignment
  // The data section starts at the next multiple of 32; each tensor at its offset.
  const size_t data = (r.at + 31) / 32 * 32;
  for (size_t i = r.at; i < data; ++i) EXPECT_EQ(r.bytes[i], '\0');
  r.at = data;
  for (int i = 0; i < 6; ++i) EXPECT_EQ(gguf::from_f16(r.get<uint16_t>()), 0.5f * i);
  r.at = data + 32;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r.get<float>(), -1.0f * i);
  EXPECT_EQ(r.bytes.size(), data + 64);  // the last tensor padded too
}

TEST(Gguf, UnwritablePathIsAnIoErrorAndLeavesNoFile) {
  test::TempDir dir;
  gguf::Writer w;
  w.add_u32("k", 1);
  const std::string path = dir.file("missing/m.gguf");
  try {
    w.write(path);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing/m.gguf.tmp"), std::string::npos) << e.what();
  }
  // A tensor whose data cannot be produced: the error passes through, no temporary stays.
  gguf::Writer bad;
  bad.add_tensor("t", {2}, GgufType::f32, [](float*) { throw DataError("no such tensor"); });
  EXPECT_THROW(bad.write(dir.file("bad.gguf")), DataError);
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.gguf.tmp")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.gguf")));
}

// ---- the model's pieces -----------------------------------------------------------------

TEST(GgufExport, QkvRowsGoFromHeadMajorToQueriesKeysValues) {
  const int NH = 3, HS = 2, row = 4;  // C = 6
  std::vector<float> stored(NH * 3 * HS * row), out(stored.size());
  // Each element encodes where it came from: head, q/k/v, dimension, column.
  auto code = [](int h, int s, int d, int c) { return float(1000 * h + 100 * s + 10 * d + c); };
  for (int h = 0; h < NH; ++h)
    for (int s = 0; s < 3; ++s)
      for (int d = 0; d < HS; ++d)
        for (int c = 0; c < row; ++c) stored[((h * 3 + s) * HS + d) * row + c] = code(h, s, d, c);
  qkv_rows_to_llama(stored.data(), out.data(), NH, HS, row);
  // llama.cpp's mpt views rows [0, C) as Q, [C, 2C) as K, [2C, 3C) as V, head h at rows h*HS.
  for (int s = 0; s < 3; ++s)
    for (int h = 0; h < NH; ++h)
      for (int d = 0; d < HS; ++d)
        for (int c = 0; c < row; ++c)
          EXPECT_EQ(out[((s * NH + h) * HS + d) * row + c], code(h, s, d, c)) << s << h << d << c;
}

TEST(GgufExport, GgmlSlopesAtMaxBias8AreOursForEveryHeadCount) {
  for (int n = 1; n <= 128; ++n)
    for (int h = 0; h < n; ++h) {
      // Both are 2^(rational) in double: pow of a pow against one exp2, a few ulps apart; a
      // wrong exponent is at least 2^(-4/128) - 1 = 2% off.
      EXPECT_NEAR(ggml_alibi_slope(h, n, 8.0), alibi_slope(h, n), 1e-12 * alibi_slope(h, n)) << n << " " << h;
    }
  // 12 heads (not a power of two): 2^-1 .. 2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
  EXPECT_DOUBLE_EQ(ggml_alibi_slope(8, 12, 8.0), std::pow(2.0, -0.5));
  EXPECT_DOUBLE_EQ(ggml_alibi_slope(11, 12, 8.0), std::pow(2.0, -3.5));
}

TEST(GgufVocab, BytesAreGpt2SpelledBytesAndEos) {
  const GgufVocab v = gguf_vocab(Tokenizer::bytes());
  ASSERT_EQ(v.tokens.size(), 257u);
  EXPECT_EQ(v.tokens['a'], "a");
  EXPECT_EQ(v.tokens[' '], "Ġ");        // U+0120
  EXPECT_EQ(v.tokens['\n'], "Ċ");       // U+010A
  EXPECT_EQ(v.tokens[0xff], "ÿ");       // printable Latin-1 stands for itself
  EXPECT_EQ(v.tokens[256], kEosName);
  EXPECT_EQ(v.eos_id, 256);
  EXPECT_EQ(v.token_types[256], kGgufTokenControl);
  EXPECT_EQ(v.token_types['a'], kGgufTokenNormal);
  EXPECT_TRUE(v.merges.empty());  // llama.cpp's BPE with no merges leaves every byte a token
}

TEST(GgufVocab, BpeMergesAreSpelledPairsInRankOrder) {
  std::vector<std::string> vocab;
  for (int b = 0; b < 256; ++b) vocab.emplace_back(1, static_cast<char>(b));
  vocab.push_back(" t");   // 256 = ' ' + 't'
  vocab.push_back(" th");  // 257 = 256 + 'h'
  vocab.push_back(kEosName);
  const Tokenizer t = Tokenizer::from_bpe(TokenizerKind::bpe, vocab, {{' ', 't'}, {256, 'h'}}, 258, "test");
  const GgufVocab v = gguf_vocab(t);
  ASSERT_EQ(v.tokens.size(), 259u);
  EXPECT_EQ(v.tokens[256], "Ġt");
  EXPECT_EQ(v.tokens[257], "Ġth");
  EXPECT_EQ(v.tokens[258], kEosName);
  ASSERT_EQ(v.merges.size(), 2u);
  EXPECT_EQ(v.merges[0], "Ġ t");
  EXPECT_EQ(v.merges[1], "Ġt h");
  EXPECT_EQ(v.token_types[258], kGgufTokenControl);
  EXPECT_EQ(v.eos_id, 258);
}

}  // namespace
}  // namespace alibi
