// A small RAII wrapper over the HDF5 C API, shared by the corpus (data/) and the
// checkpoints (parallel/). Handles close themselves; every failed HDF5 call becomes a
// typed error with one line that names the file, the object and the likely fix:
// DataError when reading, IoError when creating or writing. HDF5's own error-stack
// printing is switched off; its most specific message is folded into ours instead.
//
//   h5::File f("corpus.h5.tmp", h5::Access::create);
//   h5::Dataset d = f.create_dataset("train/tokens", DType::u16, {0}, {.chunk = {1 << 20}, .extendible = true});
//   d.append_rows<uint16_t>(n, tokens);                 // grows the leading dimension
//   f.set_int_attr("format_version", 1);
//   f.close();                                          // flushes; IoError if it could not
//   atomic_rename("corpus.h5.tmp", "corpus.h5");
//
//   h5::File r("corpus.h5", h5::Access::read_only, {.missing_hint = "make one with alibi preprocess"});
//   std::vector<int32_t> w(T + 1);
//   r.dataset("train/tokens").read_rows(k * T, T + 1, w.data());   // uint16 on disk -> int32
//
// Parallel files: give FileOptions::comm (not MPI_COMM_NULL) to open with the MPI-IO
// driver; opening, creating objects, attributes and resizing are then collective over
// that communicator (HDF5's rule). Reads and writes are independent unless
// Dataset::set_collective(true), in which case every rank calls each transfer (a rank
// with nothing to move passes an empty range). Writes to a checksummed dataset (the
// default) are always collective in a parallel file: HDF5 filters a chunk on one rank.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"  // DType, dtype_of<T>

namespace alibi {

// rename(2) `tmp` over `final` (atomic on one file system); IoError naming both on failure.
void atomic_rename(const std::string& tmp, const std::string& final);

// The temporary name a writer uses before atomic_rename: "<final>.tmp", in the same
// directory (so the rename stays on one file system) and the same on every rank (so a
// parallel writer agrees on it without talking).
std::string temporary_path(const std::string& final);

// Removes `path` if it exists; never throws (cleanup after a failed write).
void remove_file_quietly(const std::string& path) noexcept;

namespace h5 {

enum class Access {
  create,      // create, truncating any file already there
  read_only,   // open an existing file
  read_write,  // open an existing file for changes
};

struct FileOptions {
  MPI_Comm comm = MPI_COMM_NULL;  // MPI_COMM_NULL: serial sec2 driver; else MPI-IO, collective
  MPI_Info info = MPI_INFO_NULL;  // hints for the MPI-IO driver
  // Appended to "... does not exist": e.g. "make one with alibi preprocess".
  std::string missing_hint = "check the path";
  // Appended to errors about the contents: e.g. "re-run alibi preprocess".
  std::string damaged_hint = "the file is damaged or truncated; write it again";
};

struct DatasetOptions {
  std::vector<int64_t> chunk;  // chunk shape; empty: about 1 MiB of rows (contiguous if !checksum)
  bool extendible = false;     // leading dimension may grow (resize, append_rows); chunked
  // A Fletcher32 checksum on every chunk (HDF5's filter), checked by HDF5 on every read:
  // a damaged byte is a DataError naming the file and the dataset ("checksum mismatch").
  // Needs chunked layout; in a parallel file every write to it is collective (below).
  bool checksum = true;
};

namespace detail {
struct FileContext;  // shared by a file and everything opened from it
}

class Group;
class Dataset;

// True once File::abandon could not close a file (or let a parallel one go): HDF5's own
// shutdown (at MPI_Finalize or exit) would crash on it, so the program must end with
// std::_Exit (serial) or MPI_Abort (parallel) instead.
bool shutdown_is_unsafe();

// Something that carries attributes: a file (its root group), a group or a dataset.
class Object {
 public:
  Object(Object&&) noexcept;
  Object& operator=(Object&&) noexcept;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  ~Object();
  // Adopts an open group or dataset id (closed on destruction); used by the wrapper.
  Object(std::shared_ptr<detail::FileContext> file, hid_t id, std::string name);

  hid_t id() const { return id_; }
  const std::string& file_path() const;
  const std::string& name() const { return name_; }  // path inside the file, e.g. "/train/tokens"

  bool has_attr(const std::string& attr) const;
  std::vector<std::string> attr_names() const;  // in name order
  // Writing replaces an attribute of the same name. Strings are variable-length UTF-8.
  void set_string_attr(const std::string& attr, const std::string& value);
  void set_int_attr(const std::string& attr, int64_t value);
  void set_double_attr(const std::string& attr, double value);
  // Reading a missing attribute, or one of another kind, is a DataError naming the file,
  // the object and the attribute.
  std::string string_attr(const std::string& attr) const;
  int64_t int_attr(const std::string& attr) const;
  double double_attr(const std::string& attr) const;

 protected:
  [[noreturn]] void fail_read(const std::string& what) const;   // DataError
  [[noreturn]] void fail_write(const std::string& what) const;  // IoError
  std::string full_path(const std::string& path) const;         // relative -> absolute
  void close_handle() noexcept;

  std::shared_ptr<detail::FileContext> file_;
  hid_t id_ = H5I_INVALID_HID;
  std::string name_;
};

// A file or a group: holds groups and datasets. Paths are relative to this location
// or absolute ("/train/tokens").
class Location : public Object {
 public:
  using Object::Object;
  bool exists(const std::string& path) const;      // every component must exist
  Group group(const std::string& path) const;      // DataError when missing
  Group create_group(const std::string& path) const;  // missing parents are made
  Dataset dataset(const std::string& path) const;  // DataError when missing
  Dataset create_dataset(const std::string& path, DType type, const std::vector<int64_t>& shape,
                         const DatasetOptions& options = {}) const;
  // Every dataset below this location, absolute paths in name order ("/model/wte.weight").
  std::vector<std::string> dataset_paths() const;
};

class File : public Location {
 public:
  File(const std::string& path, Access access, const FileOptions& options = {});
  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  ~File() = default;  // closes quietly; call close() to learn about write failures

  bool parallel() const;  // opened with the MPI-IO driver
  void flush();           // IoError if buffered data cannot be written
  // Flushes and releases this handle; the file closes when the last object opened from
  // it is gone. IoError if the data could not be written (disk full, ...).
  void close();
  // After a failed write, for a file that is going anyway: truncates it to 0 bytes (so a
  // full disk has room for HDF5's last metadata writes; HDF5 1.10 leaves a file whose
  // close failed half-closed, and MPI_Finalize then crashes closing it again), then closes
  // it. A parallel file is let go without its collective close (the other ranks may be
  // anywhere; the caller ends the job with MPI_Abort). Never throws.
  void abandon() noexcept;
};

class Group : public Location {
 public:
  using Location::Location;
};

class Dataset : public Object {
 public:
  using Object::Object;

  std::vector<int64_t> shape() const;
  int64_t rows() const;  // shape()[0] (1 for a scalar)
  int64_t size() const;  // number of elements
  DType dtype() const;   // the stored element type (DataError if not one of DType)
  bool checksummed() const;  // has the Fletcher32 filter (files written before it have not)

  // Transfers take the memory type; HDF5 converts from/to the stored type
  // (e.g. uint16 on disk read into int32).
  void read_all(DType memory_type, void* out) const;
  void write_all(DType memory_type, const void* data);
  // Rows [row0, row0 + n) of the leading dimension (elements, for a 1-D dataset).
  void read_rows(int64_t row0, int64_t n, DType memory_type, void* out) const;
  void write_rows(int64_t row0, int64_t n, DType memory_type, const void* data);
  // A general hyperslab: [offset[i], offset[i] + count[i]) along each dimension.
  void read_slab(const std::vector<int64_t>& offset, const std::vector<int64_t>& count,
                 DType memory_type, void* out) const;
  void write_slab(const std::vector<int64_t>& offset, const std::vector<int64_t>& count,
                  DType memory_type, const void* data);
  // Extendible datasets only: set the leading dimension; append = resize + write_rows.
  void resize(int64_t rows);
  void append_rows(int64_t n, DType memory_type, const void* data);

  // Parallel files: make reads and writes collective (every rank calls every transfer).
  void set_collective(bool collective) { collective_ = collective; }

  template <class T> void read_all(T* out) const { read_all(dtype_of<T>(), out); }
  template <class T> std::vector<T> read_all() const {
    std::vector<T> v(static_cast<size_t>(size()));
    read_all(dtype_of<T>(), v.data());
    return v;
  }
  template <class T> void write_all(const T* data) { write_all(dtype_of<T>(), data); }
  template <class T> void write_all(const std::vector<T>& data) { write_all(dtype_of<T>(), data.data()); }
  template <class T> void read_rows(int64_t row0, int64_t n, T* out) const {
    read_rows(row0, n, dtype_of<T>(), out);
  }
  template <class T> void write_rows(int64_t row0, int64_t n, const T* data) {
    write_rows(row0, n, dtype_of<T>(), data);
  }
  template <class T> void append_rows(int64_t n, const T* data) { append_rows(n, dtype_of<T>(), data); }

 private:
  void transfer(bool write, const std::vector<int64_t>& offset, const std::vector<int64_t>& count,
                DType memory_type, void* buffer) const;
  bool collective_ = false;
};

}  // namespace h5
}  // namespace alibi
