// Checkpoint -> GGUF (llama.cpp's mpt architecture, gpt2 tokenizer model).
#include "train/export_gguf.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <vector>

#include "data/gguf_vocab.h"
#include "parallel/checkpoint.h"
#include "runtime/config.h"
#include "train/model_checkpoint.h"
#include "train/options.h"

namespace alibi {

namespace {

namespace fs = std::filesystem;

constexpr float kMaxAlibiBias = 8.0f;   // the paper's slopes 2^(-8(h+1)/n): see ggml_alibi_slope
constexpr float kLayerNormEps = 1e-5f;  // kernels/cpu/layernorm.cpp, kernels/cuda/rows.cu

// llama.cpp's llama_ftype for a file whose matrices are all of one type.
uint32_t file_type(gguf::TensorType matrices) {
  switch (matrices) {
    case gguf::TensorType::f32: return 0;   // LLAMA_FTYPE_ALL_F32
    case gguf::TensorType::f16: return 1;   // LLAMA_FTYPE_MOSTLY_F16
    case gguf::TensorType::bf16: return 32;  // LLAMA_FTYPE_MOSTLY_BF16
  }
  return 0;
}

// The whole stored tensor /model/<name> of `shape`; DataError (from the checkpoint reader)
// naming the tensor when it is missing or shaped otherwise.
Tensor read_stored(const std::string& path, const std::string& name, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::f32);
  const CheckpointTensor block{name, &t, shape, std::vector<int64_t>(shape.size(), 0), shape, false};
  read_checkpoint_tensors(path, {block}, {}, {});
  return t;
}

// ggml dims of a stored (rows, cols) matrix or (n) vector: the contiguous dimension first.
std::vector<int64_t> ggml_dims(const Shape& stored) {
  std::vector<int64_t> dims(stored.rbegin(), stored.rend());
  return dims;
}

}  // namespace

void qkv_rows_to_llama(const float* stored, float* out, int NH, int HS, int64_t row) {
  const int64_t C = int64_t{NH} * HS;
  for (int h = 0; h < NH; ++h)
    for (int s = 0; s < 3; ++s)
      for (int d = 0; d < HS; ++d) {
        const int64_t from = (int64_t{h} * 3 * HS + int64_t{s} * HS + d) * row;
        const int64_t to = (int64_t{s} * C + int64_t{h} * HS + d) * row;
        std::copy(stored + from, stored + from + row, out + to);
      }
}

double ggml_alibi_slope(int h, int n_heads, double max_bias) {
  const int p = 1 << static_cast<int>(std::floor(std::log2(n_heads)));  // n_head_log2
  const double m0 = std::pow(2.0, -max_bias / p), m1 = std::pow(2.0, -(max_bias / 2.0) / p);
  return h < p ? std::pow(m0, h + 1) : std::pow(m1, 2 * (h - p) + 1);
}

GgufExportSummary export_gguf(const std::string& checkpoint, const std::string& out, gguf::TensorType matrices) {
  // ---- the model's shape and what mpt can express ---------------------------------------
  const ModelConfig cfg = model_config_from(read_checkpoint_options(checkpoint));
  ALIBI_CHECK_AS(ConfigError, cfg.position == PositionMethod::alibi || cfg.position == PositionMethod::none,
                 checkpoint << " was trained with --position " << enum_name(cfg.position)
                            << ", which llama.cpp's mpt architecture cannot run (it has ALiBi or no position "
                               "information); only alibi and none models export");
  const Tokenizer tokenizer = read_checkpoint_tokenizer(checkpoint);
  ALIBI_CHECK_AS(DataError, tokenizer.vocab_size == cfg.vocab,
                 checkpoint << ": /tokenizer has V=" << tokenizer.vocab_size << " but the model has --vocab " << cfg.vocab
                            << "; the checkpoint is damaged");
  const GgufVocab vocab = gguf_vocab(tokenizer);
  const int64_t V = cfg.vocab, C = cfg.channels, F = cfg.ffn_width();
  const int NH = cfg.heads, HS = cfg.head_size(), L = cfg.layers;
  const float max_alibi_bias = cfg.position == PositionMethod::alibi ? kMaxAlibiBias : 0.0f;

  // ---- metadata -------------------------------------------------------------------------
  gguf::Writer w;
  const fs::path ck(checkpoint);
  w.add_string("general.architecture", "mpt");
  w.add_string("general.name", (ck.parent_path().filename() / ck.stem()).string());
  w.add_u32("general.file_type", file_type(matrices));
  w.add_u32("general.alignment", gguf::kAlignment);
  w.add_u32("mpt.context_length", static_cast<uint32_t>(cfg.seq_len));
  w.add_u32("mpt.embedding_length", static_cast<uint32_t>(C));
  w.add_u32("mpt.block_count", static_cast<uint32_t>(L));
  w.add_u32("mpt.feed_forward_length", static_cast<uint32_t>(F));
  w.add_u32("mpt.attention.head_count", static_cast<uint32_t>(NH));
  w.add_f32("mpt.attention.layer_norm_epsilon", kLayerNormEps);
  w.add_f32("mpt.attention.max_alibi_bias", max_alibi_bias);
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "gpt-2");
  w.add_strings("tokenizer.ggml.tokens", vocab.tokens);
  w.add_i32s("tokenizer.ggml.token_type", vocab.token_types);
  w.add_strings("tokenizer.ggml.merges", vocab.merges);
  // GPT-2's convention: one <|endoftext|> is BOS and EOS; llama.cpp adds neither to a prompt.
  w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.eos_id));
  w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.eos_id));
  w.add_bool("tokenizer.ggml.add_bos_token", false);
  w.add_bool("tokenizer.ggml.add_eos_token", false);

  // ---- tensors: each read from the checkpoint when the writer reaches it ----------------
  // A stored tensor copied as it is (its ggml dims are its stored shape reversed).
  auto plain = [&](const std::string& gguf_name, const std::string& name, const Shape& stored) {
    const gguf::TensorType type = stored.size() == 2 ? matrices : gguf::TensorType::f32;
    w.add_tensor(gguf_name, ggml_dims(stored), type, [&checkpoint, name, stored](float* dst) {
      const Tensor t = read_stored(checkpoint, name, stored);
      std::copy(t.data<float>(), t.data<float>() + t.numel(), dst);
    });
  };
  plain("token_embd.weight", "embedding.weight", {V, C});
  for (int l = 0; l < L; ++l) {
    const std::string ours = "blocks." + std::to_string(l) + ".", blk = "blk." + std::to_string(l) + ".";
    for (const char* part : {"weight", "bias"}) plain(blk + "attn_norm." + part, ours + "ln1." + part, {C});
    w.add_tensor(blk + "attn_qkv.weight", {C, 3 * C}, matrices, [&checkpoint, ours, NH, HS, C](float* dst) {
      const Tensor t = read_stored(checkpoint, ours + "attn.qkv.weight", {NH, 3, HS, C});
      qkv_rows_to_llama(t.data<float>(), dst, NH, HS, C);
    });
    w.add_tensor(blk + "attn_qkv.bias", {3 * C}, gguf::TensorType::f32, [&checkpoint, ours, NH, HS](float* dst) {
      const Tensor t = read_stored(checkpoint, ours + "attn.qkv.bias", {NH, 3, HS});
      qkv_rows_to_llama(t.data<float>(), dst, NH, HS, 1);
    });
    plain(blk + "attn_output.weight", ours + "attn.proj.weight", {C, C});
    plain(blk + "attn_output.bias", ours + "attn.proj.bias", {C});
    for (const char* part : {"weight", "bias"}) plain(blk + "ffn_norm." + part, ours + "ln2." + part, {C});
    plain(blk + "ffn_up.weight", ours + "mlp.fc.weight", {F, C});
    plain(blk + "ffn_up.bias", ours + "mlp.fc.bias", {F});
    plain(blk + "ffn_down.weight", ours + "mlp.proj.weight", {C, F});
    plain(blk + "ffn_down.bias", ours + "mlp.proj.bias", {C});
  }
  for (const char* part : {"weight", "bias"}) plain(std::string("output_norm.") + part, std::string("ln_f.") + part, {C});
  if (!cfg.tie_embeddings) plain("output.weight", "lm_head.weight", {V, C});  // tied: mpt reads token_embd
  w.write(out);

  GgufExportSummary s;
  s.tensors = w.tensor_count();
  s.bytes = fs::file_size(out);
  s.max_alibi_bias = max_alibi_bias;
  std::ostringstream shape;
  shape << "L=" << L << " C=" << C << " NH=" << NH << " F=" << F << " V=" << V << " T=" << cfg.seq_len;
  s.shape = shape.str();
  s.tokenizer = tokenizer.describe();
  return s;
}

}  // namespace alibi
