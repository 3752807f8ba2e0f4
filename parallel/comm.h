// Communicators: the collectives and point-to-point messages the parallel layouts need,
// behind one interface so layers never see MPI or NCCL (NcclCommunicator, nccl_comm.h).
//
//   const Communicator& tp = grid.tp();
//   tp.all_reduce_sum(x.data<float>(), x.numel());        // every rank gets the sum
//   Request r = dp.iall_reduce_sum(bucket, n);             // non-blocking; r.wait() later
//
// A SelfCommunicator (size 1: every collective is the identity) lets layers and their
// tests run without any other process.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parallel/watchdog.h"
#include "runtime/tensor.h"

namespace alibi {

// A pending non-blocking operation; wait() completes it (and is called by the destructor).
// It is an MPI request, or a backend's own completion (a Pending: NCCL's is a CUDA event,
// and its wait() orders the compute stream after the operation; see nccl_comm.h).
class Request {
 public:
  struct Pending {
    virtual ~Pending() = default;
    virtual void wait() = 0;
    virtual bool done() = 0;
  };

  Request() = default;
  explicit Request(MPI_Request r) : request_(r) {}
  // An MPI request that wait() completes under the watchdog (which must outlive it).
  Request(MPI_Request r, Watchdog* dog, const WaitSite& site) : request_(r), dog_(dog), site_(site) {}
  explicit Request(std::unique_ptr<Pending> pending) : pending_(std::move(pending)) {}
  Request(Request&& o) noexcept
      : request_(o.request_), pending_(std::move(o.pending_)), dog_(o.dog_), site_(o.site_) {
    o.request_ = MPI_REQUEST_NULL;
  }
  Request& operator=(Request&& o) noexcept;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();
  void wait();
  bool done();  // true once complete (tests without blocking)

 private:
  void complete_quietly() noexcept;  // wait() for destructors: never throws
  void wait_mpi();
  MPI_Request request_ = MPI_REQUEST_NULL;
  std::unique_ptr<Pending> pending_;
  Watchdog* dog_ = nullptr;
  WaitSite site_;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place: every rank ends with the elementwise sum (max) over ranks.
  virtual void all_reduce_sum(void* data, int64_t n, DType dtype) const = 0;
  virtual void all_reduce_max(void* data, int64_t n, DType dtype) const = 0;
  virtual Request iall_reduce_sum(void* data, int64_t n, DType dtype) const = 0;
  // ZeRO-1's pair, in place on `data` of size() * n elements cut in size() slices of n.
  // ireduce_scatter_sum: on completion this rank's slice (data + rank() * n) holds the sum
  // over ranks of their slices rank(); the other slices are undefined.
  // iall_gather: each rank's input is its own slice; on completion every slice holds its
  // rank's. Both non-blocking like iall_reduce_sum (the buffer is the operation's until wait()).
  virtual Request ireduce_scatter_sum(void* data, int64_t n, DType dtype) const = 0;
  virtual Request iall_gather(void* data, int64_t n, DType dtype) const = 0;
  // Concatenation of every rank's `n` elements, in rank order, into out (size * n).
  virtual void all_gather(const void* in, void* out, int64_t n, DType dtype) const = 0;
  virtual void broadcast(void* data, int64_t n, DType dtype, int root) const = 0;
  virtual void send(const void* data, int64_t n, DType dtype, int dest, int tag) const = 0;
  virtual void recv(void* data, int64_t n, DType dtype, int source, int tag) const = 0;
  // Non-blocking send; `data` must stay valid until the request completes.
  virtual Request isend(const void* data, int64_t n, DType dtype, int dest, int tag) const = 0;
  virtual void barrier() const = 0;
  // The MPI communicator behind this one (MPI_COMM_SELF for a SelfCommunicator), for
  // collective file I/O.
  virtual MPI_Comm mpi_comm() const = 0;

  template <class T> void all_reduce_sum(T* data, int64_t n) const { all_reduce_sum(data, n, dtype_of<T>()); }
  template <class T> void all_reduce_max(T* data, int64_t n) const { all_reduce_max(data, n, dtype_of<T>()); }
  template <class T> void broadcast(T* data, int64_t n, int root) const { broadcast(data, n, dtype_of<T>(), root); }
  template <class T> void send(const T* data, int64_t n, int dest, int tag) const { send(data, n, dtype_of<T>(), dest, tag); }
  template <class T> void recv(T* data, int64_t n, int source, int tag) const { recv(data, n, dtype_of<T>(), source, tag); }
  // Every rank's string, in rank order.
  std::vector<std::string> all_gather_strings(const std::string& mine) const;
  double sum(double x) const { all_reduce_sum(&x, 1, DType::f64); return x; }
  double max(double x) const { all_reduce_max(&x, 1, DType::f64); return x; }
};

// An MPI communicator it owns (freed on destruction) or borrows (MPI_COMM_WORLD/SELF).
// Given an enabled watchdog, every operation is made non-blocking and completed under it
// (watchdog.h); `name` is how the watchdog's line calls this communicator.
class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm, bool owned = false, std::shared_ptr<Watchdog> dog = nullptr,
                           const char* name = "world");
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(void* data, int64_t n, DType dtype) const override;
  void all_reduce_max(void* data, int64_t n, DType dtype) const override;
  Request iall_reduce_sum(void* data, int64_t n, DType dtype) const override;
  Request ireduce_scatter_sum(void* data, int64_t n, DType dtype) const override;
  Request iall_gather(void* data, int64_t n, DType dtype) const override;
  void all_gather(const void* in, void* out, int64_t n, DType dtype) const override;
  void broadcast(void* data, int64_t n, DType dtype, int root) const override;
  void send(const void* data, int64_t n, DType dtype, int dest, int tag) const override;
  void recv(void* data, int64_t n, DType dtype, int source, int tag) const override;
  Request isend(const void* data, int64_t n, DType dtype, int dest, int tag) const override;
  void barrier() const override;
  MPI_Comm mpi_comm() const override { return comm_; }

 private:
  bool watched() const { return dog_ && dog_->enabled(); }
  WaitSite site(const char* op, int peer = -1) const {
    return WaitSite{name_, op, peer < 0 ? ++seq_ : ++messages_, peer, comm_};
  }
  // Runs a blocking MPI call, or under the watchdog its non-blocking form and a polled wait.
  template <class Blocking, class Start>
  void run(const char* call, const char* op, int peer, Blocking blocking, Start start) const;

  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0, size_ = 1;
  std::shared_ptr<Watchdog> dog_;
  const char* name_;
  mutable uint64_t seq_ = 0;       // collectives so far (watched only): the same on every member
  mutable uint64_t messages_ = 0;  // sends and receives so far (watched only)
};

// One process: collectives are the identity; point-to-point is an error.
class SelfCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_sum(void*, int64_t, DType) const override {}
  void all_reduce_max(void*, int64_t, DType) const override {}
  Request iall_reduce_sum(void*, int64_t, DType) const override { return Request(); }
  Request ireduce_scatter_sum(void*, int64_t, DType) const override { return Request(); }
  Request iall_gather(void*, int64_t, DType) const override { return Request(); }
  void all_gather(const void* in, void* out, int64_t n, DType dtype) const override;
  void broadcast(void*, int64_t, DType, int) const override {}
  void send(const void*, int64_t, DType, int, int) const override;
  void recv(void*, int64_t, DType, int, int) const override;
  Request isend(const void*, int64_t, DType, int, int) const override;
  void barrier() const override {}
  MPI_Comm mpi_comm() const override { return MPI_COMM_SELF; }
};

MPI_Datatype mpi_type(DType dtype);

// Throws alibi::Error naming the MPI call and MPI's message for a failed return code.
void check_mpi(int code, const char* call);

// Whether standard output is a person watching (for progress bars and terminal niceties): a
// terminal, and neither a rank under mpirun (Open MPI gives its ranks a pseudo-terminal even
// when its own output goes to a log) nor a SLURM job (read as a log).
bool stdout_is_interactive();

}  // namespace alibi
