# The study report's power-law fit (launch/study_report.py fit_power_law) recovers known
# parameters: points on L(N) = E + A N^-alpha with no noise, over the sizes of a real
# family (1e4 .. 1.3e9 parameters), give back E, A and alpha to 1e-3 relative, for a
# curve with a floor and one without (E = 0, on its bound). With 1e-3 noise, each true
# value lies within 4 of the reported standard errors and the errors are not zero; with
# exactly 3 points the fit is exact and reports no uncertainty. Gradients of the solver
# are at machine precision on exact data, so 1e-3 leaves room only for a wrong model.
source "$(dirname "$0")/lib/common.bash"
/usr/bin/python3 -c 'import scipy' 2>/dev/null ||
  skip "the fit needs Debian's python3-scipy (launch/setup.sh installs it)"
/usr/bin/python3 - "$SRC/launch" <<'PY' || fail "the power-law fit does not recover known parameters"
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from study_report import fit_power_law

def law(N, E, A, alpha):
    return E + A * N ** -alpha

N = np.geomspace(1e4, 1.3e9, 8)
for E, A, alpha in ((1.69, 406.4, 0.34), (0.0, 25.0, 0.076), (2.5, 3.0e3, 0.5)):
    f = fit_power_law(N, law(N, E, A, alpha))
    for name, true in (("E", E), ("A", A), ("alpha", alpha)):
        err = abs(f[name] - true) / max(abs(true), 1.0)  # E = 0: absolute
        if err > 1e-3:
            sys.exit(f"{name}: fitted {f[name]!r}, true {true!r} (relative error {err:.2g} > 1e-3)")
    print(f"ok: exact points: E={f['E']:.6g} A={f['A']:.6g} alpha={f['alpha']:.6g} (true {E}, {A}, {alpha})")

rng = np.random.default_rng(1)
E, A, alpha = 1.69, 406.4, 0.34
y = law(N, E, A, alpha) * (1 + 1e-3 * rng.standard_normal(len(N)))
f = fit_power_law(N, y)
for name, true in (("E", E), ("A", A), ("alpha", alpha)):
    s = f[name + "_err"]
    if not s or s <= 0 or abs(f[name] - true) > 4 * s:
        sys.exit(f"noisy: {name} = {f[name]:.6g} ± {s}, true {true}")
print(f"ok: noisy points: E={f['E']:.4g}±{f['E_err']:.2g} A={f['A']:.4g}±{f['A_err']:.2g} "
      f"alpha={f['alpha']:.4g}±{f['alpha_err']:.2g}")

three = np.array([3.4e4, 1.7e5, 8.3e5])
f = fit_power_law(three, law(three, 1.2, 30.0, 0.3))
if f["E_err"] is not None or f["rms"] > 1e-9:
    sys.exit(f"3 points: expected an exact fit with no uncertainty, got {f}")
print("ok: 3 points: exact, no uncertainty reported")
PY
