// The collective watchdog: polled waits, the side channel's questions and answers, the
// one line and the abort. See watchdog.h.
#include "parallel/watchdog.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "parallel/comm.h"
#include "runtime/error.h"
#include "runtime/stop_signals.h"

namespace alibi {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kQuestionTag = 1, kAnswerTag = 2;
// How long a timed-out rank collects answers: waiting ranks answer within a poll (a few
// microseconds), so this only has to outlast a scheduler hiccup on a loaded node.
constexpr double kAnswerWindowS = 2.0;
// Past its window a timed-out rank that left the line to a lower one waits this long for
// that rank's abort before printing its own line (the lower one may have died meanwhile).
constexpr double kDeferS = 5.0;
// Polls sleep this long once a wait is clearly not a fast collective, so a waiting rank
// leaves the core to the computing ones on an oversubscribed node.
constexpr double kSpinS = 2e-3;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string host_name() {
  char host[256] = "?";
  gethostname(host, sizeof host);
  return host;
}

// One line per process: its first thread to end it (a timed-out wait, a Deadline's timer, an
// NCCL communicator's watch: several can time out within milliseconds when one rank stops)
// prints and exits; any later one sleeps until that exit.
std::atomic<bool> ending{false};

void claim_the_end() {
  if (!ending.exchange(true)) return;
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

std::string minutes_text(double timeout_s) {
  std::ostringstream os;
  os << timeout_s / 60;
  return os.str();
}

// The operation as the line names it: "dp all-reduce" or "pp recv from pp rank 1".
std::string describe(const char* comm, const char* op, int peer) {
  std::string s = std::string(comm) + " " + op;
  if (peer >= 0) s += std::string(std::strcmp(op, "recv") == 0 ? " from " : " to ") + comm + " rank " + std::to_string(peer);
  return s;
}

// Ends every rank: the train command's graceful-stop handlers must not catch the SIGTERM
// that mpirun sends the others after an abort (main.cpp's report() does the same).
[[noreturn]] void abort_job(MPI_Comm comm) {
  disarm_graceful_stop();
  MPI_Abort(comm, kExitRequeue);
  std::_Exit(kExitRequeue);
}

}  // namespace

// One rank's answer to "what are you waiting in?" (plain bytes over the side channel).
struct Watchdog::Answer {
  int32_t rank = -1;
  int32_t waiting = 0;    // inside a polled wait (0: answered from nowhere; never sent)
  int32_t timed_out = 0;  // past its own deadline
  int32_t peer = -1;
  uint64_t seq = 0;
  int64_t progress = 0;
  char comm[16] = {};
  char op[24] = {};
};

Watchdog::Watchdog(MPI_Comm world, double timeout_s, WatchdogJob job) : timeout_s_(timeout_s), job_(job) {
  check_mpi(MPI_Comm_dup(world, &side_), "MPI_Comm_dup");
  check_mpi(MPI_Comm_rank(side_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(side_, &size_), "MPI_Comm_size");
}

Watchdog::~Watchdog() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && side_ != MPI_COMM_NULL) MPI_Comm_free(&side_);
}

void Watchdog::wait(MPI_Request* request, const WaitSite& site) {
  if (*request == MPI_REQUEST_NULL) return;
  if (!enabled()) {
    check_mpi(MPI_Wait(request, MPI_STATUS_IGNORE), "MPI_Wait");
    return;
  }
  const Clock::time_point t0 = Clock::now();
  while (true) {
    int flag = 0;
    check_mpi(MPI_Test(request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) return;
    const double waited = seconds_since(t0);
    if (waited < kSpinS) continue;
    answer_questions(&site, false);
    if (waited > timeout_s_) time_out(request, site, waited);
    usleep(100);
  }
}

void Watchdog::answer_questions(const WaitSite* site, bool timed_out) {
  while (true) {
    int flag = 0;
    MPI_Status status;
    check_mpi(MPI_Iprobe(MPI_ANY_SOURCE, kQuestionTag, side_, &flag, &status), "MPI_Iprobe");
    if (!flag) return;
    int question = 0;
    check_mpi(MPI_Recv(&question, 1, MPI_INT, status.MPI_SOURCE, kQuestionTag, side_, MPI_STATUS_IGNORE), "MPI_Recv");
    Answer a;
    a.rank = rank_;
    a.waiting = site != nullptr;
    a.timed_out = timed_out;
    a.progress = progress_.load();
    if (site) {
      a.peer = site->peer;
      a.seq = site->seq;
      std::snprintf(a.comm, sizeof a.comm, "%s", site->comm);
      std::snprintf(a.op, sizeof a.op, "%s", site->op);
    }
    // A few dozen bytes: sent eagerly, so this never waits for the asker.
    check_mpi(MPI_Send(&a, sizeof a, MPI_BYTE, status.MPI_SOURCE, kAnswerTag, side_), "MPI_Send");
  }
}

void Watchdog::time_out(MPI_Request* request, const WaitSite& site, double waited_s) {
  (void)request;  // left pending: the abort ends it
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    int question = 1;
    check_mpi(MPI_Send(&question, 1, MPI_INT, r, kQuestionTag, side_), "MPI_Send");
  }
  std::map<int, Answer> answers;
  const Clock::time_point t0 = Clock::now();
  while (static_cast<int>(answers.size()) < size_ - 1 && seconds_since(t0) < kAnswerWindowS) {
    answer_questions(&site, true);
    int flag = 0;
    MPI_Status status;
    check_mpi(MPI_Iprobe(MPI_ANY_SOURCE, kAnswerTag, side_, &flag, &status), "MPI_Iprobe");
    if (!flag) {
      usleep(1000);
      continue;
    }
    Answer a;
    check_mpi(MPI_Recv(&a, sizeof a, MPI_BYTE, status.MPI_SOURCE, kAnswerTag, side_, MPI_STATUS_IGNORE), "MPI_Recv");
    answers[status.MPI_SOURCE] = a;
  }

  // The members of the operation, as ranks of the world (the side channel's group).
  std::vector<int> members;
  MPI_Group op_group, world_group;
  check_mpi(MPI_Comm_group(site.mpi, &op_group), "MPI_Comm_group");
  check_mpi(MPI_Comm_group(side_, &world_group), "MPI_Comm_group");
  int n = 0;
  check_mpi(MPI_Group_size(op_group, &n), "MPI_Group_size");
  std::vector<int> local;
  if (site.peer >= 0) {
    local.push_back(site.peer);
  } else {
    for (int i = 0; i < n; ++i) local.push_back(i);
  }
  members.resize(local.size());
  check_mpi(MPI_Group_translate_ranks(op_group, static_cast<int>(local.size()), local.data(), world_group, members.data()),
            "MPI_Group_translate_ranks");
  MPI_Group_free(&op_group);
  MPI_Group_free(&world_group);

  // Who never arrived: no answer, or an answer from another operation. The other end of a
  // message has not arrived by definition (this rank is still waiting on it).
  std::ostringstream missing;
  int n_missing = 0;
  for (int m : members) {
    if (m == rank_) continue;
    const auto it = answers.find(m);
    const bool same = it != answers.end() && site.peer < 0 && it->second.seq == site.seq &&
                      std::strncmp(it->second.comm, site.comm, sizeof it->second.comm) == 0;
    if (same) continue;
    missing << (n_missing++ ? ", " : "") << "rank " << m;
    if (it == answers.end()) {
      missing << " (no answer: stopped, lost or still computing)";
    } else {
      const Answer& a = it->second;
      missing << " (waiting in " << describe(a.comm, a.op, a.peer) << ", operation " << a.seq << ")";
    }
  }

  // One line for the job: the lowest timed-out rank prints it.
  int printer = rank_;
  for (const auto& [r, a] : answers)
    if (a.timed_out && r < printer) printer = r;
  if (printer != rank_) {
    const Clock::time_point t1 = Clock::now();
    while (seconds_since(t1) < kDeferS) {
      answer_questions(&site, true);
      usleep(1000);
    }
  }
  claim_the_end();
  print_line(describe(site.comm, site.op, site.peer) + " (operation " + std::to_string(site.seq) + ")", waited_s,
             n_missing ? missing.str() + " never arrived" : std::string("every rank arrived"), kExitRequeue);
  abort_job(side_);
}

void Watchdog::print_line(const std::string& operation, double waited_s, const std::string& who, int status) const {
  std::ostringstream line;
  line << "alibi: watchdog: " << operation;
  if (const char* scope = scope_.load()) line << " in " << scope;
  line << " at " << job_.unit << " " << progress_.load() << " waited " << static_cast<int>(waited_s + 0.5)
       << " s, past --timeout-minutes " << minutes_text(timeout_s_) << ": " << who << "; ending the job with status "
       << status << " ("
       << (status == kExitRequeue ? job_.retry : "a fault of this rank's own: check its GPU and driver before a rerun")
       << ") (rank " << rank_ << " on " << host_name() << ")\n";
  std::fputs(line.str().c_str(), stderr);
  std::fflush(stderr);
  std::fflush(stdout);
}

void Watchdog::end_process(const std::string& operation, double waited_s, const std::string& who, int status,
                           const std::function<void()>& release) const {
  claim_the_end();
  print_line(operation, waited_s, who, status);
  if (release) {  // ncclCommAbort can itself hang on a broken device: bounded
    std::thread([status] {
      std::this_thread::sleep_for(std::chrono::duration<double>(kReleaseS));
      std::_Exit(status);
    }).detach();
    release();
  }
  std::_Exit(status);  // no MPI from this thread; the launcher ends the other ranks
}

// ---- Deadline -------------------------------------------------------------------------------

Watchdog::Deadline::Deadline(Watchdog& dog, const char* what, double at_least_s) : dog_(dog) {
  if (!dog.enabled()) return;
  dog.scope_.store(what);
  const double option_s = dog.timeout_s(), timeout_s = std::max(option_s, at_least_s);
  const int64_t progress = dog.progress_.load();
  const WatchdogJob job = dog.job_;
  const int rank = dog.rank_;
  timer_ = std::thread([this, what, option_s, timeout_s, job, progress, rank] {
    std::unique_lock<std::mutex> lock(mutex_);
    if (done_cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [this] { return done_; })) return;
    claim_the_end();
    const std::string bound = timeout_s > option_s ? std::to_string(static_cast<int>(timeout_s)) + " s, this step's least bound (--timeout-minutes " + minutes_text(option_s) + ")"
                                                   : "--timeout-minutes " + minutes_text(option_s);
    std::fprintf(stderr,
                 "alibi: watchdog: %s at %s %lld still running after %g s, past %s: the file "
                 "system or another rank stopped answering; ending the job with status %d (%s) (rank %d on %s)\n",
                 what, job.unit, static_cast<long long>(progress), timeout_s, bound.c_str(), kExitRequeue,
                 job.retry, rank, host_name().c_str());
    std::fflush(stderr);
    // MPI may not be called from this thread (MPI_THREAD_FUNNELED): the process ends, and
    // the launcher ends the others when one rank exits without MPI_Finalize.
    std::_Exit(kExitRequeue);
  });
}

Watchdog::Deadline::~Deadline() {
  if (!timer_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  done_cv_.notify_one();
  timer_.join();
  dog_.scope_.store(nullptr);
}

}  // namespace alibi
