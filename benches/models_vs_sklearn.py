#!/usr/bin/env python3
"""Accuracy check: acrm's decision tree and logistic regression against scikit-learn's on the
same files and the same train/test splits.

Data sets:
  credit   the sample warehouse's approved applications with an outcome (exported with
           `acrm sql`), split by application date at the day acrm's own time split uses;
  churn    the churn populations acrm trains and tests on (`acrm mine churn train
           --export-data DIR`), train as of one date, test one horizon later;
  german   ../shared/data/german_credit.csv (UCI Statlog German credit, target `default`,
           2 = bad), a seeded stratified 25% test split written to two files.

For each data set both tools read the same train.csv and test.csv. acrm runs `acrm mine
credit train --input train.csv --test-input test.csv --kind tree|logistic --no-save --format
json`; scikit-learn gets the same encoding acrm documents (numbers as they are with missing
values filled by the training median plus a 0/1 "is missing" column when training had
missing values, true/false as 1/0, text one-hot over the sorted training categories) and fits
`DecisionTreeClassifier(max_depth, min_samples_leaf)` and `LogisticRegression(C=1)` on
standardised features. Reported: test ROC AUC of each and the difference; exits 1 if any
|difference| > 0.01 (the acceptance bound).

Usage:
  pip install -r requirements-dev.txt
  cargo build --release
  python3 benches/models_vs_sklearn.py --warehouse /tmp/warehouse [--work /tmp/acrm-models]
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))

from acrm_release import acrm_binary  # noqa: E402

CREDIT_SQL = """SELECT application_id, customer_id, application_date, age,
  CAST(income AS DOUBLE) AS income, has_savings_account, homeowner, employment_years,
  CAST(existing_debt AS DOUBLE) AS existing_debt, CAST(requested_amount AS DOUBLE) AS requested_amount,
  term_months, outcome
FROM fact_credit_application WHERE decision = 'approved' AND outcome IS NOT NULL
ORDER BY application_date, application_id"""


def run(args: list) -> str:
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{out.stderr}")
    return out.stdout


def encode(train: pd.DataFrame, test: pd.DataFrame, skip: list, max_categories: int = 30):
    """acrm's documented encoding, fitted on `train`, applied to both."""
    cols_train, cols_test = [], []
    for c in train.columns:
        if c in skip:
            continue
        tr, te = train[c], test[c]
        if tr.dtype == bool or pd.api.types.is_numeric_dtype(tr):
            tr, te = tr.astype(float), te.astype(float)
            fill = float(tr.median()) if tr.notna().any() else 0.0
            cols_train.append(tr.fillna(fill).to_numpy())
            cols_test.append(te.fillna(fill).to_numpy())
            if tr.isna().any():
                cols_train.append(tr.isna().astype(float).to_numpy())
                cols_test.append(te.isna().astype(float).to_numpy())
        else:
            tr, te = tr.fillna("(missing)").astype(str), te.fillna("(missing)").astype(str)
            categories = sorted(tr.unique())
            if len(categories) > max_categories:
                continue
            for cat in categories:
                cols_train.append((tr == cat).astype(float).to_numpy())
                cols_test.append((te == cat).astype(float).to_numpy())
    return np.column_stack(cols_train), np.column_stack(cols_test)


def compare(name, work, target, positive, skip, depth, leaf):
    train_path, test_path = os.path.join(work, f"{name}_train.csv"), os.path.join(work, f"{name}_test.csv")
    train, test = pd.read_csv(train_path), pd.read_csv(test_path)
    # pandas reads true/false as booleans ("True"); acrm names them "true".
    y_train = (train[target].astype(str).str.lower() == positive.lower()).to_numpy()
    y_test = (test[target].astype(str).str.lower() == positive.lower()).to_numpy()
    x_train, x_test = encode(train, test, skip + [target])
    results = []
    for kind in ["tree", "logistic"]:
        cmd = [acrm_binary(), "mine", "credit", "train", "--input", train_path, "--test-input", test_path,
               "--target", target, "--positive", positive, "--kind", kind, "--max-depth", str(depth),
               "--min-samples-leaf", str(leaf), "--no-save", "--format", "json"]
        for s in skip:
            cmd += ["--exclude", s]
        acrm_auc = json.loads(run(cmd))["test_metrics"]["auc"]
        if kind == "tree":
            model = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, random_state=0)
            model.fit(x_train, y_train)
            p = model.predict_proba(x_test)[:, 1]
        else:
            scaler = StandardScaler().fit(x_train)
            model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x_train), y_train)
            p = model.predict_proba(scaler.transform(x_test))[:, 1]
        sk_auc = roc_auc_score(y_test, p)
        results.append((name, kind, len(train), len(test), acrm_auc, sk_auc))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", default=os.path.join(ROOT, "warehouse"))
    ap.add_argument("--work", default="/tmp/acrm-models")
    ap.add_argument("--max-depth", type=int, default=5)
    ap.add_argument("--min-samples-leaf", type=int, default=20)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    acrm = acrm_binary()

    # credit: acrm's own time split of the warehouse data, written as two files.
    model = json.loads(run([acrm, "mine", "credit", "train", "-w", a.warehouse, "--no-save", "--format", "json"]))
    cut = model["data"]["split"]["cut"]
    rows = pd.read_csv(pd.io.common.StringIO(run([acrm, "sql", "-w", a.warehouse, "--format", "csv", CREDIT_SQL])))
    rows[rows.application_date < cut].to_csv(os.path.join(a.work, "credit_train.csv"), index=False)
    rows[rows.application_date >= cut].to_csv(os.path.join(a.work, "credit_test.csv"), index=False)

    # churn: the two populations acrm trains and tests on.
    run([acrm, "mine", "churn", "train", "-w", a.warehouse, "--kind", "tree", "--no-save",
         "--export-data", a.work, "--format", "json"])

    # german: seeded stratified split.
    german = pd.read_csv(os.path.join(ROOT, "..", "shared", "data", "german_credit.csv"))
    g_train, g_test = train_test_split(german, test_size=0.25, random_state=42, stratify=german["default"])
    g_train.to_csv(os.path.join(a.work, "german_train.csv"), index=False)
    g_test.to_csv(os.path.join(a.work, "german_test.csv"), index=False)

    results = []
    results += compare("credit", a.work, "outcome", "bad", ["application_id", "customer_id", "application_date"],
                       a.max_depth, a.min_samples_leaf)
    results += compare("churn", a.work, "churned", "true", ["customer_id"], a.max_depth, a.min_samples_leaf)
    results += compare("german", a.work, "default", "2", [], a.max_depth, a.min_samples_leaf)

    worst = 0.0
    print(f"{'data':<8} {'model':<9} {'train':>6} {'test':>6} {'acrm AUC':>9} {'sklearn AUC':>12} {'diff':>8}")
    for name, kind, n_train, n_test, ours, theirs in results:
        diff = ours - theirs
        worst = max(worst, abs(diff))
        print(f"{name:<8} {kind:<9} {n_train:>6} {n_test:>6} {ours:>9.4f} {theirs:>12.4f} {diff:>+8.4f}")
    print(f"largest |difference|: {worst:.4f} (bound 0.01)")
    sys.exit(1 if worst > 0.01 else 0)


if __name__ == "__main__":
    main()
