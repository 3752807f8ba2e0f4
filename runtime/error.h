// Typed errors that carry a hint. Every check in alibi-train goes through ALIBI_CHECK
// (or a typed variant); checks stay on in release builds. The top level of `alibi`
// prints the message once, with rank and host, and ends the job with a non-zero exit.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace alibi {

enum class ErrorKind { internal, config, data, io, shape, device };

// The exit status of a failure the job can be requeued after once its cause is fixed: a
// full, read-only or vanished checkpoint directory, a rank that stopped answering (the
// watchdog). sysexits.h's EX_TEMPFAIL. The sbatch scripts in launch/slurm hold such a job
// in the queue (scontrol requeuehold) instead of ending it as failed or done.
constexpr int kExitRequeue = 75;

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  // The process's exit status: 1, or kExitRequeue for a failure worth a requeue.
  int exit_code() const { return exit_code_; }
  void set_exit_code(int code) { exit_code_ = code; }

 private:
  ErrorKind kind_;
  int exit_code_ = 1;
};

// An invalid option, flag or config value; the message names the option and the fix.
struct ConfigError : Error {
  explicit ConfigError(const std::string& m) : Error(ErrorKind::config, m) {}
};
// Bad or unreadable input data (corpus, checkpoint contents); names the file and field.
struct DataError : Error {
  explicit DataError(const std::string& m) : Error(ErrorKind::data, m) {}
};
// The file system refused (missing, unwritable, full).
struct IoError : Error {
  explicit IoError(const std::string& m) : Error(ErrorKind::io, m) {}
};
// A tensor of the wrong shape reached a kernel or layer boundary.
struct ShapeError : Error {
  explicit ShapeError(const std::string& m) : Error(ErrorKind::shape, m) {}
};

// A device (CUDA) is missing or failed.
struct DeviceError : Error {
  explicit DeviceError(const std::string& m) : Error(ErrorKind::device, m) {}
};

}  // namespace alibi

// ALIBI_CHECK_AS(ConfigError, n > 0, "--seq-len must be >= 1 (got " << n << ")");
// The message is a stream expression, built only when the check fails.
#define ALIBI_CHECK_AS(ErrorType, cond, msg)          \
  do {                                                \
    if (!(cond)) {                                    \
      std::ostringstream alibi_check_os_;             \
      alibi_check_os_ << msg;                         \
      throw ::alibi::ErrorType(alibi_check_os_.str()); \
    }                                                 \
  } while (0)

// An internal invariant; the message says what was expected.
#define ALIBI_CHECK(cond, msg)                                                        \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::ostringstream alibi_check_os_;                                             \
      alibi_check_os_ << msg << " [" << __FILE__ << ":" << __LINE__ << "]";           \
      throw ::alibi::Error(::alibi::ErrorKind::internal, alibi_check_os_.str());      \
    }                                                                                 \
  } while (0)
