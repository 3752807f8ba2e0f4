// The HDF5 wrapper's datasets: shape, element type, and hyperslab transfers (collective
// when the file is parallel).
#include <sstream>

#include "runtime/error.h"
#include "runtime/h5.h"
#include "runtime/h5_internal.h"

namespace alibi::h5 {

namespace {

std::string range_str(const std::vector<int64_t>& offset, const std::vector<int64_t>& count) {
  std::ostringstream os;  // (a chain of string + here trips a GCC 12 -Wrestrict false positive)
  for (size_t i = 0; i < offset.size() && i < count.size(); ++i)
    os << (i ? ", [" : "[") << offset[i] << ", " << offset[i] + count[i] << ")";
  return os.str();
}

}  // namespace

std::vector<int64_t> Dataset::shape() const {
  Hid space(H5Dget_space(id_), H5Sclose);
  const int rank = space.ok() ? H5Sget_simple_extent_ndims(space) : -1;
  if (rank < 0) fail_read("cannot read the dataset's shape");
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

int64_t Dataset::rows() const {
  const std::vector<int64_t> s = shape();
  return s.empty() ? 1 : s[0];
}

int64_t Dataset::size() const {
  int64_t n = 1;
  for (int64_t d : shape()) n *= d;
  return n;
}

DType Dataset::dtype() const {
  Hid type(H5Dget_type(id_), H5Tclose);
  if (!type.ok()) fail_read("cannot read the dataset's type");
  const size_t bytes = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      if (bytes == 4) return DType::f32;
      if (bytes == 8) return DType::f64;
      break;
    case H5T_INTEGER: {
      const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
      if (is_signed && bytes == 4) return DType::i32;
      if (is_signed && bytes == 8) return DType::i64;
      if (!is_signed && bytes == 2) return DType::u16;
      if (!is_signed && bytes == 4) return DType::u32;
      break;
    }
    default: break;
  }
  fail_read("element type is not one of float32, float64, int32, int64, uint16, uint32");
}

bool Dataset::checksummed() const {
  Hid dcpl(H5Dget_create_plist(id_), H5Pclose);
  if (!dcpl.ok()) fail_read("cannot read the dataset's creation properties");
  unsigned flags = 0, config = 0;
  size_t nvalues = 0;
  char fname[16];
  const bool found = H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &nvalues, nullptr, sizeof fname,
                                         fname, &config) >= 0;
  if (!found) H5Eclear2(H5E_DEFAULT);  // "not found" is an answer, not an error for later
  return found;
}

void Dataset::transfer(bool write, const std::vector<int64_t>& offset, const std::vector<int64_t>& count,
                       DType mtype, void* buffer) const {
  const std::vector<int64_t> dims = shape();
  auto fail = [&](const std::string& what) {
    if (write) fail_write(what);
    fail_read(what);
  };
  auto range = [&] { return range_str(offset, count); };
  if (offset.size() != dims.size() || count.size() != dims.size())
    fail("hyperslab " + range() + " has " + std::to_string(offset.size()) + " dimensions, the dataset " +
         std::to_string(dims.size()));
  int64_t n = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (offset[i] < 0 || count[i] < 0 || offset[i] + count[i] > dims[i])
      fail("hyperslab " + range() + " lies outside the dataset's extent along dimension " + std::to_string(i) +
           " (" + std::to_string(dims[i]) + ")");
    n *= count[i];
  }
  // Parallel HDF5 writes filtered chunks collectively only (see h5.h).
  const bool collective = file_->parallel && (collective_ || (write && checksummed()));
  if (n == 0 && !collective) return;

  Hid fspace(H5Dget_space(id_), H5Sclose);
  const std::vector<hsize_t> start(offset.begin(), offset.end()), cnt(count.begin(), count.end());
  hsize_t one = 1;
  Hid mspace(n == 0 ? H5Screate_simple(1, &one, nullptr)
                    : H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr),
             H5Sclose);
  if (!fspace.ok() || !mspace.ok()) fail("cannot make the dataspaces for " + range());
  if (n == 0) {
    H5Sselect_none(fspace);
    H5Sselect_none(mspace);
  } else if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr) < 0) {
    fail("cannot select " + range());
  }
  Hid dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  if (collective) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  const herr_t status = write ? H5Dwrite(id_, memory_type(mtype), mspace, fspace, dxpl, buffer)
                              : H5Dread(id_, memory_type(mtype), mspace, fspace, dxpl, buffer);
  if (status < 0) fail(std::string(write ? "cannot write " : "cannot read ") + range());
}

void Dataset::read_all(DType mtype, void* out) const {
  const std::vector<int64_t> dims = shape();
  transfer(false, std::vector<int64_t>(dims.size(), 0), dims, mtype, out);
}

void Dataset::write_all(DType mtype, const void* data) {
  const std::vector<int64_t> dims = shape();
  transfer(true, std::vector<int64_t>(dims.size(), 0), dims, mtype, const_cast<void*>(data));
}

void Dataset::read_rows(int64_t row0, int64_t n, DType mtype, void* out) const {
  std::vector<int64_t> count = shape(), offset(count.size(), 0);
  ALIBI_CHECK(!count.empty(), "read_rows on a scalar dataset " << name_);
  offset[0] = row0;
  count[0] = n;
  transfer(false, offset, count, mtype, out);
}

void Dataset::write_rows(int64_t row0, int64_t n, DType mtype, const void* data) {
  std::vector<int64_t> count = shape(), offset(count.size(), 0);
  ALIBI_CHECK(!count.empty(), "write_rows on a scalar dataset " << name_);
  offset[0] = row0;
  count[0] = n;
  transfer(true, offset, count, mtype, const_cast<void*>(data));
}

void Dataset::read_slab(const std::vector<int64_t>& offset, const std::vector<int64_t>& count, DType mtype,
                        void* out) const {
  transfer(false, offset, count, mtype, out);
}

void Dataset::write_slab(const std::vector<int64_t>& offset, const std::vector<int64_t>& count, DType mtype,
                         const void* data) {
  transfer(true, offset, count, mtype, const_cast<void*>(data));
}

void Dataset::resize(int64_t rows) {
  std::vector<int64_t> dims = shape();
  ALIBI_CHECK(!dims.empty() && rows >= 0, "resize of " << name_ << " to " << rows << " rows");
  dims[0] = rows;
  const std::vector<hsize_t> d(dims.begin(), dims.end());
  if (H5Dset_extent(id_, d.data()) < 0)
    fail_write("cannot resize to " + std::to_string(rows) + " rows (is the dataset extendible?)");
}

void Dataset::append_rows(int64_t n, DType mtype, const void* data) {
  const int64_t row0 = rows();
  resize(row0 + n);
  write_rows(row0, n, mtype, data);
}

}  // namespace alibi::h5
