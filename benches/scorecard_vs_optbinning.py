#!/usr/bin/env python3
"""Scorecard check: acrm's optimal binning, information values and scorecard against
optbinning (Navas-Palencia's mathematical-programming binning, the reference Python tool) on
../shared/data/german_credit.csv (UCI Statlog German credit, 1,000 applicants, target
`default`, 2 = bad).

Both sides see the same seeded, stratified 75% training file (and are measured on the same
other 25%). Same binning constraints on both sides: CART pre-binning into at most 20 pre-bins of >= 5% of
the rows, bins of >= 5% of the rows, a monotone bad rate (numbers: ascending or descending,
whichever holds more information — optbinning's `auto_asc_desc`; categories: grouped in bad-rate
order, optbinning's `ascending` on its event-rate-sorted categories), no limit on the number of
bins, no special values. acrm runs `acrm mine credit scorecard --input train.csv --test-input
test.csv --format json`, which reports every characteristic's bins and IV (used or not);
optbinning's `OptimalBinning` bins each column of train.csv.

Reported: IV per characteristic on both sides and the difference, the bins of each, and the fit
times; exits 1 if any |difference| > 0.02 (issue 19's bound). Then the scorecards: acrm's
(WoE logistic regression, C = 1 on standardised WoE, characteristics of IV >= 0.02) and
optbinning's `BinningProcess` (same bins and IV bound) with scikit-learn's
`LogisticRegression(C=1)` on the standardised WoE: test AUC side by side.

Usage:
  pip install -r requirements-dev.txt
  cargo build --release
  python3 benches/scorecard_vs_optbinning.py [--work /tmp/acrm-scorecard]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from optbinning import BinningProcess, OptimalBinning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))

from acrm_release import acrm_binary  # noqa: E402

GERMAN = os.path.join(ROOT, "..", "shared", "data", "german_credit.csv")
TARGET = "default"
BOUND = 0.02
PARAMS = dict(prebinning_method="cart", max_n_prebins=20, min_prebin_size=0.05, min_bin_size=0.05)


def acrm_card(acrm: str, train: str, test: str, work: str) -> tuple[dict, float]:
    cmd = [acrm, "mine", "credit", "scorecard", "--input", train, "--test-input", test,
           "--target", TARGET, "--positive", "2", "--no-save", "--format", "json",
           "--warehouse", work]
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout), seconds


def optbinning_binning(df: pd.DataFrame, column: str) -> OptimalBinning:
    numeric = pd.api.types.is_numeric_dtype(df[column])
    ob = OptimalBinning(
        name=column,
        dtype="numerical" if numeric else "categorical",
        monotonic_trend="auto_asc_desc" if numeric else "ascending",
        **PARAMS,
    )
    ob.fit(df[column].values, (df[TARGET] == 2).astype(int).values)
    return ob


def compare_iv(card: dict, acrm_seconds: float, df: pd.DataFrame) -> bool:
    ours = {c["name"]: c for c in card["scorecard"]["characteristics"]}
    started = time.perf_counter()
    theirs = {c: optbinning_binning(df, c) for c in df.columns if c != TARGET}
    optb_seconds = time.perf_counter() - started
    ok = True
    print(f"{'characteristic':<24} {'acrm IV':>8} {'optb IV':>8} {'diff':>8}  acrm bins | optbinning bins")
    worst = 0.0
    for name, ob in theirs.items():
        table = ob.binning_table.build()
        their_iv = float(table.loc["Totals", "IV"])
        our_iv = ours[name]["iv"]
        diff = our_iv - their_iv
        worst = max(worst, abs(diff))
        flag = "" if abs(diff) <= BOUND else "  <-- over the bound"
        ok &= abs(diff) <= BOUND
        our_bins = len(ours[name]["bins"]) - 1
        their_bins = len(table) - 3  # less Special, Missing and Totals
        print(f"{name:<24} {our_iv:8.4f} {their_iv:8.4f} {diff:+8.4f}  {our_bins:>9} | {their_bins}{flag}")
    print(f"\nlargest |IV difference| {worst:.4f} (bound {BOUND}); "
          f"fit: acrm {acrm_seconds:.2f} s for the whole scorecard (process start and file read "
          f"included), optbinning {optb_seconds:.2f} s for the binning alone")
    return ok


def compare_scorecards(card: dict, train: pd.DataFrame, test: pd.DataFrame) -> None:
    ours = card["test_metrics"]["auc"]
    features = [c for c in train.columns if c != TARGET]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(train[c])]
    fit_params = {
        c: {"monotonic_trend": "ascending" if c in categorical else "auto_asc_desc"}
        for c in features
    }
    process = BinningProcess(
        features, categorical_variables=categorical,
        selection_criteria={"iv": {"min": 0.02}},
        binning_fit_params=fit_params,
        **{k: v for k, v in PARAMS.items() if k != "prebinning_method"},  # CART is its default
    )
    y_train = (train[TARGET] == 2).astype(int).values
    y_test = (test[TARGET] == 2).astype(int).values
    process.fit(train[features], y_train)
    woe_train = process.transform(train[features], metric="woe")
    woe_test = process.transform(test[features], metric="woe")
    scaler = StandardScaler().fit(woe_train)
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(woe_train), y_train)
    theirs = roc_auc_score(y_test, lr.predict_proba(scaler.transform(woe_test))[:, 1])
    used = [c["name"] for c in card["scorecard"]["characteristics"] if c["status"] == "used"]
    print(f"\nscorecard on a stratified 75/25 split (seed 7): test AUC acrm {ours:.4f}, "
          f"optbinning + scikit-learn {theirs:.4f} (difference {ours - theirs:+.4f}); "
          f"acrm used {len(used)} characteristics, optbinning selected "
          f"{int(process.get_support().sum())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="/tmp/acrm-scorecard")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    acrm = acrm_binary()
    df = pd.read_csv(GERMAN)
    train, test = train_test_split(df, test_size=0.25, random_state=7, stratify=df[TARGET])
    train_path = os.path.join(args.work, "train.csv")
    test_path = os.path.join(args.work, "test.csv")
    train.to_csv(train_path, index=False)
    test.to_csv(test_path, index=False)
    card, seconds = acrm_card(acrm, train_path, test_path, args.work)
    print(f"{len(train)} training rows (seeded stratified split), {len(test)} test rows\n")
    ok = compare_iv(card, seconds, train)
    compare_scorecards(card, train, test)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
