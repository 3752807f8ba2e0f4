#!/usr/bin/python3
"""The report of a scaling study (`alibi study report STUDY.ini` writes the manifest
OUT/study.json and runs this on it): every run's metrics.jsonl and eval JSON gathered into

  OUT/report.csv   one row per run: parameters, tokens, training FLOPs, final training
                   loss, validation loss, the eval loss at the training length, tokens/s,
                   MFU (when the study gives peak-tflops), wall time, and the perplexity at
                   every evaluation length and mode
  OUT/report.md    the same as a Markdown table, the power-law fits, extrapolation ratios
  OUT/loss_vs_params.png, OUT/loss_vs_flops.png   loss at the training length against
                   parameters / training FLOPs, one series per method, with the fitted
                   L(N) = E + A N^-alpha
  OUT/ppl_vs_length_<mode>.png   perplexity against evaluation length per size and method
  OUT/extrapolation_ratio.png    ppl at k x T over ppl at T, against parameters

Debian's python3-numpy, python3-scipy and python3-matplotlib (launch/setup.sh installs
them); run with /usr/bin/python3. Importable: fit_power_law is tested on its own
(tests/e2e/study_fit.sh).
"""
import csv
import json
import math
import os
import statistics
import sys

import numpy as np


# ---- the fit ------------------------------------------------------------------------------

def fit_power_law(x, y):
    """Least-squares fit of y = E + A x^-alpha (scipy's curve_fit, E >= 0, A > 0, alpha > 0).

    x is rescaled by its geometric mean x0 for the solver (A' = A x0^-alpha), and the
    covariance is carried back through that change of variables. Returns a dict with E,
    A, alpha, their standard errors (None when there are no more points than parameters:
    the curve then passes through the points and says nothing about its uncertainty),
    the residual RMS and the number of points.
    """
    import warnings
    from scipy.optimize import OptimizeWarning, curve_fit

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 3 or len(set(x)) < 3:
        raise ValueError(f"a power law with an offset needs 3 distinct sizes, got {len(set(x))}")
    x0 = math.exp(float(np.mean(np.log(x))))
    u = x / x0

    def model(u, E, A, alpha):
        return E + A * u ** (-alpha)

    # Start: E a little below the smallest loss, then a straight line in log-log.
    best = None
    for frac in (0.0, 0.5, 0.8, 0.9, 0.95):
        E0 = frac * float(np.min(y))
        slope, intercept = np.polyfit(np.log(u), np.log(np.maximum(y - E0, 1e-12)), 1)
        p0 = [E0, math.exp(intercept), max(-slope, 1e-3)]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)  # no covariance at 3 points: handled below
                p, cov = curve_fit(model, u, y, p0=p0, bounds=([0, 1e-12, 1e-6], [np.inf, np.inf, 10]),
                                   method="trf", x_scale="jac", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
        except RuntimeError:
            continue
        sse = float(np.sum((model(u, *p) - y) ** 2))
        if best is None or sse < best[2]:
            best = (p, cov, sse)
    if best is None:
        raise ValueError("the least-squares fit did not converge")
    (E, A1, alpha), cov, sse = best
    A = A1 * x0 ** alpha  # A' u^-alpha = A' x0^alpha x^-alpha
    dof = len(x) - 3
    errors = None
    if dof > 0 and np.all(np.isfinite(cov)):
        # d(E, A, alpha) / d(E, A', alpha)
        J = np.array([[1, 0, 0], [0, x0 ** alpha, A * math.log(x0)], [0, 0, 1]])
        c = J @ cov @ J.T
        errors = [math.sqrt(max(c[i, i], 0.0)) for i in range(3)]
    return {
        "E": float(E), "A": float(A), "alpha": float(alpha),
        "E_err": errors and errors[0], "A_err": errors and errors[1], "alpha_err": errors and errors[2],
        "rms": math.sqrt(sse / len(x)), "points": len(x),
    }


def describe_fit(f):
    def pm(v, e, fmt):
        v = 0.0 if abs(v) < 1e-12 else v
        return f"{v:{fmt}}" + (f" ± {e:{fmt}}" if e is not None else "")
    text = (f"E = {pm(f['E'], f['E_err'], '.4g')}, A = {pm(f['A'], f['A_err'], '.4g')}, "
            f"alpha = {pm(f['alpha'], f['alpha_err'], '.4g')} (RMS residual {f['rms']:.2g}, {f['points']} points")
    if f["E"] < 1e-9:
        text += "; E at its bound 0: the points bend the other way, a pure power law fits best"
    if f["E_err"] is None:
        text += "; 3 points for 3 parameters: no uncertainty can be estimated"
    return text + ")"


# ---- one run's files ----------------------------------------------------------------------

def read_metrics(path):
    """final loss, last val_loss, median tokens/s (after 5 steps of warm-up), wall seconds.

    A resumed run's file reads as one run, but each start's elapsed_s counts from zero:
    the wall time is the sum of each start's last elapsed_s.
    """
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line cut by a kill
    if not rows:
        return None
    vals = [r["val_loss"] for r in rows if "val_loss" in r]
    wall, last = 0.0, 0.0
    for r in rows:
        if r["elapsed_s"] < last:
            wall += last
        last = r["elapsed_s"]
    wall += last
    speeds = [r["tokens_per_s"] for r in rows[5:]] or [r["tokens_per_s"] for r in rows]
    return {"step": rows[-1]["step"], "final_loss": rows[-1]["loss"], "val_loss": vals[-1] if vals else None,
            "tokens_per_s": statistics.median(speeds), "wall_s": wall}


def read_eval(path):
    """{eval_length: (loss, ppl)} of one mode's JSON, or None when it is not there yet."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return {int(r["eval_length"]): (float(r["loss"]), float(r["ppl"])) for r in json.load(f)}


def gather(manifest):
    modes = manifest["eval_modes"]
    peak = manifest.get("peak_tflops_per_rank") or 0
    rows = []
    for run in manifest["runs"]:
        metrics_path = os.path.join(run["out_dir"], "metrics.jsonl")
        m = read_metrics(metrics_path) if os.path.exists(metrics_path) else None
        evals = {mode: read_eval(run["eval"][mode]) for mode in modes}
        T = run["seq_len"]
        at_T = next((e[T] for e in evals.values() if e and T in e), None)
        row = {
            "run": run["name"], "size": run["size"],
            **{k: v for k, v in run["axes"].items()},
            "position": run["position"], "seq_len": T, "parameters": run["parameters"], "tokens": run["tokens"],
            "train_flops": run["flops_per_token"] * run["tokens"],
            "complete": bool(m and m["step"] == run["steps"] and all(evals.values())),
            "final_loss": m and m["final_loss"], "val_loss": m and m["val_loss"],
            "eval_loss_T": at_T and at_T[0],
            "tokens_per_s": m and m["tokens_per_s"],
            "mfu": (m["tokens_per_s"] * run["flops_per_token"] / (run["ranks"] * peak * 1e12)) if m and peak else None,
            "wall_s": m and m["wall_s"],
        }
        for mode in modes:
            for L in run["eval_lengths"]:
                e = evals[mode]
                row[f"ppl_{mode}_{L}"] = e[L][1] if e and L in e else None
        rows.append(row)
    return rows


def series_of(row, manifest):
    """Runs of one series differ only in size: the axes' values (method, seq-len, seed...)."""
    axes = [k for k in manifest["runs"][0]["axes"]] if manifest["runs"] else []
    return ", ".join(f"{k}={row[k]}" for k in axes) or row["position"]


# ---- outputs ------------------------------------------------------------------------------

def fmt(v, digits=4):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) >= 1e5:
        return f"{v:.3g}"
    return f"{v:.{digits}f}"


def main():
    manifest_path = sys.argv[1]
    with open(manifest_path) as f:
        manifest = json.load(f)
    out = manifest["out"]
    rows = gather(manifest)
    keys = list(rows[0].keys()) if rows else []
    for r in rows[1:]:
        keys += [k for k in r if k not in keys]
    with open(os.path.join(out, "report.csv.tmp"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else repr(r[k]) if isinstance(r[k], float) else r[k]) for k in keys})
    os.replace(os.path.join(out, "report.csv.tmp"), os.path.join(out, "report.csv"))

    # Fits: loss at the training length (else the last validation loss) against N and FLOPs.
    done = [r for r in rows if r["complete"]]
    series = {}
    for r in done:
        series.setdefault(series_of(r, manifest), []).append(r)
    fits = {}
    for name, rs in series.items():
        y = [r["eval_loss_T"] if r["eval_loss_T"] is not None else r["val_loss"] for r in rs]
        for xkey in ("parameters", "train_flops"):
            try:
                fits[(name, xkey)] = fit_power_law([r[xkey] for r in rs], y)
            except ValueError as e:
                fits[(name, xkey)] = str(e)

    lines = [f"# Study {manifest['study']}", "",
             f"{len(done)} of {len(rows)} runs complete. Study file: `{manifest['path']}`. "
             "Losses in nats per token; `loss@T`: the evaluation at the training length over the whole "
             "validation split (non-overlapping); `val loss`: the last `--eval-every` estimate of training; "
             "ppl columns: perplexity at each evaluation length and mode. tokens/s: median over the run's steps; "
             "wall: training only.", ""]
    ppl_keys = [k for k in keys if k.startswith("ppl_")]
    head = ["run", "params", "tokens", "train FLOPs", "final loss", "val loss", "loss@T", "tokens/s", "MFU %", "wall s"]
    head += [k[4:].replace("nonoverlapping", "nonov").replace("_", " @") for k in ppl_keys]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for r in rows:
        cells = [r["run"] + ("" if r["complete"] else " (incomplete)"), fmt(r["parameters"]), fmt(r["tokens"]),
                 fmt(r["train_flops"]), fmt(r["final_loss"]), fmt(r["val_loss"]), fmt(r["eval_loss_T"]),
                 fmt(r["tokens_per_s"], 0), fmt(r["mfu"] and 100 * r["mfu"], 1), fmt(r["wall_s"], 0)]
        cells += [fmt(r.get(k), 3) for k in ppl_keys]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Power-law fits: L = E + A x^-alpha", ""]
    for (name, xkey), f in fits.items():
        x = "N (parameters)" if xkey == "parameters" else "C (training FLOPs)"
        lines.append(f"- {name}, against {x}: " + (describe_fit(f) if isinstance(f, dict) else f"no fit: {f}"))
    ratios = extrapolation_ratios(done, manifest)
    if ratios:
        lines += ["", f"## Extrapolation: ppl at k x T / ppl at T ({ratios['mode']})", ""]
        ks = ratios["ks"]
        lines.append("| run | params | " + " | ".join(f"{k:g}x" for k in ks) + " |")
        lines.append("|" + "---|" * (len(ks) + 2))
        for r, vals in ratios["rows"]:
            lines.append(f"| {r['run']} | {fmt(r['parameters'])} | " + " | ".join(fmt(vals.get(k), 3) for k in ks) + " |")
    plots = make_plots(out, done, manifest, fits, ratios)
    if plots:
        lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in plots)]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {out}/report.csv, {out}/report.md" + "".join(f", {out}/{p}" for p in plots))


def extrapolation_ratios(done, manifest):
    if not done:
        return None
    mode = "nonoverlapping" if "nonoverlapping" in manifest["eval_modes"] else manifest["eval_modes"][0]
    out_rows, ks = [], set()
    for r in done:
        T = r["seq_len"]
        base = r.get(f"ppl_{mode}_{T}")
        vals = {}
        for key, v in r.items():
            if key.startswith(f"ppl_{mode}_") and v is not None and base:
                L = int(key.rsplit("_", 1)[1])
                if L > T:
                    vals[L / T] = v / base
        ks.update(vals)
        out_rows.append((r, vals))
    return {"mode": mode, "ks": sorted(ks), "rows": out_rows} if ks else None


def plain_numbers(axis):
    """Log-scale ticks as 12 and 20, not 1.2x10^1 (perplexities span less than a decade)."""
    from matplotlib.ticker import ScalarFormatter
    for formatter in (axis.set_major_formatter, axis.set_minor_formatter):
        f = ScalarFormatter()
        f.set_scientific(False)
        formatter(f)


def make_plots(out, done, manifest, fits, ratios):
    if not done:
        return []
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    series = {}
    for r in done:
        series.setdefault(series_of(r, manifest), []).append(r)

    for xkey, label, name in (("parameters", "parameters N", "loss_vs_params.png"),
                              ("train_flops", "training FLOPs C", "loss_vs_flops.png")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, (s, rs) in enumerate(series.items()):
            color = f"C{i}"
            xs = [r[xkey] for r in rs]
            ys = [r["eval_loss_T"] if r["eval_loss_T"] is not None else r["val_loss"] for r in rs]
            ax.plot(xs, ys, "o", color=color, label=s)
            f = fits.get((s, xkey))
            if isinstance(f, dict):
                grid = np.geomspace(min(xs) / 1.5, max(xs) * 1.5, 100)
                ax.plot(grid, f["E"] + f["A"] * grid ** (-f["alpha"]), "-", color=color, alpha=0.7,
                        label=f"  E={f['E']:.3g} + {f['A']:.3g} x^-{f['alpha']:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("loss at the training length (nats/token)")
        ax.set_title(f"{manifest['study']}: loss against {label}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=90)
        plt.close(fig)
        written.append(name)

    for mode in manifest["eval_modes"]:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        styles = {}
        for r in sorted(done, key=lambda r: r["parameters"]):
            pts = sorted((int(k.rsplit("_", 1)[1]), v) for k, v in r.items() if k.startswith(f"ppl_{mode}_") and v is not None)
            s = series_of(r, manifest)
            styles.setdefault(s, ["-", "--", ":", "-."][len(styles) % 4])
            sizes = sorted({x["parameters"] for x in done})
            ax.plot([p[0] for p in pts], [p[1] for p in pts], styles[s], marker="o", ms=3,
                    color=f"C{sizes.index(r['parameters']) % 10}", label=f"{r['size'] or r['run']} {s}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        plain_numbers(ax.yaxis)
        ax.set_xlabel("evaluation length (tokens)")
        ax.set_ylabel("perplexity")
        ax.set_title(f"{manifest['study']}: perplexity against length ({mode})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = f"ppl_vs_length_{mode}.png"
        fig.savefig(os.path.join(out, name), dpi=90)
        plt.close(fig)
        written.append(name)

    if ratios:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, s in enumerate(series):
            for j, k in enumerate(ratios["ks"]):
                pts = sorted((r["parameters"], v[k]) for r, v in ratios["rows"] if series_of(r, manifest) == s and k in v)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ["-", "--", ":", "-."][i % 4], marker="o", ms=3,
                        color=f"C{j}", label=f"{s}, {k:g}x T")
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_numbers(ax.yaxis)
        ax.set_xlabel("parameters N")
        ax.set_ylabel(f"ppl at k x T / ppl at T ({ratios['mode']})")
        ax.set_title(f"{manifest['study']}: extrapolation against size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "extrapolation_ratio.png"), dpi=90)
        plt.close(fig)
        written.append("extrapolation_ratio.png")
    return written


if __name__ == "__main__":
    try:
        import scipy  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError as e:
        sys.exit(f"alibi study report: {e}: install python3-scipy and python3-matplotlib (launch/setup.sh does) "
                 f"and run with Debian's /usr/bin/python3")
    main()
