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
