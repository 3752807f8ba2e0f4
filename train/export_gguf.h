// A checkpoint as a GGUF file that llama.cpp runs as its `mpt` architecture (MosaicML's MPT:
// pre-LayerNorm blocks, fused QKV, GELU MLP, ALiBi, no position embedding), which is our
// model with every optional piece of mpt present:
//
//   ours (checkpoint /model/...)          GGUF tensor                 ggml dims
//   embedding.weight (V, C)               token_embd.weight           {C, V}
//   blocks.l.ln1.{weight,bias} (C)        blk.l.attn_norm.{weight,bias}
//   blocks.l.attn.qkv.weight (NH,3,HS,C)  blk.l.attn_qkv.weight       {C, 3C}  rows reordered Q|K|V
//   blocks.l.attn.qkv.bias (NH,3,HS)      blk.l.attn_qkv.bias         {3C}     the same order
//   blocks.l.attn.proj.{weight,bias}      blk.l.attn_output.*         {C, C}
//   blocks.l.ln2.{weight,bias}            blk.l.ffn_norm.*
//   blocks.l.mlp.fc.{weight,bias} (F, C)  blk.l.ffn_up.*              {C, F}
//   blocks.l.mlp.proj.{weight,bias}       blk.l.ffn_down.*            {F, C}
//   ln_f.{weight,bias}                    output_norm.*
//   lm_head.weight (untied only)          output.weight               {C, V}; tied: mpt reuses token_embd
//
// llama.cpp's mpt takes every bias and LayerNorm shift as optional tensors (added when
// present), GELU is the tanh form in both, LayerNorm eps 1e-5, the score scale 1/sqrt(HS).
// ALiBi: mpt.attention.max_alibi_bias = 8 gives ggml's slopes m0^(h+1) (h < p) and
// m1^(2(h-p)+1) with p the largest power of two <= NH, m0 = 2^(-8/p), m1 = 2^(-4/p), which
// is alibi_slope (kernels/alibi.h) for every head count; `none` writes 0 (no bias), and
// the other position methods have no mpt form (ConfigError). mpt.context_length is the
// training length; ALiBi models run past it. Matrices are written as --dtype; vectors
// (LayerNorm, biases) stay f32, as llama.cpp's own converter leaves them.
//
//   export_gguf("runs/x/step_00001000.h5", "x.gguf", gguf::TensorType::f16);
#pragma once

#include <cstdint>
#include <string>

#include "runtime/gguf.h"

namespace alibi {

struct GgufExportSummary {
  int64_t tensors = 0;
  uint64_t bytes = 0;      // the file
  float max_alibi_bias = 0;
  std::string shape;       // "L=4 C=256 NH=8 F=1024 V=257 T=128"
  std::string tokenizer;   // Tokenizer::describe()
};

// Reads `checkpoint` (read-only, one tensor at a time, so memory holds one tensor, not the
// model) and writes `out` as `out`.tmp, renamed once whole. Checkpoints are layout-free, so
// any tp x pp x dp run's exports the same. ConfigError for a position method mpt cannot
// express; DataError for a checkpoint that lacks a tensor or has one of the wrong shape;
// IoError when `out` cannot be written.
GgufExportSummary export_gguf(const std::string& checkpoint, const std::string& out, gguf::TensorType matrices);

// The fused QKV's rows, stored head-major (NH, 3, HS, row) (layers/attention.h), as
// llama.cpp's mpt reads them: all queries, then all keys, then all values, each head-major
// (3, NH, HS, row). row = C for the weight, 1 for the bias.
void qkv_rows_to_llama(const float* stored, float* out, int NH, int HS, int64_t row);

// ggml's ALiBi slope of head h of n_heads for max_alibi_bias `max_bias` (ggml_soft_max_ext
// and flash attention), in double: the unit tests hold it equal to alibi_slope at 8.
double ggml_alibi_slope(int h, int n_heads, double max_bias);

}  // namespace alibi
