// Names of error kinds, for the one line `alibi` prints on failure.
#include "runtime/error.h"

namespace alibi {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::internal: return "internal error";
    case ErrorKind::config: return "config error";
    case ErrorKind::data: return "data error";
    case ErrorKind::io: return "I/O error";
    case ErrorKind::shape: return "shape error";
    case ErrorKind::device: return "device error";
  }
  return "error";
}

}  // namespace alibi
