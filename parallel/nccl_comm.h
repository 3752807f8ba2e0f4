// A Communicator for the CUDA path: collectives and messages of device buffers go through
// NCCL on the process stream (cuda_stream()); host buffers go through MPI over the same
// ranks, so one object serves both the model's tensors and its host scalars.
//
//   select_cuda_device(local_rank(MPI_COMM_WORLD));      // first: one GPU per rank
//   NcclCommunicator tp(tp_comm, /*owned=*/true);          // collective over tp_comm
//   tp.all_reduce_sum(x.data<float>(), x.numel());         // device: enqueued, returns at once
//   double loss = tp.sum(local_loss);                      // host scalar: MPI, blocking
//   Request r = dp.iall_reduce_sum(bucket, n, DType::f32);  // device: overlapped (below)
//   ... more kernels ...; r.wait();                        // later kernels see the sum
//
// Where the memory is decides the library (cudaPointerGetAttributes): device or managed
// memory -> NCCL, anything else -> MPI. Every rank must pass the same kind of memory to a
// collective, and both ends of a message must agree; a mismatch hangs, as mismatched MPI
// calls do.
//
// Blocking calls on device memory do not block the host: they are enqueued on
// cuda_stream(), so the kernels enqueued after them see their result by stream order, and
// a host read of the result (copy_bytes, cuda_synchronize) waits for them. A recv into
// device memory "returns" before the data arrives; the data is there for the next kernel.
// barrier() synchronizes the stream and then the hosts.
//
// Non-blocking calls (iall_reduce_sum, ireduce_scatter_sum, iall_gather, isend) run on this communicator's own high-priority
// side stream, after the work already enqueued on cuda_stream(); Request::wait() makes
// cuda_stream() wait for them (cudaStreamWaitEvent) without blocking the host. So the DP
// gradient all-reduce of one bucket overlaps the backward of the next blocks. Until wait(),
// the buffer belongs to the side stream: kernels on cuda_stream() must neither write it nor
// (for iall_reduce_sum) read it, and it must stay allocated.
//
// NCCL communicators are made only where they are used (each costs GPU memory and start-up
// time): a communicator for NcclUse::collectives (tp, dp, embedding) holds one, for
// collectives; one for NcclUse::messages (pp: the pipeline's neighbours) holds two, for
// messages only, and a device collective on it is an error. Messages use two NCCL
// communicators over the same ranks, one per direction (lower to higher rank, higher to
// lower). NCCL connects peers lazily (NCCL_RUNTIME_CONNECT, on by default since 2.22), so a
// stage's message channels reach only the neighbours it talks to. NCCL runs all operations of one communicator in the
// order they were issued, whatever their streams, and a large send waits for its receiver:
// with one communicator, a pipeline stage's isend of activations would block its next recv
// of gradients while the neighbour's isend of gradients blocks its recv of activations, and
// the 1F1B schedule deadlocks (P = 2, M = 2 already). Per direction, sends and receives
// progress independently, as MPI's do.
//
// NCCL has no tags: messages between two ranks match in the order they were issued, so
// both ends must send and receive them in the same order (run_1f1b does); `tag` is unused.
//
// Two NCCL operations on different communicators of one GPU may run at once (the DP
// all-reduce on the side stream beside a TP all-reduce on cuda_stream()). NCCL's guide
// warns that this can hang if their kernels cannot be resident together; NCCL kernels take
// a few SMs each, and Megatron-LM overlaps its DP reduction the same way.
//
// With an enabled watchdog (--timeout-minutes), a thread of the communicator watches every
// NCCL operation it enqueues (an event after each, polled; ncclCommGetAsyncError): one not
// done within the timeout, or an NCCL error, aborts the NCCL communicators (ncclCommAbort)
// and ends the process with the watchdog's line and status 75, as a stuck MPI wait does
// (nccl_comm.cpp, NcclWatch). That line names the operation and the ranks this one waited
// with (for a pair, the rank that never came), not the side channel's answers.
//
// A communicator of one rank needs no NCCL: its collectives are the identity (a device
// all_gather is a copy) and its messages an error. So a CUDA build without NCCL (nccl.h not
// found at configure time: ALIBI_WITH_NCCL undefined) still trains on one GPU; a
// communicator of more ranks is then a DeviceError naming the fix.
#pragma once

#include <mpi.h>

#include <memory>

#include "parallel/comm.h"

namespace alibi {

// What a communicator's device buffers are for (see above): which NCCL communicators it makes.
enum class NcclUse { collectives, messages };

class NcclCommunicator : public Communicator {
 public:
  // Collective over `comm`: rank 0 makes the NCCL ids and broadcasts them over MPI; every
  // rank initialises on its current CUDA device (select it first). Frees `comm` on
  // destruction when `owned`. Throws DeviceError in a build without CUDA or NCCL (more than
  // one rank) or where NCCL fails. `dog` and `name`: the watchdog of the host path's waits
  // (MpiCommunicator) and of the NCCL operations (above).
  explicit NcclCommunicator(MPI_Comm comm, bool owned = false, std::shared_ptr<Watchdog> dog = nullptr,
                            const char* name = "world", NcclUse use = NcclUse::collectives);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
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
  MPI_Comm mpi_comm() const override { return host_.mpi_comm(); }
  // The typed overloads (all_reduce_sum(float*, n), ...), which the overrides would hide.
  using Communicator::all_reduce_max;
  using Communicator::all_reduce_sum;
  using Communicator::broadcast;
  using Communicator::recv;
  using Communicator::send;

 private:
  struct Nccl;  // NCCL communicators, side stream and event (nccl_comm.cpp)
  MpiCommunicator host_;
  std::unique_ptr<Nccl> nccl_;
};

// This rank's index among the ranks of its node (MPI_COMM_TYPE_SHARED), to pick its GPU:
// select_cuda_device(local_rank(MPI_COMM_WORLD)). Collective over `world`.
int local_rank(MPI_Comm world);

}  // namespace alibi
