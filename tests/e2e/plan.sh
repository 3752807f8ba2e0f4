# alibi plan: one process, no MPI launch. The tiny config at tp2 pp2 dp2 prints one line
# per rank and a parameter total that matches the model; a bad layout prints the failed
# equation once.
source "$(dirname "$0")/lib/common.bash"
"$ALIBI" plan --config "$SRC/launch/configs/tiny.ini" --tp 2 --pp 2 --dp 2 >"$WORK/plan.txt" \
  || { cat "$WORK/plan.txt" >&2; fail "plan exited non-zero"; }
cat "$WORK/plan.txt"
# Rank lines: rank, tp, dp, pp, then the [first, last) layers.
ranks=$(grep -cE '^ *[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +\[[0-9]+, [0-9]+\)' "$WORK/plan.txt")
[[ $ranks -eq 8 ]] || fail "expected 8 rank lines, got $ranks"
grep -qE '^ *5 +1 +0 +1 +\[2, 4\) +\[4, 8\)' "$WORK/plan.txt" || fail "rank 5 should be tp 1, dp 0, pp 1, layers [2, 4), heads [4, 8)"
grep -qE '^parameters: .*: ok$' "$WORK/plan.txt" || fail "per-rank parameter counts do not sum to the model's"
grep -q 'h7 2^-8 = 0.00390625' "$WORK/plan.txt" || fail "head 7 of 8 should have slope 2^-8"
echo "ok: plan table"

# --json: machine-readable, the same numbers.
"$ALIBI" plan --config "$SRC/launch/configs/tiny.ini" --tp 2 --pp 2 --dp 2 --json >"$WORK/plan.json"
python3 - "$WORK/plan.json" <<'PY' || fail "plan --json"
import json, sys
p = json.load(open(sys.argv[1]))
assert len(p["ranks"]) == 8, len(p["ranks"])
assert p["parameters_match"] is True
r5 = p["ranks"][5]
assert (r5["tp_rank"], r5["dp_rank"], r5["pp_rank"]) == (1, 0, 1), r5
assert r5["layers"] == [2, 4] and r5["heads"] == [4, 8], r5
assert [s["log2"] for s in r5["slopes"]] == [-5, -6, -7, -8], r5["slopes"]
assert r5["params"]["tied_copy"] > 0 and p["ranks"][1]["params"]["tied_copy"] == 0
print("ok: plan --json")
PY

# Bad layouts: one error line naming the failed equation.
expect_error heads-not-divisible "NH % tp" "$ALIBI" plan --config "$SRC/launch/configs/tiny.ini" --heads 8 --tp 3
expect_error too-many-stages "L >= pp" "$ALIBI" plan --config "$SRC/launch/configs/tiny.ini" --pp 5
echo "ok: plan"

# Scaling study: the 1.3B config on 8 GPUs of 80 GB lists layouts that fit, each row
# tp pp dp mb accum, memory columns, the run (plain or recompute), idle %, step s,
# tokens/s and MFU %; and prints its assumptions.
"$ALIBI" plan --config "$SRC/launch/configs/alibi_1.3b.ini" --gpus 8 --gpu-memory-gb 80 >"$WORK/study.txt" \
  || { cat "$WORK/study.txt" >&2; fail "plan --gpus exited non-zero"; }
cat "$WORK/study.txt"
row='^ *[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+( +[0-9]+\.[0-9]){7} +(plain|recompute) +[0-9.]+ +[0-9.]+ +[0-9,]+ +[0-9.]+$'
layouts=$(grep -cE "$row" "$WORK/study.txt")
[[ $layouts -ge 1 ]] || fail "expected at least one layout row"
grep -qE '^[0-9]+ of [0-9]+ candidates fit' "$WORK/study.txt" || fail "no count of the layouts that fit"
grep -q '^assumptions:' "$WORK/study.txt" || fail "no assumptions printed"
tr '\n' ' ' <"$WORK/study.txt" | tr -s ' ' | grep -q '16 B, 20 B with dp > 1' ||
  fail "the memory accounting per parameter is not stated"
echo "ok: plan --gpus 8: $layouts layout rows"

"$ALIBI" plan --config "$SRC/launch/configs/alibi_1.3b.ini" --gpus 8 --gpu-memory-gb 80 --json >"$WORK/study.json"
python3 - "$WORK/study.json" <<'PY' || fail "plan --gpus --json"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["model"]["parameters"] == 1361887232, p["model"]
fit = [l for l in p["layouts"] if l["fits"]]
assert p["fit"] == len(fit) >= 1 and p["candidates"] == len(p["layouts"])
usable = p["hardware"]["usable_bytes"]
for l in fit:
    assert l["tp"] * l["pp"] * l["dp"] == 8 and l["micro_batch"] * l["grad_accum"] * l["dp"] == p["global_batch"], l
    mem = l["memory_recompute" if l["recompute"] else "memory_plain"]
    assert mem["total"] <= usable, l
    assert mem["total"] == mem["weights"] + mem["grads"] + mem["optimizer"] + mem["activations"] + mem["scratch"], l
    assert l["memory_recompute"]["activations"] < l["memory_plain"]["activations"], l
speeds = [l["tokens_per_s"] for l in fit]
assert speeds == sorted(speeds, reverse=True), "layouts that fit come fastest first"
assert p["assumptions"], "no assumptions"
print("ok: plan --gpus --json:", len(fit), "of", p["candidates"], "fit; fastest",
      {k: fit[0][k] for k in ("tp", "pp", "dp", "micro_batch", "tokens_per_s")})
PY

# One 16 GB GPU: 18 B x 1.36e9 parameters of state alone exceed it; nothing fits.
"$ALIBI" plan --config "$SRC/launch/configs/alibi_1.3b.ini" --gpus 1 --gpu-memory-gb 16 >"$WORK/small.txt"
grep -q '^no layout fits' "$WORK/small.txt" || { cat "$WORK/small.txt" >&2; fail "1 x 16 GB should fit nothing"; }
echo "ok: plan --gpus 1 --gpu-memory-gb 16 fits nothing"
expect_error bad-mfu "--mfu" "$ALIBI" plan --config "$SRC/launch/configs/alibi_1.3b.ini" --gpus 8 --mfu 2
echo "ok: plan scaling study"
