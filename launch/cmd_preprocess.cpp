// alibi preprocess: text (files, directories, globs, .gz, JSON Lines) or a Megatron-LM
// indexed dataset -> one HDF5 corpus (data/FORMAT.md) with train/valid/test splits by
// document and the tokenizer stored beside the tokens. The same inputs, options and seed
// always give the same file.
//
//   alibi preprocess --input /usr/share/doc/linux-doc-6.1/html/_sources --output linuxdoc.h5
//                    --tokenizer bpe --vocab 8192      (one line)
//   alibi preprocess --input more/ --tokenizer-from linuxdoc.h5 --output more.h5
//   alibi preprocess --megatron my_text_document --tokenizer gpt2 --gpt2-files gpt2/ --output m.h5
//
// Phases: the documents (a first read counts them, so the split can be drawn), the
// tokenizer (for bpe: count the words of the training documents, then learn merges),
// then encode and write. Reading stays on this thread, in batches; counting and encoding
// a batch run on --threads threads, and the batch is written in input order.
#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/bpe_trainer.h"
#include "data/corpus_writer.h"
#include "data/gpt2_files.h"
#include "data/megatron.h"
#include "data/text_encoder.h"
#include "data/text_inputs.h"
#include "data/tokenizer.h"
#include "launch/commands.h"
#include "runtime/config.h"
#include "runtime/error.h"

namespace alibi {

namespace fs = std::filesystem;

namespace {

struct PreprocessOptions {
  std::vector<std::string> inputs;
  std::string megatron;  // PREFIX of PREFIX.idx / PREFIX.bin
  std::string output;
  double valid_fraction = 0.01;
  double test_fraction = 0.01;
  int64_t valid_docs = -1;  // >= 0: an exact count instead of the fraction
  int64_t test_docs = -1;
  uint64_t seed = 1234;
  std::string extensions;  // comma-separated endings; empty: every regular file
  std::string jsonl_field = "text";
  std::string tokenizer = "bytes";
  TokenizerKind kind = TokenizerKind::bytes;  // parsed from `tokenizer`
  int64_t vocab = 8192;
  std::string gpt2_files;
  std::string tokenizer_from;
  int threads = 0;  // 0: every core
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double megabytes(uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

// A progress line, redrawn in place on a terminal and silent otherwise (logs get one
// line per phase from the caller instead).
class Progress {
 public:
  explicit Progress(std::string phase) : phase_(std::move(phase)), tty_(::isatty(STDOUT_FILENO)) {}
  void update(double fraction, const std::string& detail) {
    if (!tty_ || seconds_since(last_) < 0.2) return;
    last_ = Clock::now();
    std::printf("\r  %-10s %5.1f%%  %s   ", phase_.c_str(), 100.0 * fraction, detail.c_str());
    std::fflush(stdout);
  }
  ~Progress() {
    if (tty_) std::printf("\r%*s\r", 78, ""), std::fflush(stdout);
  }

 private:
  std::string phase_;
  bool tty_;
  Clock::time_point last_ = Clock::now() - std::chrono::seconds(1);
};

// Runs work(thread, i) for i in [0, n) on `threads` threads (dynamic: documents differ
// in size) and rethrows the first error on this thread.
template <class Work>
void parallel_for(int threads, size_t n, Work&& work) {
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
  auto run = [&](int t) {
    try {
      for (size_t i; (i = next.fetch_add(1)) < n;) work(t, i);
    } catch (...) {
      errors[static_cast<size_t>(t)] = std::current_exception();
      next = n;  // the others stop at their next document
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(run, t);
  run(0);
  for (std::thread& th : pool) th.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

// Reads every document in batches of about kBatchBytes; `per_batch(batch, first)` gets
// the documents with global indices first, first + 1, ...
constexpr size_t kBatchBytes = size_t{16} << 20;
// `expected` is the count of the first read: the split was drawn for exactly that many.
template <class PerBatch>
void for_each_batch(DocumentReader& reader, int64_t expected, PerBatch&& per_batch) {
  std::vector<std::string> batch;
  int64_t first = 0;
  size_t bytes = 0;
  std::string doc;
  auto flush = [&] {
    ALIBI_CHECK_AS(IoError, first + static_cast<int64_t>(batch.size()) <= expected,
                   "the inputs changed while alibi preprocess read them (now more than " << expected
                                                                                         << " documents); run it again");
    per_batch(batch, first);
    first += static_cast<int64_t>(batch.size());
    batch.clear();
    bytes = 0;
  };
  while (reader.next(doc)) {
    bytes += doc.size();
    batch.push_back(std::move(doc));
    if (bytes >= kBatchBytes) flush();
  }
  if (!batch.empty()) flush();
  ALIBI_CHECK_AS(IoError, first == expected,
                 "the inputs changed while alibi preprocess read them (" << first << " documents, first " << expected
                                                                        << "); run it again");
}

// The early check of --output (the writer makes the same one, but only after the
// vocabulary is trained, which may take a while).
void check_output(const std::string& output) {
  ALIBI_CHECK_AS(ConfigError, !fs::is_directory(output),
                 "--output " << output << " is a directory; give a file name, e.g. " << output << "/corpus.h5");
  const fs::path dir = fs::path(output).has_parent_path() ? fs::path(output).parent_path() : fs::path(".");
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  ALIBI_CHECK_AS(IoError, fs::exists(st),
                 "cannot write " << output << ": directory " << dir.string() << " does not exist; create it first");
  ALIBI_CHECK_AS(IoError, fs::is_directory(st),
                 "cannot write " << output << ": " << dir.string() << " is not a directory; choose another path");
}

// A tokenizer given ready-made: bytes, GPT-2's files, or the one in a corpus/checkpoint.
Tokenizer given_tokenizer(const PreprocessOptions& o) {
  if (!o.tokenizer_from.empty()) {
    h5::FileOptions fo;
    fo.missing_hint = "--tokenizer-from names a corpus (or checkpoint) whose tokenizer to reuse";
    fo.damaged_hint = "make it again with alibi preprocess";
    h5::File f(o.tokenizer_from, h5::Access::read_only, fo);
    ALIBI_CHECK_AS(DataError, f.exists("tokenizer"),
                   o.tokenizer_from << " has no /tokenizer group; --tokenizer-from takes a corpus made by alibi "
                                       "preprocess (or a checkpoint)");
    return Tokenizer::read_from(f.group("tokenizer"));
  }
  if (o.kind == TokenizerKind::gpt2) return load_gpt2_tokenizer(o.gpt2_files);
  return Tokenizer::bytes();
}

std::vector<Split> draw_splits(const PreprocessOptions& o, int64_t n_docs) {
  if (o.valid_docs >= 0 || o.test_docs >= 0)
    return assign_split_counts(n_docs, std::max<int64_t>(o.valid_docs, 0), std::max<int64_t>(o.test_docs, 0), o.seed);
  return assign_splits(n_docs, o.valid_fraction, o.test_fraction, o.seed);
}

std::string split_description(const PreprocessOptions& o) {
  std::ostringstream os;
  if (o.valid_docs >= 0 || o.test_docs >= 0) {
    os << "valid_docs " << std::max<int64_t>(o.valid_docs, 0) << ", test_docs " << std::max<int64_t>(o.test_docs, 0);
  } else {
    os << "valid_fraction " << o.valid_fraction << ", test_fraction " << o.test_fraction;
  }
  os << ", seed " << o.seed;
  return os.str();
}

void print_summary(const CorpusWriter& writer, const std::string& output, uint64_t text_bytes,
                   Clock::time_point start) {
  std::printf("  %-6s %10s %14s\n", "split", "documents", "tokens");
  int64_t tokens = 0, docs = 0;
  for (Split s : kSplits) {
    std::printf("  %-6s %10lld %14lld\n", split_name(s), static_cast<long long>(writer.stats(s).docs),
                static_cast<long long>(writer.stats(s).tokens));
    tokens += writer.stats(s).tokens;
    docs += writer.stats(s).docs;
  }
  if (text_bytes > 0 && tokens > docs)
    std::printf("  %.3f bytes of text per token (EOS not counted)\n",
                static_cast<double>(text_bytes) / static_cast<double>(tokens - docs));
  std::error_code ec;
  const uintmax_t out_bytes = fs::file_size(output, ec);
  std::printf("wrote %s (%.1f MB) in %.2f s\n", output.c_str(), ec ? 0.0 : megabytes(out_bytes),
              seconds_since(start));
}

// ---- a Megatron-LM dataset ---------------------------------------------------------------

int import_megatron_dataset(const PreprocessOptions& o, Clock::time_point start) {
  ALIBI_CHECK_AS(ConfigError, o.kind != TokenizerKind::bpe,
                 "--megatron imports tokens, so there is no text to train a BPE vocabulary on; give the tokenizer "
                 "the data was made with: --tokenizer gpt2 --gpt2-files DIR, --tokenizer-from CORPUS.h5, or "
                 "--tokenizer bytes");
  const Tokenizer tokenizer = given_tokenizer(o);
  const MegatronDataset ds(o.megatron);
  ALIBI_CHECK_AS(DataError, ds.documents() > 0, "--megatron " << o.megatron << ": the dataset holds no documents");
  const std::vector<Split> split = draw_splits(o, ds.documents());
  CorpusWriter writer(o.output, tokenizer);
  MegatronImportStats stats;
  {
    Progress progress("importing");
    stats = import_megatron(ds, split, writer, tokenizer, [&](int64_t done) {
      progress.update(static_cast<double>(done) / static_cast<double>(ds.documents()),
                      std::to_string(done) + " documents");
    });
  }
  std::ostringstream source;
  source << "alibi preprocess --megatron " << o.megatron << "; " << ds.documents() << " documents of "
         << ds.dtype_name() << " tokens; " << split_description(o);
  writer.finish(source.str());
  std::printf("alibi preprocess: %lld Megatron documents (%lld sequences, %s) with %s; %lld already ended in EOS\n",
              static_cast<long long>(ds.documents()), static_cast<long long>(ds.sequences()), ds.dtype_name(),
              tokenizer.describe().c_str(), static_cast<long long>(stats.trailing_eos_kept));
  print_summary(writer, o.output, 0, start);
  return 0;
}

}  // namespace

int cmd_preprocess(int argc, char** argv) {
  // ---- options ----
  PreprocessOptions o;
  po::options_description desc("preprocess");
  desc.add_options()
      ("input", po::value(&o.inputs)->multitoken(),
       "text files, directories (walked recursively, sorted) and glob patterns; a .gz file is decompressed; a "
       ".jsonl/.ndjson file holds one document per line, any other file is one document")
      ("megatron", po::value(&o.megatron), "import a Megatron-LM dataset PREFIX.idx + PREFIX.bin instead of text")
      ("output", po::value(&o.output)->required(), "the corpus file to write, e.g. corpus.h5")
      ("tokenizer", po::value(&o.tokenizer)->default_value(o.tokenizer),
       "bytes (V=257), bpe (trained on the training documents, --vocab ids) or gpt2 (--gpt2-files)")
      ("vocab", po::value(&o.vocab)->default_value(o.vocab), "--tokenizer bpe: vocabulary size, EOS included")
      ("gpt2-files", po::value(&o.gpt2_files), "--tokenizer gpt2: the directory holding encoder.json and vocab.bpe")
      ("tokenizer-from", po::value(&o.tokenizer_from),
       "reuse the tokenizer of this corpus (or checkpoint) instead of --tokenizer")
      ("jsonl-field", po::value(&o.jsonl_field)->default_value(o.jsonl_field),
       "the string field of each JSON Lines object that holds the document")
      ("valid-fraction", po::value(&o.valid_fraction)->default_value(o.valid_fraction),
       "fraction of documents held out for validation")
      ("test-fraction", po::value(&o.test_fraction)->default_value(o.test_fraction),
       "fraction of documents held out for testing")
      ("valid-docs", po::value(&o.valid_docs)->default_value(o.valid_docs),
       "exact number of validation documents (>= 0 replaces both fractions)")
      ("test-docs", po::value(&o.test_docs)->default_value(o.test_docs),
       "exact number of test documents (>= 0 replaces both fractions)")
      ("seed", po::value(&o.seed)->default_value(o.seed), "seed of the document split")
      ("extensions", po::value(&o.extensions)->default_value(o.extensions),
       "comma-separated name endings taken from directories, e.g. .txt,.rst,.md (empty: every file)")
      ("threads", po::value(&o.threads)->default_value(o.threads), "threads for counting and encoding (0: every core)");
  po::variables_map vm;
  if (!parse_command_line("preprocess", argc, argv, desc, vm)) return 0;

  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  ALIBI_CHECK_AS(ConfigError, world == 1,
                 "alibi preprocess runs as one process with --threads threads (started with "
                     << world << "); run it without mpirun");
  ALIBI_CHECK_AS(ConfigError, o.inputs.empty() != o.megatron.empty(),
                 (o.inputs.empty() ? "give --input (text files or directories) or --megatron PREFIX"
                                   : "give --input or --megatron, not both"));
  o.kind = parse_tokenizer_kind(o.tokenizer);
  ALIBI_CHECK_AS(ConfigError, o.tokenizer_from.empty() || vm["tokenizer"].defaulted(),
                 "give --tokenizer or --tokenizer-from, not both");
  ALIBI_CHECK_AS(ConfigError, vm["vocab"].defaulted() || o.kind == TokenizerKind::bpe,
                 "--vocab sets the size of a trained vocabulary; it needs --tokenizer bpe");
  ALIBI_CHECK_AS(ConfigError, (o.kind == TokenizerKind::gpt2) == !o.gpt2_files.empty(),
                 (o.kind == TokenizerKind::gpt2 ? "--tokenizer gpt2 needs --gpt2-files DIR (the directory of encoder.json and "
                                          "vocab.bpe)"
                                        : "--gpt2-files needs --tokenizer gpt2"));
  if (o.kind == TokenizerKind::bpe)
    ALIBI_CHECK_AS(ConfigError, o.vocab >= 257 && o.vocab <= 65536 * 16,
                   "--vocab " << o.vocab << " must be at least 257 (256 bytes + EOS) and at most 1048576");
  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  check_output(o.output);
  const auto start = Clock::now();
  if (!o.megatron.empty()) return import_megatron_dataset(o, start);

  // ---- the documents: find the files, then count (and check) the documents ----
  std::set<std::string> exclude;
  for (const std::string& p : {o.output, temporary_path(o.output)}) {
    std::error_code ec;
    exclude.insert(fs::weakly_canonical(p, ec).string());
  }
  const std::vector<InputFile> files = collect_input_files(o.inputs, split_commas(o.extensions), exclude);
  uint64_t input_bytes = 0;
  for (const InputFile& f : files) input_bytes += f.bytes;
  auto fraction_read = [&](const DocumentReader& r) {
    return input_bytes ? static_cast<double>(r.bytes_done()) / static_cast<double>(input_bytes) : 1.0;
  };
  int64_t n_docs = 0, empty_docs = 0;
  uint64_t text_bytes = 0;
  {
    Progress progress("reading");
    DocumentReader reader(files, o.jsonl_field);
    for (std::string doc; reader.next(doc);) {
      ++n_docs;
      text_bytes += doc.size();
      progress.update(fraction_read(reader), std::to_string(n_docs) + " documents");
    }
    empty_docs = reader.empty_skipped();
  }
  ALIBI_CHECK_AS(DataError, n_docs > 0,
                 "no documents: " << (empty_docs  ? "all " + std::to_string(empty_docs) + " input documents are empty"
                                      : files.empty() ? std::string("the inputs hold no files")
                                                      : "the " + std::to_string(files.size()) + " input files hold none")
                                  << (o.extensions.empty() ? std::string() : " with names ending in " + o.extensions)
                                  << "; give --input text files or directories that hold some");
  const std::vector<Split> split = draw_splits(o, n_docs);
  std::printf("alibi preprocess: %lld documents (%lld empty documents skipped) in %zu files, %.1f MB of text\n",
              static_cast<long long>(n_docs), static_cast<long long>(empty_docs), files.size(),
              megabytes(text_bytes));
  std::fflush(stdout);

  // ---- the tokenizer ----
  Tokenizer tokenizer;
  if (o.kind == TokenizerKind::bpe && o.tokenizer_from.empty()) {
    const auto t0 = Clock::now();
    std::vector<WordCounts> counts(static_cast<size_t>(threads));
    {
      Progress progress("counting");
      DocumentReader reader(files, o.jsonl_field);
      for_each_batch(reader, n_docs, [&](const std::vector<std::string>& batch, int64_t first) {
        parallel_for(threads, batch.size(), [&](int t, size_t i) {
          if (split[static_cast<size_t>(first) + i] == Split::train) counts[static_cast<size_t>(t)].add_text(batch[i]);
        });
        progress.update(fraction_read(reader), std::to_string(first + batch.size()) + " documents");
      });
    }
    for (size_t t = 1; t < counts.size(); ++t) counts[0].merge(counts[t]), counts[t] = WordCounts();
    const double count_s = seconds_since(t0);
    const auto t1 = Clock::now();
    {
      Progress progress("merging");
      tokenizer = train_bpe(counts[0], o.vocab, [&](int64_t done, int64_t want) {
        progress.update(static_cast<double>(done) / static_cast<double>(want), std::to_string(done) + " tokens");
      });
    }
    std::printf("  vocabulary: %lld words (%lld distinct) counted in %.2f s, %zu merges learned in %.2f s -> %s\n",
                static_cast<long long>(counts[0].total()), static_cast<long long>(counts[0].distinct()), count_s,
                tokenizer.merges.size(), seconds_since(t1), tokenizer.describe().c_str());
    if (tokenizer.vocab_size < o.vocab)
      std::printf("  note: the training text ran out of pairs to merge; the vocabulary has %lld ids, not %lld\n",
                  static_cast<long long>(tokenizer.vocab_size), static_cast<long long>(o.vocab));
  } else {
    tokenizer = given_tokenizer(o);
    std::printf("  tokenizer: %s\n", tokenizer.describe().c_str());
  }
  std::fflush(stdout);

  // ---- encode and write, batch by batch in input order ----
  const auto t_encode = Clock::now();
  CorpusWriter writer(o.output, tokenizer);
  {
    std::vector<TextEncoder> encoders;
    for (int t = 0; t < threads; ++t) encoders.emplace_back(tokenizer);
    std::vector<std::vector<int32_t>> ids;
    Progress progress("encoding");
    DocumentReader reader(files, o.jsonl_field);
    uint64_t bytes_done = 0;
    for_each_batch(reader, n_docs, [&](const std::vector<std::string>& batch, int64_t first) {
      ids.resize(std::max(ids.size(), batch.size()));
      parallel_for(threads, batch.size(), [&](int t, size_t i) {
        ids[i].clear();
        encoders[static_cast<size_t>(t)].encode(batch[i], ids[i]);
      });
      for (size_t i = 0; i < batch.size(); ++i) {
        writer.add_tokens(split[static_cast<size_t>(first) + i], ids[i].data(), static_cast<int64_t>(ids[i].size()));
        bytes_done += batch[i].size();
      }
      const double s = std::max(seconds_since(t_encode), 1e-9);
      char detail[64];
      std::snprintf(detail, sizeof detail, "%.1f MB/s", megabytes(bytes_done) / s);
      progress.update(fraction_read(reader), detail);
    });
  }
  std::ostringstream source;
  source << "alibi preprocess --input";
  // A shell glob can give thousands of shards: the first ones and a count, so the attribute
  // stays far below the readers' 1 MiB bound on a string.
  constexpr size_t kListed = 16;
  for (size_t i = 0; i < o.inputs.size() && i < kListed; ++i) source << " " << o.inputs[i];
  if (o.inputs.size() > kListed) source << " ... (" << o.inputs.size() << " inputs in all)";
  if (!o.extensions.empty()) source << " --extensions " << o.extensions;
  source << "; " << files.size() << " files, " << n_docs << " documents; tokenizer " << tokenizer.describe() << "; "
         << split_description(o);
  writer.finish(source.str());
  const double encode_s = seconds_since(t_encode);
  std::printf("  encoded %.1f MB in %.2f s (%.1f MB/s on %d threads)\n", megabytes(text_bytes), encode_s,
              megabytes(text_bytes) / std::max(encode_s, 1e-9), threads);
  print_summary(writer, o.output, text_bytes, start);
  return 0;
}

}  // namespace alibi
