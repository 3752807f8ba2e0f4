// The stop signals: SIGTERM (a preemption, or the launcher ending a job) and SIGUSR1 (SLURM's
// warning before the time limit), for the train command. No asynchronous handler takes them:
// main blocks both before MPI_Init, so every thread inherits the block (Open MPI's, OpenMP's,
// ours), and one thread takes them with sigwait. Other commands leave both alone (their
// children, study's mpirun, would inherit a block). An asynchronous handler interrupts whatever thread the kernel
// picks, at any instruction and inside any system call; a burst of SIGUSR1 at a training run
// reliably corrupted its heap that way (glibc: "corrupted size vs. prev_size", "free():
// invalid size"), and a single SIGTERM or SIGUSR1 now and then (e2e.preemption_soak,
// e2e.slurm under load), even though the handler only set a flag.
//
//   start_signal_thread();   // main, first: before any other thread exists
//   arm_graceful_stop();     // train: a signal is recorded, the step loop checkpoints and stops
//   if (stop_signal() != 0) ...
//   disarm_graceful_stop();  // an error or an abort: the next signal ends the process
//
// Unarmed (train after an error), a signal ends the process by its default action, as if
// nothing had blocked it.
#pragma once

namespace alibi {

void start_signal_thread();
void arm_graceful_stop();
void disarm_graceful_stop();
int stop_signal();  // the signal taken while armed (SIGTERM or SIGUSR1), 0 if none

}  // namespace alibi
