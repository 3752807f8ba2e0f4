// Private to runtime/h5*.cpp: the pieces the HDF5 wrapper's source files share (an id
// closed on scope exit, the element types, and the file every object of a File shares).
#pragma once

#include <hdf5.h>

#include <string>

#include "runtime/h5.h"

namespace alibi::h5 {

// A temporary HDF5 id (dataspace, type, property list, attribute) closed on scope exit.
class Hid {
 public:
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() {
    if (id_ >= 0) close_(id_);
  }
  operator hid_t() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

inline hid_t file_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_IEEE_F32LE;
    case DType::f64: return H5T_IEEE_F64LE;
    case DType::i32: return H5T_STD_I32LE;
    case DType::i64: return H5T_STD_I64LE;
    case DType::u16: return H5T_STD_U16LE;
    case DType::u32: return H5T_STD_U32LE;
  }
  return H5I_INVALID_HID;
}

inline hid_t memory_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::u16: return H5T_NATIVE_UINT16;
    case DType::u32: return H5T_NATIVE_UINT32;
  }
  return H5I_INVALID_HID;
}

namespace detail {

struct FileContext {
  std::string path;
  hid_t id = H5I_INVALID_HID;
  bool parallel = false;
  std::string damaged_hint;

  // Closes the file; false if HDF5 could not write what it held.
  bool close() {
    if (id < 0) return true;
    // Invalid if HDF5 already shut down (MPI_Finalize ends it): nothing left to close.
    if (H5Iis_valid(id) <= 0) return true;
    const herr_t status = H5Fclose(id);
    id = H5I_INVALID_HID;
    return status >= 0;
  }
  ~FileContext() { close(); }
};

}  // namespace detail
}  // namespace alibi::h5
