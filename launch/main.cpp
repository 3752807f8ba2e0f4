// `alibi`: one program, subcommands. main reads as phases: MPI up, dispatch, report.
// An error anywhere is printed once (with rank and host) and ends every rank: MPI_Abort
// when the world has more than one process, so no rank is left waiting.
#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "launch/commands.h"
#include "runtime/error.h"
#include "runtime/h5.h"
#include "runtime/stop_signals.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
  // Runs as an MPI process (a singleton outside mpirun). `study` does not: it starts
  // mpirun itself, and a singleton's environment (PMIX_*, OMPI_MCA_ess) would pass to it.
  bool mpi = true;
  // Stops gracefully on SIGTERM or SIGUSR1 (runtime/stop_signals.h). Only train: the others
  // keep the default action, and so do the processes they start (study's mpirun, gnuplot),
  // which would otherwise inherit the signals' block.
  bool graceful_stop = false;
};

const Command kCommands[] = {
    {"preprocess", alibi::cmd_preprocess, "turn text files and directories into an HDF5 corpus"},
    {"train", alibi::cmd_train, "train a model (ALiBi by default) on an HDF5 corpus", true, true},
    {"eval", alibi::cmd_eval, "perplexity against evaluation length for checkpoints (train short, test long)"},
    {"plan", alibi::cmd_plan, "print what each rank of a tp/pp/dp layout holds (no MPI launch)"},
    {"generate", alibi::cmd_generate, "generate text from a checkpoint (KV cache; --tp under mpirun)"},
    {"export", alibi::cmd_export, "write a checkpoint as a GGUF file that llama.cpp runs (mpt architecture)"},
    {"tokenize", alibi::cmd_tokenize, "print the token ids of a text under a checkpoint's or corpus's tokenizer"},
    {"check", alibi::cmd_check, "read a corpus or checkpoint whole: verify every checksum, say what it holds"},
    {"study", alibi::cmd_study, "a scaling study from one file: plan, run (mpirun or SLURM), status, report", false},
};

void print_usage() {
  std::printf("usage: alibi <command> [options]   (alibi <command> --help lists its options)\n\ncommands:\n");
  for (const Command& c : kCommands) std::printf("  %-12s %s\n", c.name, c.summary);
}

// A config error is usually the same on every rank: rank 0 prints it, and the others wait
// a moment so that rank 0's abort ends them unprinted. A rank still alive after the wait
// had the error alone and prints it itself. Any other error may be one rank's own (its
// shard unreadable): that rank prints it at once, with its rank and host.
// `code` is the exit status (alibi::kExitRequeue for a failure a requeue can fix).
void report(alibi::ErrorKind error_kind, const char* kind, const char* what, int code = 1) {
  int rank = 0, world = 1, initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
  }
  // train's graceful stop must not outlive the error: mpirun ends the other ranks with
  // SIGTERM after an abort, and that has to end them, not wake them.
  alibi::disarm_graceful_stop();
  if (world > 1 && error_kind == alibi::ErrorKind::config && rank != 0) sleep(10);  // long enough under load
  char host[256] = "?";
  gethostname(host, sizeof host);
  if (world > 1) {
    std::fprintf(stderr, "alibi: %s: %s (rank %d on %s)\n", kind, what, rank, host);
  } else {
    std::fprintf(stderr, "alibi: %s: %s\n", kind, what);
  }
  std::fflush(stderr);
  if (world > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

}  // namespace

int main(int argc, char** argv) {
  const Command* command = nullptr;
  for (const Command& c : kCommands)
    if (argc >= 2 && !std::strcmp(argv[1], c.name)) command = &c;
  const bool mpi = command == nullptr || command->mpi;
  if (command != nullptr && command->graceful_stop)
    alibi::start_signal_thread();  // before MPI_Init's threads: they inherit the signals' block
  int provided = 0;
  if (mpi) MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int code = 0;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage();
    code = argc < 2 ? 2 : 0;
  } else {
    if (command == nullptr) {
      std::fprintf(stderr, "alibi: unknown command '%s'; run 'alibi --help' for the list\n", argv[1]);
      code = 2;
    } else {
      try {
        code = command->run(argc - 1, argv + 1);
      } catch (const alibi::Error& e) {
        report(e.kind(), alibi::error_kind_name(e.kind()), e.what(), e.exit_code());
        code = e.exit_code();
      } catch (const std::exception& e) {
        report(alibi::ErrorKind::internal, "error", e.what());
        code = 1;
      }
    }
  }
  if (alibi::h5::shutdown_is_unsafe()) {
    // A failed write left HDF5 a file it cannot close (see File::abandon): MPI_Finalize
    // would crash in HDF5's shutdown. Everything worth keeping is already on disk.
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
  }
  if (mpi) MPI_Finalize();
  return code;
}
