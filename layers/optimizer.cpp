// AdamW state and update, gradient clipping, the learning-rate schedule.
#include "layers/optimizer.h"

#include <algorithm>
#include <cmath>

#include "kernels/dispatch.h"
#include "runtime/error.h"

namespace alibi {

namespace {

// Parameter i's range: its DP shard under ZeRO-1, else the whole local block.
ElementRange range_of(const ParamRef& p, const std::vector<ElementRange>* slices, size_t i) {
  return slices && !slices->empty() ? slices->at(i) : ElementRange{0, p.value->numel()};
}

}  // namespace

template <class Real>
AdamW<Real>::AdamW(const ParameterList& params, const AdamWHyper& hyper, std::vector<ElementRange> slices)
    : params_(params), hyper_(hyper), slices_(std::move(slices)) {
  ALIBI_CHECK(slices_.empty() || slices_.size() == params_.size(),
              "AdamW: " << slices_.size() << " slices for " << params_.size() << " parameters");
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamRef& p = params_[i];
    const ElementRange r = range_of(p, &slices_, i);
    const Shape shape = r.size() == p.value->numel() ? p.value->shape() : Shape{r.size()};
    m_.push_back(Tensor::zeros(shape, dtype_of<Real>(), p.value->device()));
    v_.push_back(Tensor::zeros(shape, dtype_of<Real>(), p.value->device()));
  }
}

template <class Real>
void AdamW<Real>::step(float lr, float weight_decay) {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamRef& p = params_[i];
    const ElementRange r = range_of(p, &slices_, i);
    if (r.size() == 0) continue;
    ops::adamw_update<Real>(p.value->device(), p.value->data<Real>() + r.begin, p.grad->data<Real>() + r.begin,
                            m_[i].data<Real>(), v_[i].data<Real>(), r.size(), lr, hyper_.beta1, hyper_.beta2,
                            hyper_.eps, p.decay ? weight_decay : 0.0f, step_);
    p.value->bump_version();  // what was derived from the old values (bf16 working copies) is stale
  }
}

template <class Real>
double global_grad_norm(const ParameterList& params, const ProcessGrid& grid, const std::vector<ElementRange>* dp_shards) {
  const GridCoord& c = grid.coord();
  // DP shards are disjoint: every DP rank counts its own (the rule for dp_rank 0 then). No
  // shards (null or empty, as range_of reads them): DP replicas, counted on dp_rank 0 only.
  const int dp_rank = dp_shards && !dp_shards->empty() ? 0 : c.dp_rank;
  // One reduction over every counted range: on a GPU one host read per step, not one per
  // parameter (on the CPU the same sums in the same order as one call each).
  std::vector<const Real*> grads;
  std::vector<int64_t> sizes;
  Device device = Device::cpu;
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamRef& p = params[i];
    const ElementRange r = range_of(p, dp_shards, i);
    if (!p.counted_here(c.tp_rank, dp_rank) || r.size() == 0) continue;
    grads.push_back(p.grad->data<Real>() + r.begin);
    sizes.push_back(r.size());
    device = p.grad->device();
  }
  const double local = ops::sum_squares_many<Real>(device, grads.data(), sizes.data(), static_cast<int>(grads.size()));
  return std::sqrt(grid.world().sum(local));
}

template <class Real>
double clip_grad_norm(const ParameterList& params, double max_norm, const ProcessGrid& grid,
                      const std::vector<ElementRange>* dp_shards) {
  const double norm = global_grad_norm<Real>(params, grid, dp_shards);
  if (max_norm > 0 && norm > max_norm) {
    const Real scale = static_cast<Real>(max_norm / (norm + 1e-6));
    for (size_t i = 0; i < params.size(); ++i) {
      const ParamRef& p = params[i];
      const ElementRange r = range_of(p, dp_shards, i);
      if (r.size() > 0) ops::scale_inplace<Real>(p.grad->device(), p.grad->data<Real>() + r.begin, r.size(), scale);
    }
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
template double global_grad_norm<float>(const ParameterList&, const ProcessGrid&, const std::vector<ElementRange>*);
template double global_grad_norm<double>(const ParameterList&, const ProcessGrid&, const std::vector<ElementRange>*);
template double clip_grad_norm<float>(const ParameterList&, double, const ProcessGrid&, const std::vector<ElementRange>*);
template double clip_grad_norm<double>(const ParameterList&, double, const ProcessGrid&, const std::vector<ElementRange>*);

}  // namespace alibi
