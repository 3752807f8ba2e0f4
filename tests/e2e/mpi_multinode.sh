# launch/mpirun_multi_node.sh with a hostfile: two "nodes" (localhost listed twice, one
# slot each: Open MPI 4.1 rejects the same host twice with slots=1 on each line), 2 ranks
# of data parallelism. The run finishes (metrics for every step, a checkpoint) and its
# losses equal a single-process run of the same global batch (micro-batch doubled).
source "$(dirname "$0")/lib/common.bash"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
export ALIBI_BIN=$ALIBI ALIBI_MPIRUN_ARGS="--oversubscribe"
make_text_corpus "$WORK/text" 8
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" >/dev/null
printf '# two slots on this machine, as two nodes of one slot would be written\nlocalhost\nlocalhost\n' >"$WORK/hosts"
args=(--data "$WORK/c.h5" --layers 2 --channels 32 --heads 4 --seq-len 32 --steps 6 --warmup 2 --lr 3e-3
      --save-every 3 --keep 0 --eval-every 0 --eval-batches 2 --log-every 1)

"$SRC/launch/mpirun_multi_node.sh" "$WORK/hosts" 2 "${args[@]}" --micro-batch 2 --out-dir "$WORK/dp2" >"$WORK/dp2.out" 2>&1 \
  || { cat "$WORK/dp2.out" >&2; fail "mpirun_multi_node.sh exited non-zero"; }
grep -q "layout tp=1 pp=1 dp=2" "$WORK/dp2.out" || { cat "$WORK/dp2.out" >&2; fail "expected dp=2 over the two slots"; }
[[ -f "$WORK/dp2/step_00000006.h5" && -f "$WORK/dp2/step_00000003.h5" ]] || fail "checkpoints missing"
[[ $(wc -l <"$WORK/dp2/metrics.jsonl") -eq 6 ]] || fail "metrics.jsonl should hold 6 steps"

"$ALIBI" train "${args[@]}" --micro-batch 4 --out-dir "$WORK/single" >/dev/null

# Losses agree within 1e-5 relative: the runs differ only in the order of float sums (DP
# sums two half-batch gradients); observed: equal to the 6 printed decimals.
python3 - "$WORK/dp2/metrics.jsonl" "$WORK/single/metrics.jsonl" <<'PY' || fail "losses differ"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert [m["step"] for m in a] == [m["step"] for m in b] == list(range(1, 7)), (a, b)
for x, y in zip(a, b):
    rel = abs(x["loss"] - y["loss"]) / abs(y["loss"])
    print(f"step {x['step']}: dp2 {x['loss']:.6f} single {y['loss']:.6f} rel {rel:.1e}")
    assert rel <= 1e-5, f"step {x['step']}: relative difference {rel:.2e}"
PY
echo "ok: mpi multinode"
