# Shared helpers for the end-to-end CLI tests. Each test is run by ctest as
#   bash tests/e2e/<name>.sh <path-to-alibi> <source-dir>
set -euo pipefail
ALIBI=$1
SRC=$2
WORK=$(mktemp -d /tmp/alibi-e2e.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # ctest runs two tests at once on two cores

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error NAME PATTERN CMD...: CMD must exit non-zero with exactly one line on stderr
# matching PATTERN (a grep -E regex).
expect_error() {
  local name=$1 pattern=$2; shift 2
  local err="$WORK/$name.err" code=0
  "$@" >"$WORK/$name.out" 2>"$err" || code=$?
  [[ $code -ne 0 ]] || fail "$name: exit code 0, expected an error"
  local lines; lines=$(wc -l <"$err")
  [[ $lines -eq 1 ]] || { cat "$err" >&2; fail "$name: $lines lines on stderr, expected 1"; }
  grep -qE -e "$pattern" "$err" || { cat "$err" >&2; fail "$name: error does not match /$pattern/"; }
  echo "ok: $name: $(cat "$err")"
}

# expect_resumed_like_uninterrupted WHAT RESUMED_METRICS REFERENCE_METRICS STEPS: the
# interrupted and resumed run's metrics.jsonl holds steps 1..STEPS once each (it reads as
# one run), and its final loss is the uninterrupted run's within 1e-6 relative: resume at
# the same layout and thread count is bit-exact, and the loss is printed with 6 decimals
# (~1e-6 relative at a loss of ~2), so this asks for equality.
expect_resumed_like_uninterrupted() {
  python3 - "$@" <<'PY'
import json, sys
what, n = sys.argv[1], int(sys.argv[4])
a = [json.loads(l) for l in open(sys.argv[2])]
b = [json.loads(l) for l in open(sys.argv[3])]
assert [m["step"] for m in a] == list(range(1, n + 1)), f"{what}: metrics.jsonl does not hold steps 1..{n} once each"
rel = abs(a[-1]["loss"] - b[-1]["loss"]) / abs(b[-1]["loss"])
same = sum(x["loss"] == y["loss"] for x, y in zip(a, b))
print(f"{what}: final loss {a[-1]['loss']:.6f}, uninterrupted {b[-1]['loss']:.6f}, rel {rel:.1e}; "
      f"{same}/{n} step losses identical")
assert rel <= 1e-6, f"{what}: final loss differs by {rel:.2e} relative"
PY
}

# make_repeated_corpus DIR: three documents of a short text repeated; each byte of the
# period determines the next, so a model can drive the loss to ~0.
make_repeated_corpus() {
  local dir=$1 period="abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,;0123456789"
  mkdir -p "$dir"
  for d in 1 2 3; do
    for _ in $(seq 400); do printf '%s' "$period"; done >"$dir/doc$d.txt"
  done
}

# make_text_corpus DIR N: N documents of real text (the Linux docs when installed, else
# this repository's sources).
make_text_corpus() {
  local dir=$1 n=$2 i=0
  mkdir -p "$dir"
  local src=/usr/share/doc/linux-doc-6.1/html/_sources
  [[ -d $src ]] || src=$SRC
  while IFS= read -r f; do
    cp "$f" "$dir/doc$i.txt"; i=$((i + 1)); [[ $i -lt $n ]] || break
  done < <(find "$src" -type f \( -name '*.txt' -o -name '*.cpp' -o -name '*.h' \) -size +4k | sort)
}
