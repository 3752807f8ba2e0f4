#!/usr/bin/env bash
# The extrapolation study (the paper's Figure 1 on our default corpus): the study file
# launch/studies/figure1.ini run by `alibi study` — the default model (launch/configs/tiny.ini,
# T=128) with each position method on the same data, seed and number of tokens, every
# checkpoint evaluated at 1x..32x the training length, non-overlapping and sliding (stride
# half the evaluation length). Writes OUT/report.md (tables of perplexity, extrapolation
# ratios and training speed), report.csv, the plots, and each run's own files in
# OUT/position-<method>/.
#
#   launch/extrapolation_study.sh [--tokens 3000000] [--methods "alibi sinusoidal rotary t5"]
#                                 [--lengths 128,256,512,1024,2048,4096] [--out runs/study]
#                                 [--corpus FILE.h5] [--train-only]
# A run whose final checkpoint (or evaluation) exists is skipped, so methods can be trained
# by separate invocations (--train-only) and evaluated together afterwards. Training runs
# under mpirun (launch/mpirun_single_node.sh): as root in a container, set
# ALIBI_MPIRUN_ARGS=--allow-run-as-root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${ALIBI_STUDY_CORPUS:-$root/data-cache/linuxdoc-bytes.h5}
sets=()
run_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --tokens) sets+=(--set "study.tokens=$2"); shift 2 ;;
    --methods) sets+=(--set "axes.position=$2"); shift 2 ;;
    --lengths) sets+=(--set "study.eval-lengths=$2"); shift 2 ;;
    --out) sets+=(--set "study.out=$2"); shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --train-only) run_args+=(--train-only); shift ;;
    *) echo "extrapolation_study.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
  esac
done
sets+=(--set "base.data=$corpus")
"$root/launch/build.sh" --target alibi >/dev/null
alibi=$root/build/launch/alibi
if [[ ! -f $corpus ]]; then
  mkdir -p "$(dirname "$corpus")"
  "$alibi" preprocess --tokenizer bytes --input /usr/share/doc/linux-doc-6.1/html/_sources --output "$corpus"
fi
cd "$root"
"$alibi" study run launch/studies/figure1.ini --local "${run_args[@]}" "${sets[@]}"
[[ ${#run_args[@]} -eq 0 ]] || exit 0
"$alibi" study report launch/studies/figure1.ini "${sets[@]}"
