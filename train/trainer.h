// One rank's share of training: the model part (pipeline stage, TP shard), its AdamW
// state, the DP gradient buckets and this DP rank's sampler; one call per optimizer step,
// and the checkpoint round trip of all of it.
//
//   Trainer trainer(cfg, opt, grid, corpus);
//   trainer.resume("runs/x/step_00000400.h5");  // optional: weights, AdamW, data position
//   StepResult r = trainer.step(lr);            // every rank gets the same loss and norm
//   EvalResult v = trainer.evaluate(Split::valid, 8);
//   trainer.save(checkpoint_path(opt.out_dir, trainer.steps_done()));   // collective
//
// A step: grad-accum micro-batches through the 1F1B schedule (the last micro-batch's
// backward starts each block's DP all-reduce as soon as the block is done), the tied
// embedding's two copies summed, the global grad-norm clip, AdamW on local shards.
//
// With --zero 1 (and dp > 1) the buckets reduce-scatter instead (parallel/data_parallel.h):
// each DP rank keeps AdamW's m and v only for its shard of every bucket, clips and updates
// that shard, and the buckets all-gather the updated parameters. Checkpoints still hold
// whole tensors, so a run moves between --zero 0 and 1 and between dp sizes.
#pragma once

#include <vector>

#include "data/corpus.h"
#include "data/sampler.h"
#include "layers/model.h"
#include "layers/optimizer.h"
#include "parallel/data_parallel.h"
#include "parallel/grid.h"
#include "train/evaluate.h"
#include "train/options.h"

namespace alibi {

struct StepResult {
  double loss = 0;             // mean over every target of the global batch
  double grad_norm = 0;        // before clipping
  double pipeline_wait_s = 0;  // blocked on the neighbour stages
  double dp_wait_s = 0;        // blocked on the DP all-reduce after backward
  double dp_window_s = 0;      // from the first bucket's start to the end of the all-reduce
};

class Trainer {
 public:
  Trainer(const ModelConfig& cfg, const TrainOptions& opt, const ProcessGrid& grid, const Corpus& corpus);
  // The Trainer keeps references to the grid and the corpus: temporaries would dangle.
  Trainer(const ModelConfig&, const TrainOptions&, ProcessGrid&&, const Corpus&) = delete;
  Trainer(const ModelConfig&, const TrainOptions&, const ProcessGrid&, Corpus&&) = delete;

  StepResult step(double lr);
  // Loss over the first max_batches x micro-batch x dp windows of `split` (all when 0).
  EvalResult evaluate(Split split, int max_batches);

  // Writes everything a run needs to continue (DESIGN.md "Checkpoints"): every option
  // (/config), the corpus's tokenizer, the weights, the AdamW moments and step, the
  // sampler's position, the seed. Collective over the grid's world; atomic (a temporary
  // file renamed into place).
  void save(const std::string& path);
  // Restores what save wrote, under any layout; DataError when the checkpoint's tokenizer
  // differs from the corpus's or a tensor is missing or mis-shaped. Returns the step.
  int64_t resume(const std::string& path);

  int64_t steps_done() const { return adam_.steps_taken(); }
  Model<float>& model() { return model_; }
  const Sampler& sampler() const { return sampler_; }
  int64_t tokens_per_step() const;
  // Whether AdamW's state is sharded over DP (--zero 1 with dp > 1).
  bool zero() const { return buckets_.sharded(); }
  // Under ZeRO-1, the range of each parameter's local block whose DP-summed gradient (and
  // AdamW moments) this rank holds after a step; empty when not sharded.
  const std::vector<ElementRange>& zero_shards() const { return adam_.slices(); }

 private:
  // Under ZeRO-1: parameter i's AdamW moment shard as a whole tensor of the parameter's
  // shape (each DP rank's slice in place, zeros elsewhere, summed over DP: the slices are
  // disjoint). Collective over DP. Checkpoints build one at a time.
  Tensor whole_moment(const std::vector<Tensor>& shards, size_t i) const;

  ModelConfig cfg_;
  TrainOptions opt_;
  const ProcessGrid& grid_;
  const Corpus& corpus_;
  Model<float> model_;
  Sampler sampler_;
  std::vector<int> bucket_of_layer_;  // global layer -> bucket (-1: not here); before buckets_, which fills it
  std::vector<std::pair<int, size_t>> bucket_place_;  // parameter i -> (bucket, index in it); likewise
  GradBuckets buckets_;
  AdamW<float> adam_;  // after buckets_: under ZeRO-1 its moments cover the buckets' shards
  StreamTimer pipeline_waits_;  // this step's receives from neighbour stages (its events reused)
  std::vector<int32_t> inputs_, targets_;  // (M, B, T)
};

}  // namespace alibi
