// NCCL-backed communicator (device memory) with MPI for host memory; see nccl_comm.h.
// Without ALIBI_WITH_CUDA only local_rank works: constructing a communicator says why not.
#include "parallel/nccl_comm.h"

#include "runtime/device.h"
#include "runtime/error.h"

#ifdef ALIBI_WITH_CUDA
#include <cuda_runtime.h>
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

}  // namespace

// ---- the NCCL state -----------------------------------------------------------------------

struct NcclCommunicator::Nccl {
  ncclComm_t coll = nullptr;    // collectives
  ncclComm_t up = nullptr;      // messages from a lower to a higher rank
  ncclComm_t down = nullptr;    // messages from a higher to a lower rank
  cudaStream_t side = nullptr;  // non-blocking operations, high priority
  cudaEvent_t ready = nullptr;  // recorded on the compute stream before each of them

  // Never throws: errors here have nowhere to go. ncclCommDestroy finalizes first (waits
  // for the communicator's operations); a stream or event still in use is freed once idle.
  ~Nccl() {
    for (ncclComm_t c : {up, down, coll}) {
      if (c) ncclCommDestroy(c);
    }
    if (ready) cudaEventDestroy(ready);
    if (side) cudaStreamDestroy(side);
  }

  // The communicator carrying a message from rank `from` to rank `to` (see the header).
  ncclComm_t channel(int from, int to) const {
    ALIBI_CHECK(coll != nullptr, "message on a single-process communicator");
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
};

NcclCommunicator::NcclCommunicator(MPI_Comm comm, bool owned, std::shared_ptr<Watchdog> dog, const char* name)
    : host_(comm, owned, std::move(dog), name), nccl_(std::make_unique<Nccl>()) {
  if (size() == 1) return;  // collectives are the identity: no NCCL (see the header)
  require_cuda_device("an NCCL communicator");
  ncclUniqueId id{};
  if (rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm), "MPI_Bcast");
  check_nccl(ncclCommInitRank(&nccl_->coll, size(), id, rank()), "ncclCommInitRank",
             "each rank needs a GPU of its own: launch at most as many ranks per node as it has GPUs, each "
             "after select_cuda_device(local_rank(...)); NCCL_DEBUG=WARN tells more");
  check_nccl(ncclCommSplit(nccl_->coll, 0, rank(), &nccl_->up, nullptr), "ncclCommSplit");
  check_nccl(ncclCommSplit(nccl_->coll, 0, rank(), &nccl_->down, nullptr), "ncclCommSplit");
  int least = 0, greatest = 0;
  check_cuda(cudaDeviceGetStreamPriorityRange(&least, &greatest), "cudaDeviceGetStreamPriorityRange");
  check_cuda(cudaStreamCreateWithPriority(&nccl_->side, cudaStreamNonBlocking, greatest), "cudaStreamCreateWithPriority");
  check_cuda(cudaEventCreateWithFlags(&nccl_->ready, cudaEventDisableTiming), "cudaEventCreateWithFlags");
}

NcclCommunicator::~NcclCommunicator() = default;

// ---- collectives --------------------------------------------------------------------------

void NcclCommunicator::all_reduce_sum(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.all_reduce_sum(data, n, dtype);
  if (size() == 1) return;
  check_nccl(ncclAllReduce(data, data, count_of(n), nccl_type(dtype), ncclSum, nccl_->coll, compute_stream()),
             "ncclAllReduce");
}

void NcclCommunicator::all_reduce_max(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.all_reduce_max(data, n, dtype);
  if (size() == 1) return;
  check_nccl(ncclAllReduce(data, data, count_of(n), nccl_type(dtype), ncclMax, nccl_->coll, compute_stream()),
             "ncclAllReduce");
}

Request NcclCommunicator::iall_reduce_sum(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.iall_reduce_sum(data, n, dtype);
  if (size() == 1) return Request();
  const ncclDataType_t type = nccl_type(dtype);
  return nccl_->on_side([&](cudaStream_t side) {
    check_nccl(ncclAllReduce(data, data, count_of(n), type, ncclSum, nccl_->coll, side), "ncclAllReduce");
  });
}

// In place as NCCL defines it: the reduce-scatter's output and the all-gather's input are
// this rank's slice of the one buffer.
Request NcclCommunicator::ireduce_scatter_sum(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.ireduce_scatter_sum(data, n, dtype);
  if (size() == 1) return Request();
  const ncclDataType_t type = nccl_type(dtype);
  char* mine = static_cast<char*>(data) + static_cast<size_t>(rank()) * count_of(n) * dtype_size(dtype);
  return nccl_->on_side([&](cudaStream_t side) {
    check_nccl(ncclReduceScatter(data, mine, count_of(n), type, ncclSum, nccl_->coll, side), "ncclReduceScatter");
  });
}

Request NcclCommunicator::iall_gather(void* data, int64_t n, DType dtype) const {
  if (!on_device(data)) return host_.iall_gather(data, n, dtype);
  if (size() == 1) return Request();
  const ncclDataType_t type = nccl_type(dtype);
  const char* mine = static_cast<const char*>(data) + static_cast<size_t>(rank()) * count_of(n) * dtype_size(dtype);
  return nccl_->on_side([&](cudaStream_t side) {
    check_nccl(ncclAllGather(mine, data, count_of(n), type, nccl_->coll, side), "ncclAllGather");
  });
}

void NcclCommunicator::all_gather(const void* in, void* out, int64_t n, DType dtype) const {
  const bool device_in = on_device(in), device_out = on_device(out);
  ALIBI_CHECK_AS(DeviceError, device_in == device_out,
                 "all_gather from " << (device_in ? "device" : "host") << " memory into "
                                    << (device_out ? "device" : "host") << " memory: put both on the same side");
  if (!device_out) return host_.all_gather(in, out, n, dtype);
  if (size() == 1) {
    if (in != out) {
      check_cuda(cudaMemcpyAsync(out, in, count_of(n) * dtype_size(dtype), cudaMemcpyDeviceToDevice, compute_stream()),
                 "cudaMemcpyAsync");
    }
    return;
  }
  check_nccl(ncclAllGather(in, out, count_of(n), nccl_type(dtype), nccl_->coll, compute_stream()), "ncclAllGather");
}

void NcclCommunicator::broadcast(void* data, int64_t n, DType dtype, int root) const {
  if (!on_device(data)) return host_.broadcast(data, n, dtype, root);
  if (size() == 1) return;
  check_nccl(ncclBroadcast(data, data, count_of(n), nccl_type(dtype), root, nccl_->coll, compute_stream()),
             "ncclBroadcast");
}

void NcclCommunicator::barrier() const {
  cuda_synchronize();
  host_.barrier();
}

// ---- messages -----------------------------------------------------------------------------

void NcclCommunicator::send(const void* data, int64_t n, DType dtype, int dest, int tag) const {
  if (!on_device(data)) return host_.send(data, n, dtype, dest, tag);
  check_nccl(ncclSend(data, count_of(n), nccl_type(dtype), dest, nccl_->channel(rank(), dest), compute_stream()),
             "ncclSend");
}

void NcclCommunicator::recv(void* data, int64_t n, DType dtype, int source, int tag) const {
  if (!on_device(data)) return host_.recv(data, n, dtype, source, tag);
  check_nccl(ncclRecv(data, count_of(n), nccl_type(dtype), source, nccl_->channel(source, rank()), compute_stream()),
             "ncclRecv");
}

Request NcclCommunicator::isend(const void* data, int64_t n, DType dtype, int dest, int tag) const {
  if (!on_device(data)) return host_.isend(data, n, dtype, dest, tag);
  const ncclDataType_t type = nccl_type(dtype);
  const ncclComm_t comm = nccl_->channel(rank(), dest);
  return nccl_->on_side([&](cudaStream_t side) {
    check_nccl(ncclSend(data, count_of(n), type, dest, comm, side), "ncclSend");
  });
}

#else  // CPU-only build: no device memory exists, so every call would go to MPI anyway.

struct NcclCommunicator::Nccl {};

NcclCommunicator::NcclCommunicator(MPI_Comm comm, bool owned, std::shared_ptr<Watchdog> dog, const char* name)
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
