# alibi study run --slurm under a real SLURM (a private one-node cluster, lib/slurm_cluster.bash):
# the suite's tiny study (3 sizes x 2 methods, lib/study_file.bash) submitted as one
# training job per run (launch/slurm/cpu_single_node.sbatch) and one dependent evaluation
# job (launch/slurm/eval.sbatch). One training job is cancelled mid-way (scancel: the ranks
# checkpoint and stop; its evaluation job goes with it). Running the study again submits
# that run alone, which resumes from its checkpoint; the other runs' files stay untouched.
# The report's numbers then equal every run's own files.
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1
/usr/bin/python3 -c 'import scipy, matplotlib' 2>/dev/null ||
  skip "the report needs Debian's python3-scipy and python3-matplotlib (launch/setup.sh installs them)"
source "$(dirname "$0")/lib/slurm_cluster.bash"
source "$(dirname "$0")/lib/study_file.bash"

make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
tiny_study_file "$WORK/tiny.ini" "$WORK/runs" "$WORK/c.h5"
slurm_wait_idle
cd "$WORK"
t0=$EPOCHREALTIME

# wait_queue_empty SECONDS: until no job is queued or running.
wait_queue_empty() {
  for _ in $(seq $(($1 * 4))); do [[ -z $(squeue -h -o %i) ]] && return 0; sleep 0.25; done
  squeue >&2
  fail "jobs still queued after $1 s"
}

"$ALIBI" study run tiny.ini --slurm >"$WORK/submit1.out" 2>&1 || { cat "$WORK/submit1.out" >&2; fail "study run --slurm failed"; }
[[ $(grep -c ': training job ' "$WORK/submit1.out") -eq 6 && $(grep -c ': evaluation job .* (after job ' "$WORK/submit1.out") -eq 6 ]] ||
  { cat "$WORK/submit1.out" >&2; fail "expected 6 training jobs and 6 dependent evaluation jobs"; }

# Cancel the first run's training once it has a checkpoint (every 25 steps) and is still going.
victim=s_position-alibi
jid=$(sed -n "s/^$victim: training job \([0-9]*\).*/\1/p" "$WORK/submit1.out")
lines=0
for _ in $(seq 1200); do
  lines=$({ wc -l <"runs/$victim/metrics.jsonl"; } 2>/dev/null || echo 0)
  [[ $lines -ge 60 ]] && break
  sleep 0.05
done
((lines >= 60 && lines < 391)) || fail "could not catch $victim mid-way (metrics lines: $lines)"
scancel "$jid"
echo "cancelled job $jid ($victim) at metrics line $lines"
"$ALIBI" study status tiny.ini | grep -E "^ *$victim " || true
wait_queue_empty 300
"$ALIBI" study status tiny.ini >"$WORK/status1.out"
grep -q "5 of 6 runs done" "$WORK/status1.out" || { cat "$WORK/status1.out" >&2; fail "expected 5 of 6 runs done"; }
grep -qE "^ *$victim +training " "$WORK/status1.out" || { cat "$WORK/status1.out" >&2; fail "$victim should be mid-training"; }
echo "ok: after the cancellation: 5 of 6 runs done, $victim mid-training"

stamp() { stat -c '%n %Y %s' runs/*/step_*.h5 runs/*/eval_*.json runs/*/metrics.jsonl | grep -v "/$victim/"; }
stamp >"$WORK/before"
"$ALIBI" study run tiny.ini --slurm >"$WORK/submit2.out" 2>&1 || { cat "$WORK/submit2.out" >&2; fail "second study run --slurm failed"; }
[[ $(grep -c 'job [0-9]' "$WORK/submit2.out") -eq 2 ]] && grep -q "^$victim: training job" "$WORK/submit2.out" ||
  { cat "$WORK/submit2.out" >&2; fail "expected only $victim's training and evaluation to be submitted again"; }
[[ $(grep -c ': done$' "$WORK/submit2.out") -eq 5 ]] || { cat "$WORK/submit2.out" >&2; fail "expected 5 runs skipped as done"; }
wait_queue_empty 300
stamp | diff "$WORK/before" - >/dev/null || fail "the re-run changed a finished run's files"
grep -qE "resumed from .*/$victim/step_0*[1-9][0-9]*\.h5 at step [1-9]" "runs/$victim/train.log" ||
  { cat "runs/$victim/train.log" >&2; fail "$victim did not resume from its checkpoint"; }
echo "ok: re-run: only $victim submitted; it $(grep -oE 'resumed from .* at step [0-9]+' "runs/$victim/train.log" | tail -1)"
"$ALIBI" study status tiny.ini | grep -q "6 of 6 runs done" || fail "status does not say 6 of 6 done"
"$ALIBI" study report tiny.ini >"$WORK/report.out" 2>&1 || { cat "$WORK/report.out" >&2; fail "report failed"; }
/usr/bin/python3 "$SRC/tests/e2e/lib/check_study_report.py" "$WORK/runs" || fail "the report's numbers differ from the runs' files"
echo "ok: alibi study under SLURM: cancel, re-run, resume, report in $(python3 -c "print(f'{$EPOCHREALTIME - $t0:.1f}')") s"
