// `alibi check FILE...`: reads a corpus or a checkpoint whole, so every chunk's checksum
// (Fletcher32) is verified and every checkpoint value is tested for being finite, and
// says what the file holds. A damaged byte is an error naming the file and the dataset.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "launch/commands.h"
#include "parallel/checkpoint.h"
#include "runtime/error.h"
#include "runtime/h5.h"

namespace alibi {

namespace {

struct Verified {
  int datasets = 0;
  int checksummed = 0;
  int64_t elements = 0;
};

// Reads `d` whole, in blocks of rows (~16 MiB), so HDF5 checks every chunk's checksum.
// Float data must be finite (checkpoints: a diverged run saved).
void read_whole(const h5::Dataset& d, Verified& v) {
  const std::vector<int64_t> shape = d.shape();
  const DType type = d.dtype();
  int64_t row = 1;
  for (size_t i = 1; i < shape.size(); ++i) row *= shape[i];
  const int64_t rows = shape.empty() ? 1 : shape[0];
  const int64_t block = std::max<int64_t>(1, (int64_t{16} << 20) / std::max<int64_t>(1, row * dtype_size(type)));
  std::vector<unsigned char> buffer;
  for (int64_t r0 = 0; r0 < rows && row > 0; r0 += block) {
    const int64_t n = std::min(block, rows - r0);
    buffer.resize(static_cast<size_t>(n * row * dtype_size(type)));
    d.read_rows(r0, n, type, buffer.data());
    for (int64_t i = 0; i < n * row && (type == DType::f32 || type == DType::f64); ++i) {
      const double x = type == DType::f32 ? reinterpret_cast<const float*>(buffer.data())[i]
                                          : reinterpret_cast<const double*>(buffer.data())[i];
      ALIBI_CHECK_AS(DataError, std::isfinite(x),
                     d.file_path() << ": " << d.name() << " holds a non-finite value at element "
                                   << r0 * row + i << "; the run had diverged when it was saved: use an earlier one");
    }
  }
  ++v.datasets;
  v.checksummed += d.checksummed() ? 1 : 0;
  v.elements += rows * row;
}

std::string verified_str(const Verified& v) {
  std::string s = std::to_string(v.datasets) + " datasets read whole, ";
  if (v.checksummed == v.datasets) return s + "every checksum matches";
  return s + std::to_string(v.checksummed) + " with checksums (all match); " +
         std::to_string(v.datasets - v.checksummed) + " written before checksums, not verified";
}

void check_checkpoint(const std::string& path, h5::File& f) {
  const CheckpointState state = read_checkpoint_state(path);
  const OptionMap options = read_checkpoint_options(path);
  Verified v;
  int model_tensors = 0, moments = 0;
  int64_t parameters = 0;
  for (const std::string& name : f.dataset_paths()) {
    const h5::Dataset d = f.dataset(name);
    read_whole(d, v);
    if (name.rfind("/model/", 0) == 0) ++model_tensors, parameters += d.size();
    if (name.rfind("/optimizer/", 0) == 0) ++moments;
  }
  std::printf("%s: checkpoint at step %lld: %d model tensors (%lld parameters), %d optimizer moments, %zu options; "
              "%s; every value finite\n",
              path.c_str(), static_cast<long long>(state.step), model_tensors, static_cast<long long>(parameters),
              moments, options.size(), verified_str(v).c_str());
}

void check_corpus(const std::string& path, h5::File& f) {
  const Corpus corpus(path, MPI_COMM_NULL);  // validates the layout (data/FORMAT.md)
  Verified v;
  for (const std::string& name : f.dataset_paths()) read_whole(f.dataset(name), v);
  std::string splits;
  for (Split s : kSplits)
    splits += std::string(splits.empty() ? "" : ", ") + split_name(s) + " " + std::to_string(corpus.size(s)) +
              " tokens in " + std::to_string(corpus.documents(s)) + " documents";
  std::printf("%s: corpus: %s; tokenizer %s; %s\n", path.c_str(), splits.c_str(),
              corpus.tokenizer().describe().c_str(), verified_str(v).c_str());
}

}  // namespace

int cmd_check(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf("usage: alibi check FILE...\n\nReads each corpus or checkpoint whole: every checksum is verified "
                "and every checkpoint value must be finite.\nPrints what each file holds; the first damaged file "
                "is an error naming it and the dataset (exit 1).\n");
    return argc < 2 ? 2 : 0;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string path = argv[i];
    h5::File f(path, h5::Access::read_only, {.missing_hint = "check the path"});
    if (f.exists("model")) {
      check_checkpoint(path, f);
    } else if (f.exists("train") && f.has_attr("format_version")) {
      check_corpus(path, f);
    } else {
      throw DataError(path + ": neither an alibi checkpoint (no /model) nor a corpus (no /train); give one of those");
    }
  }
  return 0;
}

}  // namespace alibi
