#!/usr/bin/env python3
"""Exactness and speed check: acrm's BG/NBD and Gamma-Gamma fits against lifetimes' on the CDNOW
sample that ships inside the `lifetimes` package (2,357 customers of the March 1997 cohort,
39 weeks of purchases; Fader, Hardie & Lee 2005).

lifetimes' summary counts in weeks; acrm counts in days, so the script writes the same
customers with recency and T × 7 and compares scale-free: r, a, b, p, q, γ as they are and
acrm's α / 7 with lifetimes' α. Checked:
- every parameter within 1% of lifetimes' (and r, α, a, b within 1% of FHL 2005's published
  0.243, 4.414, 0.793, 2.426; log-likelihood −9582.4);
- each customer's expected purchases over the next 39 weeks and P(alive) against lifetimes'
  formulas evaluated at acrm's parameters, within 1e-6 relative (the same numbers from the
  same parameters), and against lifetimes' own fit (the optimisers' tolerance shows);
- fit time of each side in the same run (acrm's as it reports it, lifetimes' `fit` calls).
Exits 1 when a bound does not hold.

Usage:
  ./test --setup-only && . .venv/bin/activate
  cargo build --release
  python3 benches/clv_vs_lifetimes.py [--work /tmp/acrm-clv]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acrm_release import acrm_binary  # noqa: E402

HORIZON_WEEKS = 39
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def acrm(args: list) -> str:
    out = subprocess.run([acrm_binary(), *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"acrm {' '.join(args)} failed:\n{out.stderr[-4000:]}")
    return out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/acrm-clv")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)

    cdnow = load_cdnow_summary_data_with_monetary_value()
    days = pd.DataFrame({
        "customer_id": cdnow.index.astype(int),
        "frequency": cdnow["frequency"].astype(float),
        "recency_days": cdnow["recency"] * 7,
        "age_days": cdnow["T"] * 7,
        "avg_repeat_spend": cdnow["monetary_value"].astype(float),
    })
    path = os.path.join(a.work, "cdnow_days.csv")
    days.to_csv(path, index=False)

    run = ["mine", "clv", "--input", path, "--horizon-days", str(HORIZON_WEEKS * 7)]
    fit = json.loads(acrm([*run, "--format", "json"]))
    rows = pd.read_csv(pd.io.common.StringIO(acrm([*run, "--format", "csv"]))).set_index("customer_id")
    rows = rows.loc[days["customer_id"]]
    ours = dict(fit["bg_nbd"]["parameters"])
    ours["alpha"] /= 7
    ours.update({k: v for k, v in fit["gamma_gamma"]["parameters"].items()})

    started = time.perf_counter()
    bgf = BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    repeat = cdnow[cdnow["frequency"] > 0]
    ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    lifetimes_seconds = time.perf_counter() - started
    theirs = dict(bgf.params_)
    theirs.update({"p": ggf.params_["p"], "q": ggf.params_["q"], "gamma": ggf.params_["v"]})

    failed = False
    print(f"{'parameter':<10} {'acrm':>12} {'lifetimes':>12} {'rel diff':>10} {'FHL 2005':>9}")
    for name in ["r", "alpha", "a", "b", "p", "q", "gamma"]:
        rel = ours[name] / theirs[name] - 1
        published = PUBLISHED.get(name)
        failed |= abs(rel) > 0.01 or (published is not None and abs(ours[name] / published - 1) > 0.01)
        print(f"{name:<10} {ours[name]:>12.6f} {theirs[name]:>12.6f} {rel:>+10.2e} "
              f"{published if published is not None else '':>9}")
    ll = fit["bg_nbd"]["fit"]["log_likelihood"]
    # acrm's likelihood is in days: a customer's likelihood is a density over x purchase times,
    # so it is 7^-x times the one in weeks; the weeks' log-likelihood adds x·ln 7 back.
    ll_weeks = ll + np.log(7) * cdnow["frequency"].sum()
    print(f"BG/NBD log-likelihood: acrm {ll:.2f} in days, {ll_weeks:.2f} in weeks (FHL 2005: -9582.4)")

    def expected(model):
        return np.asarray(model.conditional_expected_number_of_purchases_up_to_time(
            HORIZON_WEEKS, cdnow["frequency"], cdnow["recency"], cdnow["T"]), dtype=float)

    def alive(model):
        return np.asarray(model.conditional_probability_alive(
            cdnow["frequency"], cdnow["recency"], cdnow["T"]), dtype=float)

    own_fit = (expected(bgf), alive(bgf))
    bgf.params_[:] = [ours["r"], ours["alpha"], ours["a"], ours["b"]]
    same_params = (expected(bgf), alive(bgf))
    acrm_e, acrm_alive = rows["expected_purchases"].to_numpy(), rows["p_alive"].to_numpy()
    for what, (e, p) in [("lifetimes at acrm's parameters", same_params), ("lifetimes' own fit", own_fit)]:
        de, dp = np.max(np.abs(acrm_e / e - 1)), np.max(np.abs(acrm_alive / p - 1))
        print(f"largest relative difference against {what}: expected purchases {de:.2e}, P(alive) {dp:.2e}")
    failed |= np.max(np.abs(acrm_e / same_params[0] - 1)) > 1e-6
    failed |= np.max(np.abs(acrm_alive / same_params[1] - 1)) > 1e-6
    print(f"fit time: acrm {fit['fit_seconds']:.3f} s, lifetimes {lifetimes_seconds:.3f} s "
          f"({fit['fit_seconds'] / lifetimes_seconds:.2f}×)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
