// Checkpoint files: atomic write, discovery, pruning, and shape-checked reads.
#include "parallel/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "runtime/error.h"

namespace alibi {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kFormatVersion = 1;

// How every reader below opens a checkpoint: the fixes its errors end with.
h5::FileOptions checkpoint_read_options() {
  return {.missing_hint = "check --resume", .damaged_hint = "the checkpoint is damaged; use an earlier one"};
}
const std::regex kCheckpointName(R"(step_(\d{8,})\.h5)");

// (step, path) of every complete checkpoint in out_dir, ascending by step.
std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& out_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return found;
  for (const fs::directory_entry& e : fs::directory_iterator(out_dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && std::regex_match(name, m, kCheckpointName)) {
      found.emplace_back(std::stoll(m[1].str()), e.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

// One line on stderr per file and process: a file written before checksums loads, unverified.
void note_unchecked(const std::string& path) {
  static std::set<std::string> noted;
  if (!noted.insert(path).second) return;
  std::fprintf(stderr, "alibi: note: %s has no checksums (written before they were added); its tensors are "
                       "loaded unverified\n", path.c_str());
}

// One line per dataset: "<path>\t<d0>,<d1>,...".
std::string describe(const std::string& prefix, const std::string& suffix, const std::vector<CheckpointTensor>& ts) {
  std::string out;
  for (const CheckpointTensor& t : ts) {
    out += prefix + t.name + suffix + "\t";
    for (size_t d = 0; d < t.stored_shape.size(); ++d) {
      if (d) out += ",";  // (not one + chain: GCC 12 warns -Wrestrict on it here)
      out += std::to_string(t.stored_shape[d]);
    }
    out += "\n";
  }
  return out;
}

// The union over ranks of every rank's datasets, in rank order then declaration order;
// the same list on every rank (HDF5 creates datasets collectively, in the same order).
std::vector<std::pair<std::string, Shape>> union_of_datasets(const Communicator& comm, const std::string& mine) {
  std::vector<std::pair<std::string, Shape>> out;
  std::set<std::string> seen;
  for (const std::string& text : comm.all_gather_strings(mine)) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      const size_t tab = line.find('\t');
      const std::string path = line.substr(0, tab);
      if (!seen.insert(path).second) continue;
      Shape shape;
      std::istringstream dims(line.substr(tab + 1));
      for (std::string d; std::getline(dims, d, ',');) shape.push_back(std::stoll(d));
      out.emplace_back(path, shape);
    }
  }
  return out;
}

// Writes this rank's blocks. Every rank walks the same list of datasets (the union) and
// calls every write, an empty one where it has no block: a checksummed dataset in a
// parallel file is written collectively. `made` are the tensors built on the way
// (CheckpointTensor::make), written or not.
void write_blocks(h5::File& f, const std::vector<std::pair<std::string, Shape>>& datasets,
                  const std::map<std::string, const CheckpointTensor*>& mine,
                  const std::map<std::string, const CheckpointTensor*>& made) {
  for (const auto& [name, shape] : datasets) {
    h5::Dataset d = f.dataset(name);
    const auto m = made.find(name);
    const Tensor built = m != made.end() ? m->second->make() : Tensor();
    const auto it = mine.find(name);
    if (it == mine.end()) {
      float none = 0;
      d.write_slab(std::vector<int64_t>(shape.size(), 0), std::vector<int64_t>(shape.size(), 0), DType::f32, &none);
      continue;
    }
    const CheckpointTensor& t = *it->second;
    const Tensor& value = t.make ? built : *t.value;
    int64_t n = 1;
    for (int64_t e : t.count) n *= e;
    ALIBI_CHECK(n == value.numel(), t.name << ": block " << shape_str(t.count) << " does not match "
                                           << shape_str(value.shape()));
    // GPU tensors are staged through host memory: checkpoints hold fp32 host bytes either way.
    const Tensor host = value.device() == Device::cpu ? value : value.to(Device::cpu);
    d.write_slab(t.offset, t.count, host.dtype(), host.raw());
  }
}

// The blocks this rank writes (built: those it builds, written or not), by dataset path.
void add_blocks(std::map<std::string, const CheckpointTensor*>& mine, std::map<std::string, const CheckpointTensor*>& built,
                const std::string& prefix, const std::string& suffix, const std::vector<CheckpointTensor>& tensors) {
  for (const CheckpointTensor& t : tensors) {
    if (t.write) mine[prefix + t.name + suffix] = &t;
    if (t.make) built[prefix + t.name + suffix] = &t;
  }
}

// The first non-finite element of a float block, or -1. A float is not finite when its
// exponent bits are all ones; OR-ing that test over the block vectorises (std::isfinite
// with an early exit, and numel() called per element, made this scan a third of a
// checksummed load: bench/RESULTS.md), and the element is searched only when one exists.
int64_t first_non_finite(const Tensor& host) {
  if (host.dtype() != DType::f32) return -1;
  const uint32_t* bits = static_cast<const uint32_t*>(host.raw());
  const int64_t n = host.numel();
  constexpr uint32_t kExponent = 0x7f800000u;
  uint32_t any = 0;
  for (int64_t i = 0; i < n; ++i) any |= static_cast<uint32_t>((bits[i] & kExponent) == kExponent);
  if (!any) return -1;
  for (int64_t i = 0; i < n; ++i)
    if ((bits[i] & kExponent) == kExponent) return i;
  return -1;
}

// Fills each block. Returns whether every dataset read carries a checksum.
bool read_blocks(h5::File& f, const std::string& path, const std::string& prefix, const std::string& suffix,
                 const std::vector<CheckpointTensor>& tensors) {
  bool all_checksummed = true;
  for (const CheckpointTensor& t : tensors) {
    const std::string name = prefix + t.name + suffix;
    ALIBI_CHECK_AS(DataError, f.exists(name),
                   path << ": has no tensor " << name
                        << "; the checkpoint is from a different model (check --layers, --tie-embeddings)"
                           " or start a new --out-dir");
    h5::Dataset d = f.dataset(name);
    const std::vector<int64_t> shape = d.shape();
    ALIBI_CHECK_AS(DataError, Shape(shape.begin(), shape.end()) == t.stored_shape,
                   path << ": " << name << " has shape " << shape_str(Shape(shape.begin(), shape.end()))
                        << " but this model needs " << shape_str(t.stored_shape)
                        << "; the checkpoint is from a different model shape (--vocab/--channels/--heads/"
                           "--ffn): use matching options or a new --out-dir");
    all_checksummed = all_checksummed && d.checksummed();
    // A damaged chunk fails the read itself (Fletcher32); bytes that were written
    // non-finite (a diverged run saved) are caught here, before any step or score.
    Tensor host = t.value->device() == Device::cpu ? *t.value : Tensor::empty(t.value->shape(), t.value->dtype());
    d.read_slab(t.offset, t.count, host.dtype(), host.raw());
    const int64_t bad = first_non_finite(host);
    ALIBI_CHECK_AS(DataError, bad < 0,
                   path << ": " << name << " holds a non-finite value (element " << bad << " of this rank's block "
                        << shape_str(t.count) << " at " << shape_str(Shape(t.offset.begin(), t.offset.end()))
                        << "); the run had diverged when it was saved: use an earlier checkpoint");
    if (t.value->device() != Device::cpu) t.value->copy_from(host);
    t.value->bump_version();  // read in place on the CPU: copies derived from the old values are stale
  }
  return all_checksummed;
}

}  // namespace

std::string checkpoint_path(const std::string& out_dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "step_%08lld.h5", static_cast<long long>(step));
  return (fs::path(out_dir) / name).string();
}

std::optional<std::string> latest_checkpoint(const std::string& out_dir) {
  const auto found = list_checkpoints(out_dir);
  if (found.empty()) return std::nullopt;
  return found.back().second;
}

void prune_checkpoints(const std::string& out_dir, int keep) {
  if (keep <= 0) return;
  const auto found = list_checkpoints(out_dir);
  for (size_t i = 0; i + keep < found.size(); ++i) remove_file_quietly(found[i].second);
}

void write_checkpoint(const std::string& path, const Communicator& comm, const OptionMap& options,
                      const CheckpointState& state, const std::vector<CheckpointTensor>& model,
                      const std::vector<CheckpointTensor>& adam_m, const std::vector<CheckpointTensor>& adam_v,
                      const std::function<void(h5::File&)>& extra) {
  const std::string tmp = temporary_path(path);
  const auto datasets = union_of_datasets(
      comm, describe("/model/", "", model) + describe("/optimizer/", "/m", adam_m) + describe("/optimizer/", "/v", adam_v));
  std::optional<h5::File> file;
  try {
    h5::FileOptions file_options;
    if (comm.size() > 1) file_options.comm = comm.mpi_comm();
    h5::File& f = file.emplace(tmp, h5::Access::create, file_options);
    f.set_int_attr("format_version", kFormatVersion);
    f.set_int_attr("step", state.step);
    f.set_int_attr("data_position", static_cast<int64_t>(state.data_position));
    f.set_int_attr("seed", static_cast<int64_t>(state.seed));
    {
      h5::Group config = f.create_group("config");  // closed before the file, so close() sees every write
      for (const auto& [key, value] : options) config.set_string_attr(key, value);
    }
    for (const auto& [name, shape] : datasets) f.create_dataset(name, DType::f32, shape);
    std::map<std::string, const CheckpointTensor*> mine, built;
    add_blocks(mine, built, "/model/", "", model);
    add_blocks(mine, built, "/optimizer/", "/m", adam_m);
    add_blocks(mine, built, "/optimizer/", "/v", adam_v);
    write_blocks(f, datasets, mine, built);
    if (extra) extra(f);
    f.close();
    comm.barrier();  // every rank's blocks are in the file
    if (comm.rank() == 0) atomic_rename(tmp, path);
    comm.barrier();  // nobody reports success (or prunes) before the rename
  } catch (...) {
    // Never a partial file; the previous checkpoint stays. Free the space before HDF5's
    // last writes (a full disk), and do not leave HDF5 a half-closed file to crash on.
    if (file) file->abandon();
    if (comm.rank() == 0) remove_file_quietly(tmp);
    throw;
  }
}

OptionMap read_checkpoint_options(const std::string& path) {
  h5::File f(path, h5::Access::read_only, checkpoint_read_options());
  const h5::Group config = f.group("config");
  OptionMap options;
  for (const std::string& name : config.attr_names()) options[name] = config.string_attr(name);
  return options;
}

CheckpointState read_checkpoint_state(const std::string& path) {
  h5::File f(path, h5::Access::read_only, checkpoint_read_options());
  const int64_t version = f.int_attr("format_version");
  ALIBI_CHECK_AS(DataError, version == kFormatVersion,
                 path << ": checkpoint format_version " << version << ", this build reads " << kFormatVersion);
  CheckpointState s;
  s.step = f.int_attr("step");
  s.data_position = static_cast<uint64_t>(f.int_attr("data_position"));
  s.seed = static_cast<uint64_t>(f.int_attr("seed"));
  return s;
}

void read_checkpoint_tensors(const std::string& path, const std::vector<CheckpointTensor>& model,
                             const std::vector<CheckpointTensor>& adam_m,
                             const std::vector<CheckpointTensor>& adam_v) {
  h5::File f(path, h5::Access::read_only, checkpoint_read_options());
  bool checksummed = read_blocks(f, path, "/model/", "", model);
  checksummed = read_blocks(f, path, "/optimizer/", "/m", adam_m) && checksummed;
  checksummed = read_blocks(f, path, "/optimizer/", "/v", adam_v) && checksummed;
  // Files from before checksums still load; say once that nothing could be verified.
  if (!checksummed) note_unchecked(path);
}

}  // namespace alibi
