// The small model the plan tests compute by hand (tests/unit/test_plan.cpp has the
// arithmetic): L=3 C=8 NH=4 (HS 2) F=32 V=11, T=4.
#pragma once

#include "runtime/config.h"

namespace alibi::test {

inline ModelConfig small_config() {
  ModelConfig cfg;
  cfg.layers = 3;
  cfg.channels = 8;
  cfg.heads = 4;  // HS = 2
  cfg.ffn = 0;    // F = 32
  cfg.vocab = 11;
  cfg.seq_len = 4;
  return cfg;
}

}  // namespace alibi::test
