# compare_logprobs.py OURS THEIRS LENGTH ABS_TOL: ours is `alibi eval --dump-logprobs`
# (rows of eval length LENGTH), theirs tests/e2e/lib/llama_cpp.mjs logprobs; every target of
# theirs must be in ours, the same token, the log-probabilities within ABS_TOL, and the
# perplexities within 0.5%. Prints one line of the differences; exits 1 on a mismatch.
import math, sys
ours_path, theirs_path, length, tol = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ours = {}
for line in open(ours_path).read().splitlines()[1:]:
    _, L, w, p, t, lp = line.split("\t")
    if int(L) == length:
        ours[int(w), int(p)] = (int(t), float(lp))
rows = [l.split("\t") for l in open(theirs_path).read().splitlines() if l]
if not rows:
    sys.exit("llama.cpp scored nothing")
max_abs = max_rel = 0.0
sum_ours = sum_theirs = 0.0
for w, p, t, lp in rows:
    target, mine = ours[int(w), int(p)]
    if target != int(t):
        sys.exit(f"window {w} position {p}: target {t} in llama.cpp, {target} here")
    d = abs(mine - float(lp))
    max_abs, max_rel = max(max_abs, d), max(max_rel, d / abs(mine))
    sum_ours += mine
    sum_theirs += float(lp)
ppl_ours, ppl_theirs = math.exp(-sum_ours / len(rows)), math.exp(-sum_theirs / len(rows))
rel = (ppl_theirs - ppl_ours) / ppl_ours
print(f"  {len(rows)} targets: log-prob max |diff| {max_abs:.2e} (max rel {max_rel:.2e}); "
      f"perplexity {ppl_ours:.4f} here, {ppl_theirs:.4f} in llama.cpp ({rel:+.2e})")
if max_abs > tol:
    sys.exit(f"log-probabilities differ by {max_abs:.3e} > {tol}")
if abs(rel) > 0.005:
    sys.exit(f"perplexities differ by {rel:.3e} (more than 0.5%)")
