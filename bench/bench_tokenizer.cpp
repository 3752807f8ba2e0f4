// Tokenizer speed on a real corpus (default: the Linux docs of the main job): GPT-2
// pre-splitting, word counting, training a BPE vocabulary, and encoding with a cold and a
// warm piece cache, on one thread and on every core. Results go to bench/RESULTS.md.
// Each figure is the best of a few runs, in wall time and in CPU time (the process's, all
// threads): on a shared machine the CPU time is what the work costs when the cores are free.
//
//   build/bench/bench_tokenizer [DIR] [--vocab 8192] [--gpt2-files DIR]
#include <mpi.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "data/bpe_trainer.h"
#include "data/gpt2_files.h"
#include "data/pretokenize.h"
#include "data/text_encoder.h"
#include "data/text_inputs.h"

namespace {

using namespace alibi;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Timing {
  double wall = 1e30, cpu = 1e30;  // seconds; cpu sums every thread of the process
};

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Best of `reps` runs of f (the machine is shared: the best run is the least disturbed).
template <class F>
Timing best_of(int reps, F&& f) {
  Timing best;
  for (int r = 0; r < reps; ++r) {
    const auto t = Clock::now();
    const double c = cpu_seconds();
    f();
    best.cpu = std::min(best.cpu, cpu_seconds() - c);
    best.wall = std::min(best.wall, seconds_since(t));
  }
  return best;
}

// Encodes every document on `threads` threads, each with its own encoder (fresh ones when
// `encoders` is empty on entry); returns the total token count.
size_t encode_all(const std::vector<std::string>& docs, int threads, std::vector<TextEncoder>& encoders,
                  const Tokenizer& tok) {
  while (static_cast<int>(encoders.size()) < threads) encoders.emplace_back(tok);
  std::vector<size_t> tokens(static_cast<size_t>(threads), 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::vector<int32_t> ids;
      for (size_t d = static_cast<size_t>(t); d < docs.size(); d += static_cast<size_t>(threads)) {
        ids.clear();
        encoders[static_cast<size_t>(t)].encode(docs[d], ids);
        tokens[static_cast<size_t>(t)] += ids.size();
      }
    });
  for (std::thread& th : pool) th.join();
  size_t total = 0;
  for (size_t n : tokens) total += n;
  return total;
}

void report_encoding(const char* name, const std::vector<std::string>& docs, double mb, const Tokenizer& tok) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  size_t tokens = 0;
  std::vector<TextEncoder> warm;
  const Timing cold1 = best_of(3, [&] {
    std::vector<TextEncoder> fresh;
    tokens = encode_all(docs, 1, fresh, tok);
  });
  encode_all(docs, 1, warm, tok);
  const Timing warm1 = best_of(3, [&] { encode_all(docs, 1, warm, tok); });
  const Timing coldN = best_of(3, [&] {
    std::vector<TextEncoder> fresh;
    encode_all(docs, cores, fresh, tok);
  });
  std::printf("%-5s encode, 1 thread, cold cache      %7.1f MB/s wall, %7.1f MB/s per CPU second\n", name,
              mb / cold1.wall, mb / cold1.cpu);
  std::printf("%-5s encode, 1 thread, warm cache      %7.1f MB/s wall, %7.1f MB/s per CPU second\n", name,
              mb / warm1.wall, mb / warm1.cpu);
  std::printf("%-5s encode, %d threads, cold caches    %7.1f MB/s wall, %7.1f MB/s per CPU second\n", name, cores,
              mb / coldN.wall, mb / coldN.cpu);
  std::printf("%-5s %.3f bytes per token (%zu tokens)\n", name, mb * 1e6 / static_cast<double>(tokens), tokens);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);  // the data library's HDF5 is the MPI build
  std::string dir = "/usr/share/doc/linux-doc-6.1/html/_sources", gpt2_dir;
  int64_t vocab = 8192;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--vocab") && i + 1 < argc) {
      vocab = std::atoll(argv[++i]);
    } else if (!std::strcmp(argv[i], "--gpt2-files") && i + 1 < argc) {
      gpt2_dir = argv[++i];
    } else {
      dir = argv[i];
    }
  }

  // ---- the corpus in memory ----
  std::vector<std::string> docs;
  {
    DocumentReader reader(collect_input_files({dir}, {}, {}), "text");
    for (std::string d; reader.next(d);) docs.push_back(std::move(d));
  }
  size_t bytes = 0;
  for (const std::string& d : docs) bytes += d.size();
  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf("corpus: %s, %zu documents, %.1f MB; %u hardware threads\n", dir.c_str(), docs.size(), mb,
              std::thread::hardware_concurrency());

  // ---- pre-splitting and word counting, one thread ----
  size_t pieces = 0;
  const Timing split = best_of(3, [&] {
    pieces = 0;
    for (const std::string& d : docs)
      for (size_t at = 0; at < d.size(); ++pieces) at = gpt2_piece_end(d, at);
  });
  std::printf("GPT-2 pre-split, 1 thread            %7.1f MB/s wall, %7.1f MB/s per CPU second (%zu pieces)\n",
              mb / split.wall, mb / split.cpu, pieces);
  WordCounts words;
  const Timing count = best_of(1, [&] {
    for (const std::string& d : docs) words.add_text(d);
  });
  std::printf("word counting, 1 thread              %7.1f MB/s wall, %7.1f MB/s per CPU second (%zu distinct)\n",
              mb / count.wall, mb / count.cpu, words.distinct());

  // ---- training ----
  Tokenizer bpe;
  const Timing train = best_of(3, [&] { bpe = train_bpe(words, vocab); });
  std::printf("train %lld-token BPE on the word table: %.2f s wall, %.2f s CPU (%zu merges)\n",
              static_cast<long long>(vocab), train.wall, train.cpu, bpe.merges.size());

  // ---- encoding ----
  report_encoding("bpe", docs, mb, bpe);
  if (!gpt2_dir.empty()) report_encoding("gpt2", docs, mb, load_gpt2_tokenizer(gpt2_dir));
  MPI_Finalize();
  return 0;
}
