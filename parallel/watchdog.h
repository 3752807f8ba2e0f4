// The collective watchdog (`alibi train|eval|generate --timeout-minutes M`): a rank that
// waits on the others longer than M ends the job with one line naming the operation, how
// far the job had come (the step; the window of eval, the token of generate) and the
// ranks that never arrived, and exit status kExitRequeue, instead of waiting forever for
// a stopped or lost rank.
//
//   auto dog = std::make_shared<Watchdog>(MPI_COMM_WORLD, 60 * opt.timeout_minutes, kTrainJob);  // collective
//   ProcessGrid grid = ProcessGrid::create(MPI_COMM_WORLD, shape, cfg, backend, dog);
//   dog->set_progress(step + 1);                 // the line says "at step 12"
//   { Watchdog::Deadline d(*dog, "checkpoint write"); write_checkpoint(...); }
//
// How it learns who never arrived: every MPI call of the grid's communicators is made in
// its non-blocking form and completed by Watchdog::wait, which polls it against the
// deadline and, while polling, answers questions on a side channel (the watchdog's own
// duplicate of the world). A rank past the deadline asks every other rank what it is
// waiting in. A member of the operation that answers "that same operation" (the same
// communicator and the same count of operations on it) has arrived; one that answers with
// another operation, or not at all (stopped, lost, still computing), has not. The lowest
// timed-out rank prints the line; MPI_Abort ends every rank.
//
// A checkpoint write cannot be polled (HDF5's collective I/O blocks inside MPI-IO): a
// Deadline guards it with a timer thread that ends the process when it runs past M; the
// barrier before the write names the ranks that never came to it.
//
// The NCCL path's device operations are enqueued, not waited on, so no MPI wait sees them:
// NcclCommunicator watches them from a thread of its own (events polled, then
// ncclCommAbort and end_process; parallel/nccl_comm.h).
#pragma once

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/error.h"

namespace alibi {

// What a rank is waiting in: the line names it; the side channel compares it.
struct WaitSite {
  const char* comm = "";  // "tp", "dp", "pp", "embedding", "world"
  const char* op = "";    // "all-reduce", "recv", ...
  uint64_t seq = 0;       // operations on `comm` so far: equal on every member for a collective
  int peer = -1;          // the other end of a message (a rank of `comm`), -1 for a collective
  MPI_Comm mpi = MPI_COMM_NULL;
};

// How the line speaks of the job it ends.
struct WatchdogJob {
  const char* unit;   // what Watchdog::set_progress counts: "step", "length", "token"
  const char* retry;  // what to do once the node is fixed
};
inline constexpr WatchdogJob kTrainJob{"step", "requeue once fixed; --resume auto continues from the last complete checkpoint"};
inline constexpr WatchdogJob kEvalJob{"length", "run it again once fixed"};
inline constexpr WatchdogJob kGenerateJob{"token", "run it again once fixed"};

// The least bound of a start-up scope (Watchdog::Deadline's at_least_s), however short
// --timeout-minutes is.
inline constexpr double kStartSkewS = 120;

class Watchdog {
 public:
  // Collective over `world` (duplicates it). timeout_s <= 0: off (waits block as before).
  Watchdog(MPI_Comm world, double timeout_s, WatchdogJob job);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  bool enabled() const { return timeout_s_ > 0; }
  double timeout_s() const { return timeout_s_; }
  // How far the job has come, as the line names it ("at step 12": the one running).
  void set_progress(int64_t n) { progress_.store(n); }

  // Completes `request`; past the timeout ends the job (never returns). Throws alibi::Error
  // when MPI reports an error.
  void wait(MPI_Request* request, const WaitSite& site);

  // Ends this process from any thread, without MPI (the launcher ends the other ranks):
  // the line for `operation` ("dp all-reduce (NCCL, operation 7)"), saying `who` never
  // arrived, then `status`: kExitRequeue for a peer that never came, 1 for a fault of this
  // rank's own (a CUDA error, NCCL's invalid usage), which a requeue would only repeat.
  // `release` (ncclCommAbort) runs after the line, bounded by kReleaseS. Only the first of
  // a process's threads to end it prints and exits; any other waits for that exit. For
  // waits the side channel cannot see.
  [[noreturn]] void end_process(const std::string& operation, double waited_s, const std::string& who,
                                int status = kExitRequeue, const std::function<void()>& release = {}) const;
  static constexpr double kReleaseS = 10;

  // A scope that must end within the timeout (a checkpoint write): past it, a timer thread
  // prints the line and ends this process with kExitRequeue (the launcher ends the rest).
  // `at_least_s` raises the bound for a scope whose ranks may arrive far apart with nothing
  // wrong (kStartSkewS: the communicators' set-up and the checkpoint read of a job's start,
  // which each rank reaches after reading its corpus, as far apart as a loaded node or file
  // system makes them).
  class Deadline {
   public:
    Deadline(Watchdog& dog, const char* what, double at_least_s = 0);
    ~Deadline();
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;

   private:
    Watchdog& dog_;
    std::mutex mutex_;
    std::condition_variable done_cv_;
    bool done_ = false;
    std::thread timer_;
  };

 private:
  struct Answer;
  void answer_questions(const WaitSite* site, bool timed_out);
  [[noreturn]] void time_out(MPI_Request* request, const WaitSite& site, double waited_s);
  void print_line(const std::string& operation, double waited_s, const std::string& who, int status) const;

  MPI_Comm side_ = MPI_COMM_NULL;  // the side channel
  int rank_ = 0, size_ = 1;
  double timeout_s_ = 0;
  WatchdogJob job_;
  std::atomic<int64_t> progress_{0};
  std::atomic<const char*> scope_{nullptr};  // the Deadline's scope, named by a wait inside it
};

}  // namespace alibi
