// Evaluation windows and scoring: sliding windows with S = T are the non-overlapping
// evaluation; with S = 1 each token's loss equals a plain forward over its own window.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "data/corpus_writer.h"
#include "train/evaluate.h"

namespace alibi {
namespace {

namespace fs = std::filesystem;

class EvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() / ("alibi-eval-" + std::to_string(::getpid()) + ".h5")).string();
    CorpusWriter w(path_, Tokenizer::bytes(), 64);
    std::mt19937 gen(3);
    for (int d = 0; d < 3; ++d) {
      std::string text(d == 0 ? 2000 : 150, ' ');
      for (char& ch : text) ch = static_cast<char>('a' + gen() % 8);
      w.add_document(d == 0 ? Split::train : Split::valid, text);
    }
    w.finish("eval test");
    corpus_ = std::make_unique<Corpus>(path_);
    cfg_.layers = 2;
    cfg_.channels = 32;
    cfg_.heads = 4;
    cfg_.seq_len = 16;
    model_ = std::make_unique<Model<float>>(cfg_, 5);
  }
  void TearDown() override { fs::remove(path_); }

  std::string path_;
  std::unique_ptr<Corpus> corpus_;
  ModelConfig cfg_;
  std::unique_ptr<Model<float>> model_;
  ProcessGrid grid_ = ProcessGrid::single();
};

TEST_F(EvalTest, WindowsScoreEachTokenOnce) {
  const int64_t n = corpus_->size(Split::valid);  // 302 tokens: 2 documents + EOS each
  for (int S : {1, 5, 16}) {
    SlidingWindows w(*corpus_, Split::valid, 16, S);
    EXPECT_EQ(w.count(), (n - 17) / S + 1);
    std::vector<int32_t> in(16), tg(16);
    int64_t scored = 0;
    for (int64_t k = 0; k < w.count(); ++k) {
      w.read(k, in.data(), tg.data());
      for (int t = 0; t < 16; ++t) scored += tg[t] >= 0;
      for (int t = 0; t < 16; ++t) EXPECT_EQ(tg[t] >= 0, k == 0 || t >= 16 - S) << "S=" << S << " window " << k;
    }
    EXPECT_EQ(scored, 16 + (w.count() - 1) * S);
  }
}

TEST_F(EvalTest, StrideEqualToLengthIsTheNonOverlappingEvaluation) {
  const int T = 16;
  SlidingWindows sliding(*corpus_, Split::valid, T, T);
  const EvalResult r = score_windows(*model_, grid_, sliding, T, 1);
  // Independently: window k is tokens [kT, kT + T], every target scored.
  double sum = 0;
  int64_t tokens = 0;
  std::vector<int32_t> w(T + 1);
  for (int64_t k = 0; (k + 1) * T + 1 <= corpus_->size(Split::valid); ++k) {
    corpus_->read_tokens(Split::valid, k * T, T + 1, w.data());
    sum += model_->forward(w.data(), w.data() + 1, 1, T);
    tokens += T;
  }
  EXPECT_EQ(r.tokens, tokens);
  EXPECT_EQ(r.loss_sum, sum);  // the same windows through the same computation: bit for bit
}

TEST_F(EvalTest, StrideOneScoresEachTokenWithItsOwnWindow) {
  const int T = 16;
  SlidingWindows sliding(*corpus_, Split::valid, T, 1);
  const EvalResult r = score_windows(*model_, grid_, sliding, T, 1);
  double sum = 0;
  std::vector<int32_t> w(T + 1);
  const int64_t windows = corpus_->size(Split::valid) - T;
  for (int64_t k = 0; k < windows; ++k) {
    corpus_->read_tokens(Split::valid, k, T + 1, w.data());
    model_->forward(w.data(), w.data() + 1, 1, T);  // every target scored
    const float* losses = model_->losses().data<float>();
    if (k == 0) {
      for (int t = 0; t < T; ++t) sum += losses[t];
    } else {
      sum += losses[T - 1];  // the token this window adds, with T - 1 tokens of context
    }
  }
  EXPECT_EQ(r.tokens, T + windows - 1);
  // The same per-row losses, summed in the same order: equal up to double rounding.
  EXPECT_NEAR(r.loss_sum, sum, 1e-9 * sum);
}

TEST_F(EvalTest, TokensInMemoryGiveTheCorpusWindowsAndEachBatchItsLosses) {
  const int T = 16, S = 5;
  std::vector<int32_t> tokens(static_cast<size_t>(corpus_->size(Split::valid)));
  corpus_->read_tokens(Split::valid, 0, static_cast<int64_t>(tokens.size()), tokens.data());
  SlidingWindows from_corpus(*corpus_, Split::valid, T, S), from_memory(tokens, T, S);
  ASSERT_EQ(from_memory.count(), from_corpus.count());
  std::vector<int32_t> a(T), at(T), b(T), bt(T);
  for (int64_t k = 0; k < from_corpus.count(); ++k) {
    from_corpus.read(k, a.data(), at.data());
    from_memory.read(k, b.data(), bt.data());
    ASSERT_EQ(a, b) << "window " << k;
    ASSERT_EQ(at, bt) << "window " << k;
  }
  // on_batch sees every batch's scored losses: their sum is the result's (alibi eval
  // --dump-logprobs writes them).
  SlidingWindows windows(tokens, T, S);
  double dumped = 0;
  int64_t seen = 0;
  const EvalResult r = score_windows(*model_, grid_, windows, T, 3, 0, {}, [&](int n, const int32_t* targets) {
    const float* losses = model_->losses().data<float>();
    for (int64_t i = 0; i < int64_t{n} * T; ++i)
      if (targets[i] >= 0) dumped += losses[i], ++seen;
  });
  EXPECT_EQ(seen, r.tokens);
  // The same float losses; the model sums each batch first, so only the order differs.
  EXPECT_NEAR(dumped, r.loss_sum, 1e-9 * r.loss_sum);
  EXPECT_THROW(SlidingWindows(std::vector<int32_t>(16), 16, 16), ConfigError);  // T + 1 tokens needed
}

TEST_F(EvalTest, BadWindowsAreClearErrors) {
  EXPECT_THROW(SlidingWindows(*corpus_, Split::valid, 0, 1), ConfigError);
  EXPECT_THROW(SlidingWindows(*corpus_, Split::valid, 16, 17), ConfigError);
  EXPECT_THROW(SlidingWindows(*corpus_, Split::valid, 16, 0), ConfigError);
  EXPECT_THROW(SlidingWindows(*corpus_, Split::valid, 400, 400), DataError);  // beyond the split
}

}  // namespace
}  // namespace alibi
