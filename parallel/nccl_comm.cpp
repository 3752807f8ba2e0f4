// NCCL-backed communicator (device memory) with MPI for host memory; see nccl_comm.h.
// Without ALIBI_WITH_CUDA only local_rank works: constructing a communicator says why not;
// with CUDA but without ALIBI_WITH_NCCL, communicators of one rank work (one GPU).
#include "parallel/nccl_comm.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/device.h"
#include "runtime/error.h"

#ifdef ALIBI_WITH_CUDA
#include <cuda_runtime.h>
#endif
#ifdef ALIBI_WITH_NCCL
#include <nccl.h>
#endif

namespace alibi {

int local_rank(MPI_Comm world) {
  int rank = 0, local = 0;
  check_mpi(MPI_Comm_rank(world, &rank), "MPI_Comm_rank");
  MPI_Comm node;
  check_mpi(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  const int code = MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  check_mpi(code, "MPI_Comm_rank");
  return local;
}

#ifdef ALIBI_WITH_CUDA

// ---- checks and conversions ---------------------------------------------------------------

namespace {

void check_cuda(cudaError_t code, const char* call) {
  ALIBI_CHECK_AS(DeviceError, code == cudaSuccess, call << " failed: " << cudaGetErrorString(code));
}

size_t count_of(int64_t n) {
  ALIBI_CHECK(n >= 0, "negative element count " << n);
  return static_cast<size_t>(n);
}

cudaStream_t compute_stream() { return static_cast<cudaStream_t>(cuda_stream()); }

// Device or managed memory goes to NCCL; host memory (pageable or pinned) to MPI.
bool on_device(const void* ptr) {
  if (ptr == nullptr) return false;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();  // not a pointer CUDA knows: host memory
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

}  // namespace

#ifdef ALIBI_WITH_NCCL

namespace {

void check_nccl(ncclResult_t code, const char* call, const char* hint = "rerun with NCCL_DEBUG=WARN for NCCL's reason") {
  ALIBI_CHECK_AS(DeviceError, code == ncclSuccess, call << " failed: " << ncclGetErrorString(code) << "; " << hint);
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
    case DType::u32: return ncclUint32;
    case DType::u16: break;
  }
  ALIBI_CHECK_AS(DeviceError, false,
                 "NCCL has no " << dtype_name(dtype) << " type: widen the tensor to i32/u32, or keep it on the host (MPI)");
  return ncclFloat32;
}

// A new NCCL communicator over the ranks of `comm` (collective): rank 0's id goes over MPI.
ncclComm_t init_nccl(MPI_Comm comm, int rank, int size) {
  ncclUniqueId id{};
  if (rank == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm), "MPI_Bcast");
  ncclComm_t created = nullptr;
  check_nccl(ncclCommInitRank(&created, size, id, rank), "ncclCommInitRank",
             "each rank needs a GPU of its own: launch at most as many ranks per node as it has GPUs, each "
             "after select_cuda_device(local_rank(...)); NCCL_DEBUG=WARN tells more");
  return created;
}

// A side-stream operation as a Request: an event recorded after it; wait() makes the compute
// stream wait for the event (the host never blocks), done() asks whether it has passed.
class SideStreamDone final : public Request::Pending {
 public:
  SideStreamDone(cudaStream_t side, cudaStream_t waiter) : waiter_(waiter) {
    check_cuda(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    const cudaError_t code = cudaEventRecord(event_, side);
    if (code != cudaSuccess) cudaEventDestroy(event_);
    check_cuda(code, "cudaEventRecord");
  }
  ~SideStreamDone() override { cudaEventDestroy(event_); }  // safe while the event is pending
  void wait() override { check_cuda(cudaStreamWaitEvent(waiter_, event_, 0), "cudaStreamWaitEvent"); }
  bool done() override {
    const cudaError_t code = cudaEventQuery(event_);
    if (code == cudaErrorNotReady) return false;
    check_cuda(code, "cudaEventQuery");
    return true;
  }

 private:
  cudaEvent_t event_ = nullptr;
  cudaStream_t waiter_;
};

// ---- the watchdog over NCCL's device operations ---------------------------------------------
//
// An NCCL operation is enqueued, not waited on: when a peer never joins it, this rank waits
// inside the GPU, and its host blocks at the next synchronisation, where the MPI watchdog
// cannot see. So (as PyTorch's ProcessGroupNCCL does) a thread per communicator watches each operation
// from before its NCCL call (the first message on a channel, and newer NCCL's collectives,
// connect lazily and block the host inside the call until the peer comes) to the event
// recorded after it, polling the oldest unfinished one with cudaEventQuery and the NCCL
// communicators with ncclCommGetAsyncError. Past the timeout, or on an NCCL error, it ends
// the process with the watchdog's line (Watchdog::end_process: printed first, then
// ncclCommAbort so the kernels return, bounded; MPI is not called from this thread, and
// the launcher ends the other ranks): status kExitRequeue for a peer that never came or a
// network error, 1 for a CUDA error or NCCL's own (invalid usage, internal), which a
// requeue would repeat. The waited time counts from the call, which leads the GPU by
// milliseconds to seconds: nothing beside a timeout of minutes.
class NcclWatch {
 public:
  // `comm`: the MPI twin of the NCCL communicators (to name their ranks in the world).
  NcclWatch(std::shared_ptr<Watchdog> dog, const char* name, MPI_Comm comm, std::vector<ncclComm_t> nccl)
      : dog_(std::move(dog)), name_(name), nccl_(std::move(nccl)) {
    check_cuda(cudaGetDevice(&device_), "cudaGetDevice");
    MPI_Group group, world_group;  // the line names ranks of the world, as the watchdog's do
    check_mpi(MPI_Comm_group(comm, &group), "MPI_Comm_group");
    check_mpi(MPI_Comm_group(MPI_COMM_WORLD, &world_group), "MPI_Comm_group");
    int n = 0, me = 0;
    check_mpi(MPI_Group_size(group, &n), "MPI_Group_size");
    check_mpi(MPI_Comm_rank(comm, &me), "MPI_Comm_rank");
    std::vector<int> local(n);
    for (int i = 0; i < n; ++i) local[i] = i;
    world_ranks_.resize(n);
    check_mpi(MPI_Group_translate_ranks(group, n, local.data(), world_group, world_ranks_.data()),
              "MPI_Group_translate_ranks");
    MPI_Group_free(&group);
    MPI_Group_free(&world_group);
    my_local_ = me;
    thread_ = std::thread([this] { run(); });
  }

  ~NcclWatch() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
    for (const Pending& p : pending_)
      if (p.event) cudaEventDestroy(p.event);
  }

  // Runs `call` (main thread), which enqueues `op` on `stream`, watched from before the
  // call to the event recorded after it. `peer`: the other end of a message (a rank of
  // this communicator), -1 for a collective.
  template <class Call>
  void watch(const char* op, int peer, cudaStream_t stream, Call call) {
    uint64_t seq = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seq = ++seq_;
      pending_.push_back({nullptr, Clock::now(), op, peer, seq});
    }
    cudaEvent_t event = nullptr;
    try {
      call();
      check_cuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
      check_cuda(cudaEventRecord(event, stream), "cudaEventRecord");
    } catch (...) {  // nothing was enqueued, or nothing to wait for: not pending
      if (event) cudaEventDestroy(event);
      std::lock_guard<std::mutex> lock(mutex_);
      std::erase_if(pending_, [seq](const Pending& p) { return p.seq == seq; });
      throw;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (Pending& p : pending_)
      if (p.seq == seq) p.event = event;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    cudaEvent_t event;  // null while the host is inside the NCCL call
    Clock::time_point enqueued;
    const char* op;
    int peer;
    uint64_t seq;
  };

  void run() {
    cudaSetDevice(device_);  // the current device is per thread
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      while (!pending_.empty() && pending_.front().event) {
        const cudaError_t code = cudaEventQuery(pending_.front().event);
        if (code == cudaErrorNotReady) break;
        if (code != cudaSuccess)  // a sticky error (an illegal address, a lost device): this rank's own
          fail(&pending_.front(), std::string("CUDA reported: ") + cudaGetErrorString(code), 1);
        cudaEventDestroy(pending_.front().event);
        pending_.pop_front();
      }
      for (ncclComm_t c : nccl_) {
        ncclResult_t state = ncclSuccess;
        if (ncclCommGetAsyncError(c, &state) == ncclSuccess && state != ncclSuccess && state != ncclInProgress) {
          // A network or peer failure may pass once the node is fixed; the rest is ours.
          const bool transient = state == ncclRemoteError || state == ncclSystemError;
          fail(pending_.empty() ? nullptr : &pending_.front(), std::string("NCCL reported: ") + ncclGetErrorString(state),
               transient ? kExitRequeue : 1);
        }
      }
      if (!pending_.empty()) {
        const double waited = std::chrono::duration<double>(Clock::now() - pending_.front().enqueued).count();
        if (waited > dog_->timeout_s()) fail(&pending_.front(), "", kExitRequeue);
      }
      // A timeout of minutes needs no finer poll; the lock is free for watch() between polls.
      wake_.wait_for(lock, std::chrono::milliseconds(50));
    }
  }

  // The line, ncclCommAbort (bounded), the end of this process with `status`.
  [[noreturn]] void fail(const Pending* p, const std::string& error, int status) {
    std::string op = std::string(name_) + " " + (p ? p->op : "operation");
    if (p && p->peer >= 0) op += std::string(" ") + name_ + " rank " + std::to_string(p->peer);
    op += " (NCCL" + (p ? ", operation " + std::to_string(p->seq) : std::string()) + ")";
    // Without a side channel (no MPI here) this rank knows who it waits with, not who is
    // late: in a pair (every message, and any group of two) that is the other one.
    std::vector<int> others;
    if (p && p->peer >= 0) {
      others.push_back(world_ranks_[p->peer]);
    } else {
      for (int i = 0; i < static_cast<int>(world_ranks_.size()); ++i)
        if (i != my_local_) others.push_back(world_ranks_[i]);
    }
    std::string who = others.size() == 1 ? "rank " : "one or more of ranks ";
    for (size_t i = 0; i < others.size(); ++i) who += (i ? ", " : "") + std::to_string(others[i]);
    who += error.empty() ? " (never joined the NCCL operation: stopped, lost or still computing) never arrived"
                         : " (" + error + ")";
    const double waited = p ? std::chrono::duration<double>(Clock::now() - p->enqueued).count() : 0.0;
    dog_->end_process(op, waited, who, status, [this] {
      for (ncclComm_t c : nccl_) ncclCommAbort(c);
    });
  }

  std::shared_ptr<Watchdog> dog_;
  const char* name_;
  std::vector<ncclComm_t> nccl_;
  std::vector<int> world_ranks_;  // of this communicator's ranks
  int my_local_ = 0;
  int device_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;
  uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace

// ---- the NCCL state -----------------------------------------------------------------------

struct NcclCommunicator::Nccl {
  ncclComm_t coll = nullptr;    // collectives (NcclUse::collectives only)
  ncclComm_t up = nullptr;      // messages from a lower to a higher rank (NcclUse::messages only)
  ncclComm_t down = nullptr;    // messages from a higher to a lower rank (NcclUse::messages only)
  cudaStream_t side = nullptr;  // non-blocking operations, high priority
  cudaEvent_t ready = nullptr;  // recorded on the compute stream before each of them
  std::unique_ptr<NcclWatch> watch;  // with an enabled watchdog

  Nccl(MPI_Comm comm, int rank, int size, NcclUse use, const std::shared_ptr<Watchdog>& dog, const char* name) {
    if (use == NcclUse::collectives) {
      coll = init_nccl(comm, rank, size);
    } else {
      up = init_nccl(comm, rank, size);
      down = init_nccl(comm, rank, size);
    }
    if (dog && dog->enabled()) {
      std::vector<ncclComm_t> all;
      for (ncclComm_t c : {coll, up, down})
        if (c) all.push_back(c);
      watch = std::make_unique<NcclWatch>(dog, name, comm, all);
    }
    int least = 0, greatest = 0;
    check_cuda(cudaDeviceGetStreamPriorityRange(&least, &greatest), "cudaDeviceGetStreamPriorityRange");
    check_cuda(cudaStreamCreateWithPriority(&side, cudaStreamNonBlocking, greatest), "cudaStreamCreateWithPriority");
    check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreateWithFlags");
  }
  Nccl() = default;  // a communicator of one rank

  // Never throws: errors here have nowhere to go. ncclCommDestroy finalizes first (waits
  // for the communicator's operations); a stream or event still in use is freed once idle.
  // While an exception unwinds (this rank failed; main reports it and MPI_Abort ends the
  // job) an operation may still wait for a peer, and destroying would wait with it, past
  // any watchdog: abort instead, as PyTorch's NCCLComm does.
  ~Nccl() {
    watch.reset();  // its thread first: it polls the communicators
    const bool failing = std::uncaught_exceptions() > 0;
    for (ncclComm_t c : {up, down, coll}) {
      if (c) failing ? ncclCommAbort(c) : ncclCommDestroy(c);
    }
    if (ready) cudaEventDestroy(ready);
    if (side) cudaStreamDestroy(side);
  }

  ncclComm_t collectives() const {
    ALIBI_CHECK(coll != nullptr, "a device collective on a communicator made for messages (NcclUse::messages, the "
                                 "pipeline's): make it with NcclUse::collectives");
    return coll;
  }

  // The communicator carrying a message from rank `from` to rank `to` (see the header).
  ncclComm_t channel(int from, int to) const {
    ALIBI_CHECK(up != nullptr, "NCCL message on a single-process communicator or one made for collectives: make "
                               "it with NcclUse::messages");
    ALIBI_CHECK(from != to, "NCCL message from rank " << from << " to itself");
    return from < to ? up : down;
  }

  // Enqueues an operation on the side stream after the work already on the compute stream.
  template <class Enqueue>
  Request on_side(Enqueue enqueue) const {
    const cudaStream_t compute = compute_stream();
    check_cuda(cudaEventRecord(ready, compute), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(side, ready, 0), "cudaStreamWaitEvent");  // waits for this record only
    enqueue(side);
    return Request(std::make_unique<SideStreamDone>(side, compute));
  }

  // Runs `call`, the NCCL call that enqueues `op` on `stream`, watched by the watchdog's
  // thread (when there is one) from before the call to its completion on the device.
  template <class Call>
  void watched(const char* op, int peer, cudaStream_t stream, Call call) const {
    if (watch) return watch->watch(op, peer, stream, call);
    call();
  }

  void all_reduce(void* data, int64_t n, DType dtype, ncclRedOp_t op) const {
    watched("all-reduce", -1, compute_stream(), [&] {
      check_nccl(ncclAllReduce(data, data, count_of(n), nccl_type(dtype), op, collectives(), compute_stream()),
                 "ncclAllReduce");
    });
  }
  Request iall_reduce_sum(void* data, int64_t n, DType dtype) const {
    const ncclDataType_t type = nccl_type(dtype);
    const ncclComm_t comm = collectives();
    return on_side([&](cudaStream_t s) {
      watched("all-reduce", -1, s, [&] {
        check_nccl(ncclAllReduce(data, data, count_of(n), type, ncclSum, comm, s), "ncclAllReduce");
      });
    });
  }
  // In place as NCCL defines it: the reduce-scatter's output and the all-gather's input are
  // rank `me`'s slice of the one buffer of size() x n elements.
  Request ireduce_scatter_sum(void* data, int64_t n, DType dtype, int me) const {
    const ncclDataType_t type = nccl_type(dtype);
    const ncclComm_t comm = collectives();
    char* mine = static_cast<char*>(data) + static_cast<size_t>(me) * count_of(n) * dtype_size(dtype);
    return on_side([&](cudaStream_t s) {
      watched("reduce-scatter", -1, s, [&] {
        check_nccl(ncclReduceScatter(data, mine, count_of(n), type, ncclSum, comm, s), "ncclReduceScatter");
      });
    });
  }
  Request iall_gather(void* data, int64_t n, DType dtype, int me) const {
    const ncclDataType_t type = nccl_type(dtype);
    const ncclComm_t comm = collectives();
    const char* mine = static_cast<const char*>(data) + static_cast<size_t>(me) * count_of(n) * dtype_size(dtype);
    return on_side([&](cudaStream_t s) {
      watched("all-gather", -1, s, [&] {
        check_nccl(ncclAllGather(mine, data, count_of(n), type, comm, s), "ncclAllGather");
      });
    });
  }
  void all_gather(const void* in, void* out, int64_t n, DType dtype) const {
    watched("all-gather", -1, compute_stream(), [&] {
      check_nccl(ncclAllGather(in, out, count_of(n), nccl_type(dtype), collectives(), compute_stream()), "ncclAllGather");
    });
  }
  void broadcast(void* data, int64_t n, DType dtype, int root) const {
    watched("broadcast", -1, compute_stream(), [&] {
      check_nccl(ncclBroadcast(data, data, count_of(n), nccl_type(dtype), root, collectives(), compute_stream()),
                 "ncclBroadcast");
    });
  }
  void send(const void* data, int64_t n, DType dtype, int me, int dest) const {
    watched("send to", dest, compute_stream(), [&] {
      check_nccl(ncclSend(data, count_of(n), nccl_type(dtype), dest, channel(me, dest), compute_stream()), "ncclSend");
    });
  }
  void recv(void* data, int64_t n, DType dtype, int source, int me) const {
    watched("recv from", source, compute_stream(), [&] {
      check_nccl(ncclRecv(data, count_of(n), nccl_type(dtype), source, channel(source, me), compute_stream()), "ncclRecv");
    });
  }
  Request isend(const void* data, int64_t n, DType dtype, int me, int dest) const {
    const ncclDataType_t type = nccl_type(dtype);
    const ncclComm_t comm = channel(me, dest);
    return on_side([&](cudaStream_t s) {
      watched("send to", dest, s, [&] {
        check_nccl(ncclSend(data, count_of(n), type, dest, comm, s), "ncclSend");
      });
    });
  }
};

NcclCommunicator::NcclCommunicator(MPI_Comm comm, bool owned, std::shared_ptr<Watchdog> dog, const char* name,
                                   NcclUse use)
    : host_(comm, owned, dog, name) {
  if (size() == 1) {  // collectives are the identity: no NCCL (see the header)
    nccl_ = std::make_unique<Nccl>();
    return;
  }
  require_cuda_device("an NCCL communicator");
  nccl_ = std::make_unique<Nccl>(comm, rank(), size(), use, dog, name);
}

#else  // CUDA without NCCL: one rank per communicator, so no device operation reaches NCCL.

namespace {
[[noreturn]] void no_nccl() {
  ALIBI_CHECK_AS(DeviceError, false,
                 "this build has CUDA but no NCCL (nccl.h was not found when it was configured), so device tensors "
                 "cannot be shared between ranks: run one process (--tp 1 --pp 1, no mpirun), or install NCCL and "
                 "rebuild");
  throw;  // not reached
}
}  // namespace

// The calls of the NCCL build's Nccl, each unreachable (the constructor refused size > 1).
struct NcclCommunicator::Nccl {
  template <class... A>
  void all_reduce(A&&...) const { no_nccl(); }
  template <class... A>
  Request iall_reduce_sum(A&&...) const { no_nccl(); }
  template <class... A>
  Request ireduce_scatter_sum(A&&...) const { no_nccl(); }
  template <class... A>
  Request iall_gather(A&&...) const { no_nccl(); }
  template <class... A>
  void all_gather(A&&...) const { no_nccl(); }
  template <class... A>
  void broadcast(A&&...) const { no_nccl(); }
  template <class... A>
  void send(A&&...) const { no_nccl(); }
  template <class... A>
  void recv(A&&...) const { no_nccl(); }
  template <class... A>
  Request isend(A&&...) const { no_nccl(); }
};
constexpr int ncclSum = 0, ncclMax = 1;

NcclCommunicator::NcclCommunicator(MPI_Comm comm, bool owned, std::shared_ptr<Watchdog> dog, const char* name, NcclUse)
    : host_(comm, owned, std::move(dog), name), nccl_(std::make_unique<Nccl>()) {
  if (size() > 1) no_nccl();
}

#endif  // ALIBI_WITH_NCCL

NcclCommunicator::~NcclCommunicator() = default;

// ---- collectives --------------------------------------------------------------------------

void NcclCommunicator::all_reduce_sum(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.all_reduce_sum(data, n, dtype);
  if (size() > 1) nccl_->all_reduce(data, n, dtype, ncclSum);
}

void NcclCommunicator::all_reduce_max(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.all_reduce_max(data, n, dtype);
  if (size() > 1) nccl_->all_reduce(data, n, dtype, ncclMax);
}

Request NcclCommunicator::iall_reduce_sum(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.iall_reduce_sum(data, n, dtype);
  if (size() == 1) return Request();
  return nccl_->iall_reduce_sum(data, n, dtype);
}

Request NcclCommunicator::ireduce_scatter_sum(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.ireduce_scatter_sum(data, n, dtype);
  if (size() == 1) return Request();
  return nccl_->ireduce_scatter_sum(data, n, dtype, rank());
}

Request NcclCommunicator::iall_gather(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.iall_gather(data, n, dtype);
  if (size() == 1) return Request();
  return nccl_->iall_gather(data, n, dtype, rank());
}

void NcclCommunicator::all_gather(const void* in, void* out, int64_t n, DType dtype) const {
  const bool device_in = on_device(in), device_out = on_device(out);
  ALIBI_CHECK_AS(DeviceError, device_in == device_out,
                 "all_gather from " << (device_in ? "device" : "host") << " memory into "
                                    << (device_out ? "device" : "host") << " memory: put both on the same side");
  if (!device_out) return host_.all_gather(in, out, n, dtype);
  if (size() > 1) return nccl_->all_gather(in, out, n, dtype);
  if (in != out) {
    check_cuda(cudaMemcpyAsync(out, in, count_of(n) * dtype_size(dtype), cudaMemcpyDeviceToDevice, compute_stream()),
               "cudaMemcpyAsync");
  }
}

void NcclCommunicator::broadcast(void* data, int64_t n, DType dtype, int root) const {
  if (!on_device(data)) return host_.broadcast(data, n, dtype, root);
  if (size() > 1) nccl_->broadcast(data, n, dtype, root);
}

void NcclCommunicator::barrier() const {
  cuda_synchronize();
  host_.barrier();
}

// ---- messages -----------------------------------------------------------------------------

void NcclCommunicator::send(const void* data, int64_t n, DType dtype, int dest, int tag) const {
  if (!on_device(data)) return host_.send(data, n, dtype, dest, tag);
  nccl_->send(data, n, dtype, rank(), dest);
}

void NcclCommunicator::recv(void* data, int64_t n, DType dtype, int source, int tag) const {
  if (!on_device(data)) return host_.recv(data, n, dtype, source, tag);
  nccl_->recv(data, n, dtype, source, rank());
}

Request NcclCommunicator::isend(const void* data, int64_t n, DType dtype, int dest, int tag) const {
  if (!on_device(data)) return host_.isend(data, n, dtype, dest, tag);
  return nccl_->isend(data, n, dtype, rank(), dest);
}

#else  // CPU-only build: no device memory exists, so every call would go to MPI anyway.

struct NcclCommunicator::Nccl {};

NcclCommunicator::NcclCommunicator(MPI_Comm comm, bool owned, std::shared_ptr<Watchdog> dog, const char* name, NcclUse)
    : host_(comm, owned, std::move(dog), name) {
  ALIBI_CHECK_AS(DeviceError, false,
                 "this build has no CUDA backend (nvcc was not found when it was configured), so no NCCL "
                 "communicator: run with --device cpu, or rebuild with the CUDA toolkit installed");
}

NcclCommunicator::~NcclCommunicator() = default;

void NcclCommunicator::all_reduce_sum(void* data, int64_t n, DType dtype) const { host_.all_reduce_sum(data, n, dtype); }
void NcclCommunicator::all_reduce_max(void* data, int64_t n, DType dtype) const { host_.all_reduce_max(data, n, dtype); }
Request NcclCommunicator::iall_reduce_sum(void* data, int64_t n, DType dtype) const {
  return host_.iall_reduce_sum(data, n, dtype);
}
Request NcclCommunicator::ireduce_scatter_sum(void* data, int64_t n, DType dtype) const {
  return host_.ireduce_scatter_sum(data, n, dtype);
}
Request NcclCommunicator::iall_gather(void* data, int64_t n, DType dtype) const {
  return host_.iall_gather(data, n, dtype);
}
void NcclCommunicator::all_gather(const void* in, void* out, int64_t n, DType dtype) const {
  host_.all_gather(in, out, n, dtype);
}
void NcclCommunicator::broadcast(void* data, int64_t n, DType dtype, int root) const {
  host_.broadcast(data, n, dtype, root);
}
void NcclCommunicator::barrier() const { host_.barrier(); }
void NcclCommunicator::send(const void* data, int64_t n, DType dtype, int dest, int tag) const {
  host_.send(data, n, dtype, dest, tag);
}
void NcclCommunicator::recv(void* data, int64_t n, DType dtype, int source, int tag) const {
  host_.recv(data, n, dtype, source, tag);
}
Request NcclCommunicator::isend(const void* data, int64_t n, DType dtype, int dest, int tag) const {
  return host_.isend(data, n, dtype, dest, tag);
}

#endif

}  // namespace alibi
