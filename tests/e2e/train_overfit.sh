# Overfitting a short repeated text drives the training loss below 0.05 nats per token.
source "$(dirname "$0")/lib/common.bash"
make_repeated_corpus "$WORK/text"
"$ALIBI" preprocess --input "$WORK/text" --output "$WORK/c.h5" --valid-fraction 0.34 --test-fraction 0.34 >/dev/null
"$ALIBI" train --data "$WORK/c.h5" --out-dir "$WORK/run" --layers 2 --channels 64 --heads 4 --seq-len 64 \
  --micro-batch 8 --steps 150 --lr 3e-3 --warmup 10 --min-lr 3e-4 --eval-every 0 --save-every 0 --log-every 50
final=$(tail -n 1 "$WORK/run/metrics.jsonl")
echo "$final"
python3 - "$final" <<'PY'
import json, sys
m = json.loads(sys.argv[1])
assert m["step"] == 150, m
assert m["loss"] < 0.05, f"training loss {m['loss']} not below 0.05"
assert m["val_loss"] < 0.05, f"validation loss {m['val_loss']} not below 0.05 on the same repeated text"
PY
echo "ok: overfit"
