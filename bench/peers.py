"""Runs one peer library on the exported benchmark data, or prints the comparison table.

Usage (called by bench/peers.sh, one process per run so each can be time-bounded):
  peers.py mirt-irt MODEL CSV OUT Q TOL        mirt 1.2.0 MML-EM (1pl|2pl|3pl|3pl-ml)
  peers.py girth-irt MODEL CSV OUT Q           girth MML (2pl|3pl)
  peers.py mirt-bkt CSV OUT TOL                mirt Baum-Welch BKT
  peers.py pybkt CSV OUT                       pyBKT EM (built from source)
  peers.py table DIR                           side-by-side table from DIR/results/*.json
Each run prints one JSON line: time of the fit call only (data loading excluded), the
library's own final log-likelihood when it reports one, and its iteration count.
"""
import json
import math
import os
import sys
import time

import numpy as np


def load_irt(csv):
    d = np.loadtxt(csv, delimiter=",", skiprows=1)
    learners = d[:, 0].astype(int)
    items = d[:, 1].astype(int)
    y = np.full((learners.max() + 1, items.max() + 1), np.nan)
    y[learners, items] = d[:, 2]
    return y


def write_params(out, a, b, c):
    with open(out, "w") as f:
        f.write("item,a,b,c\n")
        for j in range(len(b)):
            f.write(f"{j},{a[j]},{b[j]},{c[j]}\n")


def mirt_irt(model, csv, out, q, tol):
    import mirt
    from mirt.estimation.priors import BetaPrior, LogNormalPrior

    y = load_irt(csv)
    ml = model.endswith("-ml")
    model = model.replace("-ml", "")
    kwargs = dict(model=model.upper(), n_quadpts=int(q), tol=float(tol),
                  compute_standard_errors=False, max_iter=500)
    if model == "3pl" and not ml:
        # The closest mirt allows to our per-item Beta(40/k + 1, 40(1 − 1/k) + 1): one Beta
        # prior for every item at the mean mode 0.225, same strength, and LogNormal(0, 0.5) on a.
        m = 0.225
        kwargs["priors"] = {"guessing": BetaPrior(40 * m + 1, 40 * (1 - m) + 1),
                            "discrimination": LogNormalPrior(0.0, 0.5)}
    t = time.perf_counter()
    r = mirt.fit_mirt(y, **kwargs)
    secs = time.perf_counter() - t
    p = r.model.parameters
    a = np.asarray(p.get("discrimination", np.ones(y.shape[1]))).ravel()
    if a.size == 1:
        a = np.full(y.shape[1], a.item())
    b = np.asarray(p["difficulty"]).ravel()
    c = np.asarray(p.get("guessing", np.zeros(y.shape[1]))).ravel()
    write_params(out, a, b, c)
    return dict(time_s=secs, log_lik=float(r.log_likelihood), iterations=int(r.n_iterations))


def girth_irt(model, csv, out, q):
    import girth

    y = load_irt(csv)
    data = np.where(np.isnan(y), -1, y).astype(int).T  # items × persons
    data = girth.tag_missing_data(data, [0, 1])
    opts = {"quadrature_n": int(q), "quadrature_bounds": (-6.0, 6.0)}
    t = time.perf_counter()
    if model == "2pl":
        r = girth.twopl_mml(data, options=opts)
        c = np.zeros(data.shape[0])
    else:
        r = girth.threepl_mml(data, options=opts)
        c = np.asarray(r["Guessing"]).ravel()
    secs = time.perf_counter() - t
    write_params(out, np.asarray(r["Discrimination"]).ravel(), np.asarray(r["Difficulty"]).ravel(), c)
    return dict(time_s=secs, log_lik=None, iterations=None)


def load_bkt(csv):
    d = np.loadtxt(csv, delimiter=",", skiprows=1).astype(int)
    return d[:, 0], d[:, 1], d[:, 2]


def write_bkt(out, rows):
    with open(out, "w") as f:
        f.write("kc,p_init,p_learn,p_guess,p_slip\n")
        for k, r in enumerate(rows):
            f.write(f"{k},{r[0]},{r[1]},{r[2]},{r[3]}\n")


def mirt_bkt(csv, out, tol):
    from mirt.estimation.bkt_em import fit_bkt_em

    learner, kc, y = load_bkt(csv)
    n = learner.max() + 1
    per = np.bincount(learner)
    width = per.max()
    resp = np.full((n, width), -1, dtype=int)
    skills = np.zeros((n, width), dtype=int)
    pos = np.arange(len(learner)) - np.repeat(np.cumsum(per) - per, per)
    resp[learner, pos] = y
    skills[learner, pos] = kc
    t = time.perf_counter()
    r = fit_bkt_em(resp, skills, n_skills=int(kc.max() + 1), max_iter=500, tol=float(tol))
    secs = time.perf_counter() - t
    m = r.model
    rows = zip(m.p_init, m.p_learn, m.p_guess, m.p_slip)
    write_bkt(out, list(rows))
    return dict(time_s=secs, log_lik=float(r.log_likelihood), iterations=int(r.n_iterations))


def pybkt(csv, out):
    import pandas as pd
    from pyBKT.models import Model

    learner, kc, y = load_bkt(csv)
    df = pd.DataFrame({"user_id": learner, "skill_name": kc.astype(str), "correct": y,
                       "order_id": np.arange(len(y))})
    model = Model(seed=0, num_fits=1)
    t = time.perf_counter()
    model.fit(data=df)
    secs = time.perf_counter() - t
    p = model.params().reset_index()
    rows = []
    for k in range(int(kc.max() + 1)):
        s = p[p["skill"] == str(k)]
        v = lambda name: float(s[s["param"] == name]["value"].iloc[0])
        rows.append((v("prior"), v("learns"), v("guesses"), v("slips")))
    write_bkt(out, rows)
    return dict(time_s=secs, log_lik=None, iterations=None)


def read_csv(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def rmse(x, y):
    return float(np.sqrt(np.mean((x - y) ** 2)))


def table(d):
    res = {}
    for f in sorted(os.listdir(os.path.join(d, "results"))):
        if f.endswith(".json"):
            res[f[:-5]] = json.load(open(os.path.join(d, "results", f)))
    fmt = lambda v, p=3: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{p}f}"
    for task, truth_file in [("irt2pl", "irt2pl_truth.csv"), ("irt3pl", "irt3pl_truth.csv"), ("bkt", "bkt_truth.csv")]:
        truth = read_csv(os.path.join(d, truth_file))
        rows = [(k.split("__")[1], v) for k, v in res.items() if k.startswith(task + "__")]
        if not rows:
            continue
        ours = dict(rows).get("ours", {})
        print(f"\n== {task} ({'1,000,000 responses'}) ==")
        if task == "bkt":
            print(f"{'tool':<10}{'status':<10}{'time s':>9}{'× ours':>8}{'own LL':>15}{'LL (common)':>15}"
                  f"{'MAE init':>10}{'learn':>8}{'guess':>8}{'slip':>8}")
        else:
            print(f"{'tool':<10}{'status':<10}{'time s':>9}{'× ours':>8}{'own LL':>15}{'LL (81 nodes)':>15}"
                  f"{'RMSE a':>9}{'RMSE b':>9}{'RMSE c':>9}{'iters':>7}")
        for tool, r in rows:
            status = r.get("status", "ok")
            base = dict(rows).get("ours-ml", {}) if tool.endswith("-ml") else ours
            ratio = (r["time_s"] / base["time_s"]) if status == "ok" and base.get("time_s") else None
            if status != "ok" or "params" not in r:
                print(f"{tool:<10}{status:<10}")
                continue
            est = read_csv(r["params"])
            if task == "bkt":
                mae = [float(np.mean(np.abs(est[:, i] - truth[:, i]))) for i in range(1, 5)]
                print(f"{tool:<10}{status:<10}{fmt(r['time_s']):>9}{fmt(ratio, 1):>8}{fmt(r.get('log_lik'), 3):>15}"
                      f"{fmt(r.get('common_ll'), 3):>15}" + "".join(f"{m:>8.4f}" for m in mae))
            else:
                ra, rb = rmse(est[:, 1], truth[:, 1]), rmse(est[:, 2], truth[:, 2])
                rc = rmse(est[:, 3], truth[:, 3]) if task == "irt3pl" else None
                print(f"{tool:<10}{status:<10}{fmt(r['time_s']):>9}{fmt(ratio, 1):>8}{fmt(r.get('log_lik'), 3):>15}"
                      f"{fmt(r.get('common_ll'), 3):>15}{fmt(ra, 4):>9}{fmt(rb, 4):>9}{fmt(rc, 4):>9}"
                      f"{str(r.get('iterations') or '—'):>7}")
        if task == "irt3pl":
            prior = 1.0 / truth[:, 4]
            print(f"RMSE of c for the prior mean 1/k alone: {rmse(prior, truth[:, 3]):.4f}")
    print("\n'-ml' rows: 3PL by maximum likelihood (no priors), compared with each other.")
    print("× ours = peer time / our time. 'LL (81 nodes)' re-evaluates every tool's estimates on the same"
          " 81-node grid on [-6, 6] (our marginal_log_lik), so different quadratures compare fairly.")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "table":
        table(args[0])
        return
    runners = {"mirt-irt": mirt_irt, "girth-irt": girth_irt, "mirt-bkt": mirt_bkt, "pybkt": pybkt}
    print(json.dumps(runners[cmd](*args)))


if __name__ == "__main__":
    main()
