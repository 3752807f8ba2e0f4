// MPI-backed and single-process communicators.
#include "parallel/comm.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <limits>

#include "runtime/error.h"

namespace alibi {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    case DType::u16: return MPI_UINT16_T;
    case DType::u32: return MPI_UINT32_T;
  }
  return MPI_DATATYPE_NULL;
}

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw Error(ErrorKind::internal, std::string(call) + " failed: " + std::string(text, len));
}


static int count_of(int64_t n) {
  ALIBI_CHECK(n >= 0 && n <= std::numeric_limits<int>::max(),
              "message of " << n << " elements exceeds MPI's int count; split it");
  return static_cast<int>(n);
}

std::vector<std::string> Communicator::all_gather_strings(const std::string& mine) const {
  const int n = size();
  std::vector<int64_t> lengths(n);
  const int64_t length = static_cast<int64_t>(mine.size());
  all_gather(&length, lengths.data(), 1, DType::i64);
  std::vector<int> counts(n), displs(n);
  int total = 0;
  for (int r = 0; r < n; ++r) {
    counts[r] = count_of(lengths[r]);
    displs[r] = total;
    total += counts[r];
  }
  std::string all(static_cast<size_t>(total), '\0');
  check_mpi(MPI_Allgatherv(mine.data(), count_of(length), MPI_CHAR, all.data(), counts.data(), displs.data(),
                           MPI_CHAR, mpi_comm()),
            "MPI_Allgatherv");
  std::vector<std::string> out;
  for (int r = 0; r < n; ++r) out.push_back(all.substr(static_cast<size_t>(displs[r]), static_cast<size_t>(counts[r])));
  return out;
}

void Request::wait_mpi() {
  if (dog_) {
    dog_->wait(&request_, site_);
  } else if (request_ != MPI_REQUEST_NULL) {
    check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
  }
}

void Request::complete_quietly() noexcept {
  try {
    wait_mpi();
  } catch (...) {
  }
  if (pending_) {
    // A destructor must not throw; a failed CUDA call shows again at the next checked one.
    try {
      pending_->wait();
    } catch (...) {
    }
    pending_.reset();
  }
}

Request& Request::operator=(Request&& o) noexcept {
  if (this != &o) {
    complete_quietly();
    request_ = o.request_;
    o.request_ = MPI_REQUEST_NULL;
    pending_ = std::move(o.pending_);
    dog_ = o.dog_;
    site_ = o.site_;
  }
  return *this;
}

Request::~Request() { complete_quietly(); }

void Request::wait() {
  wait_mpi();
  if (pending_) {
    pending_->wait();
    pending_.reset();
  }
}

bool Request::done() {
  if (pending_) return pending_->done();
  if (request_ == MPI_REQUEST_NULL) return true;
  int flag = 0;
  check_mpi(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE), "MPI_Test");
  return flag != 0;
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, bool owned, std::shared_ptr<Watchdog> dog, const char* name)
    : comm_(comm), owned_(owned), dog_(std::move(dog)), name_(name) {
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owned_ && !finalized) MPI_Comm_free(&comm_);
}

template <class Blocking, class Start>
void MpiCommunicator::run(const char* call, const char* op, int peer, Blocking blocking, Start start) const {
  if (!watched()) return check_mpi(blocking(), call);
  MPI_Request r;
  check_mpi(start(&r), call);
  dog_->wait(&r, site(op, peer));
}

void MpiCommunicator::all_reduce_sum(void* data, int64_t n, DType dtype) const {
  if (size_ == 1) return;
  const int count = count_of(n);
  run("MPI_Allreduce", "all-reduce", -1,
      [&] { return MPI_Allreduce(MPI_IN_PLACE, data, count, mpi_type(dtype), MPI_SUM, comm_); },
      [&](MPI_Request* r) { return MPI_Iallreduce(MPI_IN_PLACE, data, count, mpi_type(dtype), MPI_SUM, comm_, r); });
}

void MpiCommunicator::all_reduce_max(void* data, int64_t n, DType dtype) const {
  if (size_ == 1) return;
  const int count = count_of(n);
  run("MPI_Allreduce", "all-reduce", -1,
      [&] { return MPI_Allreduce(MPI_IN_PLACE, data, count, mpi_type(dtype), MPI_MAX, comm_); },
      [&](MPI_Request* r) { return MPI_Iallreduce(MPI_IN_PLACE, data, count, mpi_type(dtype), MPI_MAX, comm_, r); });
}

Request MpiCommunicator::iall_reduce_sum(void* data, int64_t n, DType dtype) const {
  if (size_ == 1) return Request();
  MPI_Request r;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, data, count_of(n), mpi_type(dtype), MPI_SUM, comm_, &r), "MPI_Iallreduce");
  if (watched()) return Request(r, dog_.get(), site("all-reduce"));
  return Request(r);
}

namespace {

// MPI_Ireduce_scatter_block in place leaves the rank's sum at the start of the buffer;
// ireduce_scatter_sum promises it at the rank's own slice (NCCL's in-place layout), so the
// completion moves it there.
class ScatteredToOwnSlice final : public Request::Pending {
 public:
  ScatteredToOwnSlice(MPI_Request r, char* data, size_t slice_bytes, int rank)
      : request_(r), data_(data), bytes_(slice_bytes), rank_(rank) {}
  ~ScatteredToOwnSlice() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  void wait() override {
    if (request_ == MPI_REQUEST_NULL) return;
    check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
    if (rank_ > 0) std::memmove(data_ + rank_ * bytes_, data_, bytes_);
  }
  bool done() override {
    if (request_ == MPI_REQUEST_NULL) return true;
    int flag = 0;
    check_mpi(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag && rank_ > 0) std::memmove(data_ + rank_ * bytes_, data_, bytes_);
    return flag != 0;
  }

 private:
  MPI_Request request_;
  char* data_;
  size_t bytes_;
  int rank_;
};

}  // namespace

Request MpiCommunicator::ireduce_scatter_sum(void* data, int64_t n, DType dtype) const {
  if (size_ == 1) return Request();
  MPI_Request r;
  check_mpi(MPI_Ireduce_scatter_block(MPI_IN_PLACE, data, count_of(n), mpi_type(dtype), MPI_SUM, comm_, &r),
            "MPI_Ireduce_scatter_block");
  return Request(std::make_unique<ScatteredToOwnSlice>(r, static_cast<char*>(data),
                                                       static_cast<size_t>(n) * dtype_size(dtype), rank_));
}

Request MpiCommunicator::iall_gather(void* data, int64_t n, DType dtype) const {
  if (size_ == 1) return Request();
  MPI_Request r;
  check_mpi(MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, count_of(n), mpi_type(dtype), comm_, &r),
            "MPI_Iallgather");
  return Request(r);
}

void MpiCommunicator::all_gather(const void* in, void* out, int64_t n, DType dtype) const {
  const int count = count_of(n);
  const MPI_Datatype type = mpi_type(dtype);
  run("MPI_Allgather", "all-gather", -1, [&] { return MPI_Allgather(in, count, type, out, count, type, comm_); },
      [&](MPI_Request* r) { return MPI_Iallgather(in, count, type, out, count, type, comm_, r); });
}

void MpiCommunicator::broadcast(void* data, int64_t n, DType dtype, int root) const {
  if (size_ == 1) return;
  const int count = count_of(n);
  run("MPI_Bcast", "broadcast", -1, [&] { return MPI_Bcast(data, count, mpi_type(dtype), root, comm_); },
      [&](MPI_Request* r) { return MPI_Ibcast(data, count, mpi_type(dtype), root, comm_, r); });
}

void MpiCommunicator::send(const void* data, int64_t n, DType dtype, int dest, int tag) const {
  const int count = count_of(n);
  run("MPI_Send", "send", dest, [&] { return MPI_Send(data, count, mpi_type(dtype), dest, tag, comm_); },
      [&](MPI_Request* r) { return MPI_Isend(data, count, mpi_type(dtype), dest, tag, comm_, r); });
}

void MpiCommunicator::recv(void* data, int64_t n, DType dtype, int source, int tag) const {
  const int count = count_of(n);
  run("MPI_Recv", "recv", source,
      [&] { return MPI_Recv(data, count, mpi_type(dtype), source, tag, comm_, MPI_STATUS_IGNORE); },
      [&](MPI_Request* r) { return MPI_Irecv(data, count, mpi_type(dtype), source, tag, comm_, r); });
}

Request MpiCommunicator::isend(const void* data, int64_t n, DType dtype, int dest, int tag) const {
  MPI_Request r;
  check_mpi(MPI_Isend(data, count_of(n), mpi_type(dtype), dest, tag, comm_, &r), "MPI_Isend");
  if (watched()) return Request(r, dog_.get(), site("send", dest));
  return Request(r);
}

void MpiCommunicator::barrier() const {
  run("MPI_Barrier", "barrier", -1, [&] { return MPI_Barrier(comm_); },
      [&](MPI_Request* r) { return MPI_Ibarrier(comm_, r); });
}

void SelfCommunicator::all_gather(const void* in, void* out, int64_t n, DType dtype) const {
  std::memcpy(out, in, static_cast<size_t>(n) * dtype_size(dtype));
}

void SelfCommunicator::send(const void*, int64_t, DType, int, int) const {
  ALIBI_CHECK(false, "send on a single-process communicator");
}

Request SelfCommunicator::isend(const void*, int64_t, DType, int, int) const {
  ALIBI_CHECK(false, "isend on a single-process communicator");
  return Request();
}

void SelfCommunicator::recv(void*, int64_t, DType, int, int) const {
  ALIBI_CHECK(false, "recv on a single-process communicator");
}

bool stdout_is_interactive() {
  return isatty(STDOUT_FILENO) && std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr &&
         std::getenv("SLURM_JOB_ID") == nullptr;
}

}  // namespace alibi
