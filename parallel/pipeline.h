// The 1F1B pipeline schedule (PipeDream-Flush, as Megatron runs it) over M micro-batches.
// Stage s of P keeps at most P - s micro-batches in flight:
//
//   warm-up:    forward micro-batches 0 .. W-1, W = min(P - s - 1, M)
//   steady:     for i in W .. M-1: forward i, backward i - W
//   cool-down:  backward the last W
//
// Activations move forward and their gradients backward by point-to-point messages over
// grid.pp(). Sends are non-blocking (a stage never waits for its neighbour to be ready to
// receive, so the opposite-direction sends of neighbours cannot deadlock); a slot's sends
// complete before the slot is reused. With P = 1 this is forward, backward per micro-batch.
//
// Stage is any type with (slot = micro-batch % in_flight):
//   Tensor& input(int slot);          Tensor& output(int slot)          (B*T, C) activations
//   Tensor& output_grad(int slot);    Tensor& input_grad(int slot)      their gradients
//   void forward(int micro, int slot);  void backward(int micro, int slot)
#pragma once

#include <vector>

#include "parallel/grid.h"
#include "runtime/device.h"

namespace alibi {

// `waits`, when given, gets a span per receive from a neighbour stage (idle + transfer): host
// time on the CPU, the compute stream's time inside the receive on CUDA (runtime/device.h's
// StreamTimer; read it after the step's one host sync, so the timer adds no wait of its own).
template <class Stage>
void run_1f1b(Stage& stage, const ProcessGrid& grid, int M, StreamTimer* waits = nullptr) {
  const int P = grid.shape().pp, s = grid.coord().pp_rank;
  const Communicator& pp = grid.pp();
  const int in_flight = std::min(P - s, M);
  const int warmup = std::min(P - s - 1, M);
  std::vector<Request> sends(in_flight);
  auto timed_recv = [&](Tensor& t, int source, int tag) {
    if (waits) waits->begin(t.device());
    pp.recv(t.raw(), t.numel(), t.dtype(), source, tag);
    if (waits) waits->end();
  };
  auto forward = [&](int micro) {
    const int slot = micro % in_flight;
    sends[slot].wait();  // the slot's last send must be done before its buffers are rewritten
    if (s > 0) timed_recv(stage.input(slot), s - 1, 2 * micro);
    stage.forward(micro, slot);
    if (s < P - 1) {
      Tensor& out = stage.output(slot);
      sends[slot] = pp.isend(out.raw(), out.numel(), out.dtype(), s + 1, 2 * micro);
    }
  };
  auto backward = [&](int micro) {
    const int slot = micro % in_flight;
    if (s < P - 1) timed_recv(stage.output_grad(slot), s + 1, 2 * micro + 1);
    stage.backward(micro, slot);
    if (s > 0) {
      Tensor& grad = stage.input_grad(slot);
      sends[slot].wait();
      sends[slot] = pp.isend(grad.raw(), grad.numel(), grad.dtype(), s - 1, 2 * micro + 1);
    }
  };
  for (int i = 0; i < warmup; ++i) forward(i);
  for (int i = warmup; i < M; ++i) {
    forward(i);
    backward(i - warmup);
  }
  for (int i = M - warmup; i < M; ++i) backward(i);
  for (Request& r : sends) r.wait();
}

// Forward only (evaluation): every micro-batch passes through the stages in order.
template <class Stage>
void run_forward_only(Stage& stage, const ProcessGrid& grid, int M) {
  const int P = grid.shape().pp, s = grid.coord().pp_rank;
  const Communicator& pp = grid.pp();
  for (int i = 0; i < M; ++i) {
    if (s > 0) {
      Tensor& in = stage.input(0);
      pp.recv(in.raw(), in.numel(), in.dtype(), s - 1, 2 * i);
    }
    stage.forward(i, 0);
    if (s < P - 1) {
      Tensor& out = stage.output(0);
      pp.send(out.raw(), out.numel(), out.dtype(), s + 1, 2 * i);
    }
  }
}

}  // namespace alibi
