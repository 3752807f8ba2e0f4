// AdamW state and update, gradient clipping, the learning-rate schedule.
#include "layers/optimizer.h"

#include <algorithm>
#include <cmath>

#include "kernels/dispatch.h"

namespace alibi {

template <class Real>
AdamW<Real>::AdamW(const ParameterList& params, const AdamWHyper& hyper) : params_(params), hyper_(hyper) {
  for (const ParamRef& p : params_) {
    m_.push_back(Tensor::zeros(p.value->shape(), dtype_of<Real>(), p.value->device()));
    v_.push_back(Tensor::zeros(p.value->shape(), dtype_of<Real>(), p.value->device()));
  }
}

template <class Real>
void AdamW<Real>::step(float lr, float weight_decay) {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamRef& p = params_[i];
    ops::adamw_update<Real>(p.value->device(), p.value->data<Real>(), p.grad->data<Real>(), m_[i].data<Real>(),
                            v_[i].data<Real>(), p.value->numel(), lr, hyper_.beta1, hyper_.beta2,
                            hyper_.eps, p.decay ? weight_decay : 0.0f, step_);
  }
}

template <class Real>
double global_grad_norm(const ParameterList& params, const ProcessGrid& grid) {
  const GridCoord& c = grid.coord();
  // One reduction over every counted gradient: on a GPU one host read per step, not one per
  // parameter (on the CPU the same sums in the same order as one call each).
  std::vector<const Real*> grads;
  std::vector<int64_t> sizes;
  Device device = Device::cpu;
  for (const ParamRef& p : params) {
    if (!p.counted_here(c.tp_rank, c.dp_rank)) continue;
    grads.push_back(p.grad->data<Real>());
    sizes.push_back(p.grad->numel());
    device = p.grad->device();
  }
  const double local = ops::sum_squares_many<Real>(device, grads.data(), sizes.data(), static_cast<int>(grads.size()));
  return std::sqrt(grid.world().sum(local));
}

template <class Real>
double clip_grad_norm(const ParameterList& params, double max_norm, const ProcessGrid& grid) {
  const double norm = global_grad_norm<Real>(params, grid);
  if (max_norm > 0 && norm > max_norm) {
    const Real scale = static_cast<Real>(max_norm / (norm + 1e-6));
    for (const ParamRef& p : params) ops::scale_inplace<Real>(p.grad->device(), p.grad->data<Real>(), p.grad->numel(), scale);
  }
  return norm;
}

double lr_at(int64_t step, const LrSchedule& s) {
  if (step < s.warmup) return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup);
  const int64_t decay_steps = std::max<int64_t>(1, s.total - 1 - s.warmup);
  const double progress = std::clamp(static_cast<double>(step - s.warmup) / decay_steps, 0.0, 1.0);
  return s.min_lr + 0.5 * (s.lr - s.min_lr) * (1.0 + std::cos(M_PI * progress));
}

template class AdamW<float>;
template class AdamW<double>;
template double global_grad_norm<float>(const ParameterList&, const ProcessGrid&);
template double global_grad_norm<double>(const ParameterList&, const ProcessGrid&);
template double clip_grad_norm<float>(const ParameterList&, double, const ProcessGrid&);
template double clip_grad_norm<double>(const ParameterList&, double, const ProcessGrid&);

}  // namespace alibi
