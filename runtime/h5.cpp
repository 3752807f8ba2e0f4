// The HDF5 wrapper: handles, transfers, attributes, and the one-line errors.
#include "runtime/h5.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <mutex>
#include <sstream>
#include <utility>

#include "runtime/error.h"
#include "runtime/h5_internal.h"

namespace alibi {

// ---- file-system helpers ---------------------------------------------------------------

void atomic_rename(const std::string& tmp, const std::string& final) {
  if (std::rename(tmp.c_str(), final.c_str()) != 0) {
    const int err = errno;
    throw IoError("cannot rename " + tmp + " to " + final + ": " + std::strerror(err) +
                  "; check that the destination directory is writable and on the same file system");
  }
}

std::string temporary_path(const std::string& final) { return final + ".tmp"; }

void remove_file_quietly(const std::string& path) noexcept { ::unlink(path.c_str()); }

namespace h5 {

// ---- error reporting -------------------------------------------------------------------
namespace {

// HDF5 prints its error stack to stderr by default; our errors say it in one line instead.
void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5open();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

herr_t collect_error(unsigned n, const H5E_error2_t* e, void* data) {
  auto* messages = static_cast<std::vector<std::string>*>(data);
  if (e->desc != nullptr && e->desc[0] != '\0') messages->emplace_back(e->desc);
  return 0;
}

// The most specific message on HDF5's error stack, as " (HDF5: ...)", then clears the
// stack. Empty when the stack is empty.
std::string hdf5_detail() {
  std::vector<std::string> messages;  // innermost first
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &messages);
  H5Eclear2(H5E_DEFAULT);
  // The innermost message of a failed open is a low-level one ("addr overflow ..."); the
  // ones about truncation or a system call say more, wherever they sit. Shorten those.
  for (const std::string& m : messages) {
    if (m.find("Fletcher32") != std::string::npos)  // "data error detected by Fletcher32 checksum"
      return ": checksum mismatch, the stored bytes are damaged";
    unsigned long long eof = 0, base = 0, stored = 0;
    if (std::sscanf(m.c_str(), "truncated file: eof = %llu, sblock->base_addr = %llu, stored_eof = %llu", &eof,
                    &base, &stored) == 3)
      return " (" + std::to_string(eof) + " of its " + std::to_string(stored) + " bytes are there)";
    const size_t at = m.find("error message = '");
    if (at != std::string::npos) {
      const size_t from = at + 17, to = m.find('\'', from);
      return ": " + m.substr(from, to == std::string::npos ? std::string::npos : to - from);
    }
  }
  return messages.empty() ? std::string() : " (HDF5: " + messages.front() + ")";
}

std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

// ---- Object: handle and attributes -------------------------------------------------------

Object::Object(std::shared_ptr<detail::FileContext> file, hid_t id, std::string name)
    : file_(std::move(file)), id_(id), name_(std::move(name)) {}

Object::Object(Object&& o) noexcept : file_(std::move(o.file_)), id_(o.id_), name_(std::move(o.name_)) {
  o.id_ = H5I_INVALID_HID;
}

Object& Object::operator=(Object&& o) noexcept {
  if (this != &o) {
    close_handle();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
    file_ = std::move(o.file_);  // after close_handle: the file may close with its last object
    name_ = std::move(o.name_);
  }
  return *this;
}

Object::~Object() { close_handle(); }

void Object::close_handle() noexcept {
  if (id_ < 0) return;
  if (H5Iis_valid(id_) <= 0) {  // HDF5 already shut down (MPI_Finalize ends it)
    id_ = H5I_INVALID_HID;
    return;
  }
  switch (H5Iget_type(id_)) {
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    default: break;
  }
  id_ = H5I_INVALID_HID;
}

const std::string& Object::file_path() const {
  static const std::string none = "(closed HDF5 file)";
  return file_ ? file_->path : none;
}

void Object::fail_read(const std::string& what) const {
  const std::string detail = hdf5_detail();
  throw DataError(file_path() + ": " + name_ + ": " + what + detail + "; " +
                  (file_ ? file_->damaged_hint : std::string("check the file")));
}

void Object::fail_write(const std::string& what) const {
  const std::string detail = hdf5_detail();
  // (The root group's "/" says nothing: a file-wide failure names the file alone.)
  throw IoError(file_path() + ": " + (name_ == "/" ? std::string() : name_ + ": ") + what + detail +
                "; check free space and that the file is writable");
}

std::string Object::full_path(const std::string& path) const {
  if (!path.empty() && path[0] == '/') return path;
  return name_ == "/" ? "/" + path : name_ + "/" + path;
}

bool Object::has_attr(const std::string& attr) const {
  const htri_t e = H5Aexists(id_, attr.c_str());
  if (e < 0) fail_read("cannot look up attribute '" + attr + "'");
  return e > 0;
}

namespace {

herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

std::vector<std::string> Object::attr_names() const {
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Aiterate2(id_, H5_INDEX_NAME, H5_ITER_INC, &index, collect_attr_name, &names) < 0)
    fail_read("cannot list the attributes");
  return names;
}

namespace {

// Creates (replacing) a scalar attribute of `type` and writes `value` (memory `mtype`).
bool write_scalar_attr(hid_t obj, const std::string& attr, hid_t type, hid_t mtype, const void* value) {
  if (H5Aexists(obj, attr.c_str()) > 0 && H5Adelete(obj, attr.c_str()) < 0) return false;
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  if (!space.ok()) return false;
  Hid a(H5Acreate2(obj, attr.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return a.ok() && H5Awrite(a, mtype, value) >= 0;
}

}  // namespace

namespace {
// Longer than any attribute string we write (option values, a tokenizer kind, a corpus's
// source description) by orders of magnitude, and far below an allocation that hurts: the
// readers refuse a longer one (a damaged length), so the writers refuse to make one.
constexpr uint64_t kMaxStringAttrBytes = uint64_t{1} << 20;
}  // namespace

void Object::set_string_attr(const std::string& attr, const std::string& value) {
  if (value.size() > kMaxStringAttrBytes)
    throw IoError(file_path() + ": attribute '" + attr + "' would hold " + std::to_string(value.size()) +
                  " bytes, more than the " + std::to_string(kMaxStringAttrBytes) + " any reader accepts: shorten it");
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  if (!type.ok() || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0)
    fail_write("cannot make a string type for attribute '" + attr + "'");
  const char* p = value.c_str();
  if (!write_scalar_attr(id_, attr, type, type, &p)) fail_write("cannot write attribute '" + attr + "'");
}

void Object::set_int_attr(const std::string& attr, int64_t value) {
  if (!write_scalar_attr(id_, attr, H5T_STD_I64LE, H5T_NATIVE_INT64, &value))
    fail_write("cannot write attribute '" + attr + "'");
}

void Object::set_double_attr(const std::string& attr, double value) {
  if (!write_scalar_attr(id_, attr, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value))
    fail_write("cannot write attribute '" + attr + "'");
}

namespace {

// Opens attribute `attr` of object `id` as one value of class `cls` (or `alt`, e.g. an
// integer read as a double); on failure returns an invalid id and says why in `problem`.
Hid open_scalar_attr(hid_t id, const std::string& attr, H5T_class_t cls, H5T_class_t alt, const char* kind,
                     std::string& problem) {
  if (H5Aexists(id, attr.c_str()) <= 0) {
    problem = "missing attribute '" + attr + "'";
    return Hid(H5I_INVALID_HID, H5Aclose);
  }
  Hid a(H5Aopen(id, attr.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.ok()) {
    problem = "cannot open attribute '" + attr + "'";
    return a;
  }
  Hid type(H5Aget_type(a), H5Tclose);
  Hid space(H5Aget_space(a), H5Sclose);
  const H5T_class_t c = type.ok() ? H5Tget_class(type) : H5T_NO_CLASS;
  if (c != cls && c != alt) {
    problem = "attribute '" + attr + "' is not " + kind;
    return Hid(H5I_INVALID_HID, H5Aclose);
  }
  if (!space.ok() || H5Sget_simple_extent_npoints(space) != 1) {
    problem = "attribute '" + attr + "' is not a single value";
    return Hid(H5I_INVALID_HID, H5Aclose);
  }
  return a;
}

}  // namespace

namespace {

// ---- a string attribute's stored size, checked before HDF5 reads it ----------------------
//
// A variable-length string attribute holds its length (4 bytes) and where its bytes lie in
// the file's global heap; its type says how large one character is (1 byte). HDF5 1.10's
// H5Aread allocates length x character size, and zeroes it, before it looks at the heap:
// one damaged byte in either and a 20-byte option asks for gigabytes (a fuzzed checkpoint
// made HDF5 allocate 7.8 GB; tests/fuzz/regressions/hdf5). HDF5 has no call that returns
// an attribute's stored length (H5Dvlen_get_buf_size is for datasets only), so we read it
// through a conversion of our own: variable-length string -> a 4-byte opaque type tagged
// kStoredLengthTag. HDF5 hands a conversion function the stored bytes as they are in the
// file, and ours copies out the length alone, allocating nothing.

constexpr const char* kStoredLengthTag = "alibi: stored length of a variable-length string";

herr_t convert_to_stored_length(hid_t src, hid_t dst, H5T_cdata_t* cdata, size_t nelmts, size_t buf_stride,
                                size_t, void* buf, void*, hid_t) {
  switch (cdata->command) {
    case H5T_CONV_INIT: {  // take only variable-length strings -> our tagged opaque type
      cdata->need_bkg = H5T_BKG_NO;
      if (H5Tis_variable_str(src) <= 0 || H5Tget_size(dst) != sizeof(uint32_t)) return -1;
      char* tag = H5Tget_tag(dst);
      const bool ours = tag != nullptr && std::strcmp(tag, kStoredLengthTag) == 0;
      H5free_memory(tag);
      return ours ? 0 : -1;
    }
    case H5T_CONV_FREE: return 0;
    case H5T_CONV_CONV: {
      // In place, element i's length moves from i * src_size to i * 4 (never forward).
      const size_t src_size = H5Tget_size(src);
      auto* bytes = static_cast<unsigned char*>(buf);
      for (size_t i = 0; i < nelmts; ++i) {
        const unsigned char* s = bytes + i * (buf_stride ? buf_stride : src_size);
        const uint32_t length = uint32_t{s[0]} | uint32_t{s[1]} << 8 | uint32_t{s[2]} << 16 | uint32_t{s[3]} << 24;
        std::memcpy(bytes + i * (buf_stride ? buf_stride : sizeof(uint32_t)), &length, sizeof(length));
      }
      return 0;
    }
    default: return -1;
  }
}

// The opaque type convert_to_stored_length writes; registers that conversion once.
hid_t stored_length_type() {
  static const hid_t type = [] {
    const hid_t t = H5Tcreate(H5T_OPAQUE, sizeof(uint32_t));
    const hid_t vlen = H5Tcopy(H5T_C_S1);
    const bool ok = t >= 0 && vlen >= 0 && H5Tset_tag(t, kStoredLengthTag) >= 0 &&
                    H5Tset_size(vlen, H5T_VARIABLE) >= 0 &&
                    H5Tregister(H5T_PERS_SOFT, "alibi_stored_length", vlen, t, convert_to_stored_length) >= 0;
    if (vlen >= 0) H5Tclose(vlen);
    return ok ? t : H5I_INVALID_HID;
  }();
  return type;
}

}  // namespace

std::string Object::string_attr(const std::string& attr) const {
  std::string problem;
  Hid a = open_scalar_attr(id_, attr, H5T_STRING, H5T_STRING, "a string", problem);
  if (!a.ok()) fail_read(problem.empty() ? "cannot open attribute '" + attr + "'" : problem);
  Hid type(H5Aget_type(a), H5Tclose);
  hsize_t file_bytes = 0;
  if (!file_ || H5Fget_filesize(file_->id, &file_bytes) < 0) fail_read("cannot find the file's size");
  const uint64_t limit = std::min<uint64_t>(kMaxStringAttrBytes, file_bytes);
  const auto check_size = [&](uint64_t bytes, const char* what) {
    if (bytes > limit)
      fail_read("attribute '" + attr + "' claims " + what + " of " + std::to_string(bytes) +
                " bytes, more than " + (limit == file_bytes ? "the whole file" : "any string we write") +
                " (" + std::to_string(limit) + " bytes)");
  };
  const htri_t variable = H5Tis_variable_str(type);
  if (variable > 0) {
    Hid character(H5Tget_super(type), H5Tclose);
    const size_t char_bytes = character.ok() ? H5Tget_size(character) : 0;
    if (char_bytes != 1)
      fail_read("attribute '" + attr + "' has a damaged string type (" + std::to_string(char_bytes) +
                "-byte characters, not 1)");
    uint32_t stored = 0;
    const hid_t length_type = stored_length_type();
    if (length_type < 0 || H5Aread(a, length_type, &stored) < 0)
      fail_read("cannot read the length of attribute '" + attr + "'");
    check_size(stored, "a string");
    Hid mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(type));
    char* p = nullptr;
    if (H5Aread(a, mtype, &p) < 0) fail_read("cannot read attribute '" + attr + "'");
    std::string value = p ? p : "";
    H5free_memory(p);
    return value;
  }
  const size_t n = H5Tget_size(type);
  check_size(n, "a fixed-length string");
  std::string value(n, '\0');
  Hid mtype(H5Tcopy(type), H5Tclose);
  if (n == 0 || H5Aread(a, mtype, value.data()) < 0) fail_read("cannot read attribute '" + attr + "'");
  value.resize(std::strlen(value.c_str()));  // fixed-length strings may be padded with NULs
  return value;
}

int64_t Object::int_attr(const std::string& attr) const {
  std::string problem;
  Hid a = open_scalar_attr(id_, attr, H5T_INTEGER, H5T_INTEGER, "an integer", problem);
  if (!a.ok()) fail_read(problem.empty() ? "cannot open attribute '" + attr + "'" : problem);
  int64_t value = 0;
  if (H5Aread(a, H5T_NATIVE_INT64, &value) < 0) fail_read("cannot read attribute '" + attr + "'");
  return value;
}

double Object::double_attr(const std::string& attr) const {
  std::string problem;
  Hid a = open_scalar_attr(id_, attr, H5T_FLOAT, H5T_INTEGER, "a number", problem);
  if (!a.ok()) fail_read(problem.empty() ? "cannot open attribute '" + attr + "'" : problem);
  double value = 0;
  if (H5Aread(a, H5T_NATIVE_DOUBLE, &value) < 0) fail_read("cannot read attribute '" + attr + "'");
  return value;
}

// ---- Location: groups and datasets -----------------------------------------------------

bool Location::exists(const std::string& path) const {
  // H5Lexists looks at the last component only; walk the path so a missing parent is
  // "no" rather than an error.
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    if (next > pos) {
      const std::string prefix = path.substr(0, next);
      const htri_t e = H5Lexists(id_, prefix.c_str(), H5P_DEFAULT);
      if (e < 0) fail_read("cannot look up " + full_path(prefix));
      if (e == 0) return false;
    }
    pos = next + 1;
  }
  return true;
}

Group Location::group(const std::string& path) const {
  if (!exists(path)) fail_read("no group " + full_path(path));
  const hid_t g = H5Gopen2(id_, path.c_str(), H5P_DEFAULT);
  if (g < 0) fail_read("cannot open group " + full_path(path));
  return Group(file_, g, full_path(path));
}

Group Location::create_group(const std::string& path) const {
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl, 1);
  Hid gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  H5Pset_obj_track_times(gcpl, 0);  // no timestamps: the same content gives the same bytes
  const hid_t g = H5Gcreate2(id_, path.c_str(), lcpl, gcpl, H5P_DEFAULT);
  if (g < 0) fail_write("cannot create group " + full_path(path));
  return Group(file_, g, full_path(path));
}

Dataset Location::dataset(const std::string& path) const {
  if (!exists(path)) fail_read("no dataset " + full_path(path));
  const hid_t d = H5Dopen2(id_, path.c_str(), H5P_DEFAULT);
  if (d < 0) fail_read("cannot open dataset " + full_path(path));
  return Dataset(file_, d, full_path(path));
}

Dataset Location::create_dataset(const std::string& path, DType type, const std::vector<int64_t>& shape,
                                 const DatasetOptions& options) const {
  const std::string name = full_path(path);
  ALIBI_CHECK(!shape.empty(), "create_dataset " << name << ": a dataset needs at least one dimension");
  const int rank = static_cast<int>(shape.size());
  std::vector<hsize_t> dims(shape.begin(), shape.end()), maxdims = dims;
  if (options.extendible) maxdims[0] = H5S_UNLIMITED;

  // Chunk shape: the caller's, or for an extendible or checksummed dataset about 1 MiB
  // of rows (a whole chunk is read to check its checksum, so chunks stay small).
  std::vector<int64_t> chunk = options.chunk;
  if (chunk.empty() && (options.extendible || options.checksum)) {
    int64_t row = 1;
    for (int i = 1; i < rank; ++i) row *= std::max<int64_t>(1, shape[i]);
    chunk = shape;
    chunk[0] = std::max<int64_t>(1, (int64_t{1} << 20) / (row * static_cast<int64_t>(dtype_size(type))));
  }
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  bool chunked = !chunk.empty();
  ALIBI_CHECK(!chunked || static_cast<int>(chunk.size()) == rank,
              "create_dataset " << name << ": chunk has " << chunk.size() << " dimensions, the dataset " << rank);
  std::vector<hsize_t> cdims(rank);
  for (int i = 0; chunked && i < rank; ++i) {
    // HDF5 refuses chunks larger than a fixed dimension; an empty fixed dimension
    // cannot be chunked at all (and then holds no data, so contiguous is as good).
    if (maxdims[i] != H5S_UNLIMITED && maxdims[i] == 0) chunked = options.extendible;
    hsize_t c = static_cast<hsize_t>(std::max<int64_t>(1, chunk[i]));
    if (maxdims[i] != H5S_UNLIMITED && maxdims[i] > 0) c = std::min<hsize_t>(c, maxdims[i]);
    cdims[i] = c;
  }
  if (chunked && H5Pset_chunk(dcpl, rank, cdims.data()) < 0)
    fail_write("cannot set the chunk shape of " + name);
  // (An empty fixed dimension stays contiguous: no data, nothing to check.)
  if (chunked && options.checksum && H5Pset_fletcher32(dcpl) < 0)
    fail_write("cannot add the Fletcher32 checksum filter to " + name);
  // Allocate chunks only when written: an unwritten region reads as zeros.
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_IFSET);
  H5Pset_obj_track_times(dcpl, 0);  // no timestamps: the same content gives the same bytes

  Hid space(H5Screate_simple(rank, dims.data(), maxdims.data()), H5Sclose);
  if (!space.ok()) fail_write("cannot make the dataspace of " + name);
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t d = H5Dcreate2(id_, path.c_str(), file_type(type), space, lcpl, dcpl, H5P_DEFAULT);
  if (d < 0) fail_write("cannot create dataset " + name);
  return Dataset(file_, d, name);
}

namespace {

herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

std::vector<std::string> Location::dataset_paths() const {
  std::vector<std::string> names;  // relative to this location
  if (H5Ovisit(id_, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &names) < 0) fail_read("cannot list the datasets");
  // (insert, not "/" + n: GCC 12 warns -Wrestrict on that chain here)
  for (std::string& n : names) n.insert(0, name_ == "/" ? std::string("/") : name_ + "/");
  return names;
}

// ---- File ---------------------------------------------------------------------------------

File::File(const std::string& path, Access access, const FileOptions& options)
    : Location(std::make_shared<detail::FileContext>(), H5I_INVALID_HID, "/") {
  silence_hdf5();
  file_->path = path;
  file_->damaged_hint = options.damaged_hint;
  file_->parallel = options.comm != MPI_COMM_NULL;

  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // Lock files where the file system can (the default), but carry on where it cannot
  // (some NFS and Lustre mounts) instead of failing every open.
  H5Pset_file_locking(fapl, 1, 1);
  if (file_->parallel && H5Pset_fapl_mpio(fapl, options.comm, options.info) < 0)
    throw IoError(path + ": cannot set up the MPI-IO driver" + hdf5_detail() +
                  "; check that HDF5 is the parallel build");

  if (access == Access::create) {
    const std::string dir = parent_directory(path);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
      throw IoError("cannot create " + path + ": directory " + dir + " does not exist; create it first");
    if (!S_ISDIR(st.st_mode))
      throw IoError("cannot create " + path + ": " + dir + " is not a directory; choose another path");
    file_->id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file_->id < 0)
      throw IoError("cannot create " + path + hdf5_detail() +
                    "; check that the directory is writable and has free space");
  } else {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      const int err = errno;
      if (err == ENOENT) throw IoError(path + " does not exist; " + options.missing_hint);
      throw IoError("cannot open " + path + ": " + std::strerror(err) + "; " + options.missing_hint);
    }
    if (S_ISDIR(st.st_mode)) throw IoError(path + " is a directory, not an HDF5 file; give the file's path");
    if (st.st_size == 0) throw DataError(path + ": the file is empty (0 bytes); " + options.damaged_hint);
    if (::access(path.c_str(), R_OK) != 0)
      throw IoError("cannot read " + path + ": " + std::strerror(errno) + "; check its permissions");
    const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
    if (is_hdf5 == 0) throw DataError(path + ": not an HDF5 file (no HDF5 signature); " + options.damaged_hint);
    const unsigned flags = access == Access::read_only ? H5F_ACC_RDONLY : H5F_ACC_RDWR;
    file_->id = H5Fopen(path.c_str(), flags, fapl);
    if (file_->id < 0) {
      const std::string detail = hdf5_detail();
      const bool truncated = detail.find(" bytes are there)") != std::string::npos;  // see hdf5_detail
      throw DataError(path + (truncated ? ": the HDF5 file is truncated" : ": cannot open as HDF5") +
                      detail + "; " + options.damaged_hint);
    }
  }
  id_ = H5Gopen2(file_->id, "/", H5P_DEFAULT);
  if (id_ < 0) fail_read("cannot open the root group");
}

bool File::parallel() const { return file_ && file_->parallel; }

void File::flush() {
  ALIBI_CHECK(file_ && file_->id >= 0, "flush of a closed HDF5 file");
  if (H5Fflush(file_->id, H5F_SCOPE_LOCAL) < 0) fail_write("cannot flush the file");
}

void File::close() {
  if (!file_) return;
  flush();
  H5Gclose(id_);
  id_ = H5I_INVALID_HID;
  // The file closes with its last object; when that is this handle, check the close.
  if (file_.use_count() == 1 && !file_->close()) {
    const std::string detail = hdf5_detail();
    const std::string path = file_->path;
    file_.reset();
    throw IoError(path + ": cannot close the file" + detail + "; check free space");
  }
  file_.reset();
}

namespace {
bool hdf5_damaged = false;  // see shutdown_is_unsafe
}  // namespace

bool shutdown_is_unsafe() { return hdf5_damaged; }

void File::abandon() noexcept {
  if (!file_) return;
  if (::truncate(file_->path.c_str(), 0) != 0) {
    // Gone already (the directory vanished) or not ours to change: nothing to free.
  }
  if (file_->parallel) {
    id_ = H5I_INVALID_HID;  // leaked on purpose: closing is collective
    file_->id = H5I_INVALID_HID;
    hdf5_damaged = true;
  } else {
    H5Gclose(id_);
    id_ = H5I_INVALID_HID;
    // HDF5 1.10.8: after a failed flush, closing fails too ("slist already enabled?")
    // and leaves the file half-closed; HDF5's shutdown would then crash on it.
    if (!file_->close()) hdf5_damaged = true;
  }
  H5Eclear2(H5E_DEFAULT);
  file_.reset();
}

}  // namespace h5
}  // namespace alibi
