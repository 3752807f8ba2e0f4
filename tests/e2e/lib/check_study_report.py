"""check_study_report.py OUT: the numbers of `alibi study report` (OUT/report.csv) equal
those in each run's own files, read here independently of launch/study_report.py:
the last line of OUT/<run>/metrics.jsonl (final loss), its last val_loss, the eval JSON's
perplexity at every length and mode and its loss at the training length, and the
parameter count the training printed in its log. Exits non-zero naming the first
difference."""
import csv
import glob
import json
import math
import os
import re
import sys

out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "report.csv"))))
if not rows:
    sys.exit("report.csv has no rows")
checked = 0


def same(what, reported, expected):
    global checked
    if reported == "" or expected is None or not math.isclose(float(reported), float(expected), rel_tol=1e-12):
        sys.exit(f"{what}: report {reported!r}, the run's own file {expected!r}")
    checked += 1


for r in rows:
    run_dir = os.path.join(out, r["run"])
    lines = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
    same(f"{r['run']} final_loss", r["final_loss"], lines[-1]["loss"])
    same(f"{r['run']} val_loss", r["val_loss"], [x["val_loss"] for x in lines if "val_loss" in x][-1])
    log = open(os.path.join(run_dir, "study.log" if os.path.exists(os.path.join(run_dir, "study.log")) else "train.log")).read()
    same(f"{r['run']} parameters", r["parameters"], int(re.search(r"model: (\d+) parameters", log).group(1)))
    for path in glob.glob(os.path.join(run_dir, "eval_*.json")):
        mode = os.path.basename(path)[5:-5]
        for e in json.load(open(path)):
            same(f"{r['run']} ppl {mode} @{e['eval_length']}", r[f"ppl_{mode}_{e['eval_length']}"], e["ppl"])
            if e["eval_length"] == int(r["seq_len"]) and mode == "nonoverlapping":
                same(f"{r['run']} eval_loss_T", r["eval_loss_T"], e["loss"])
print(f"ok: report.csv equals the runs' own files ({checked} numbers over {len(rows)} runs)")
