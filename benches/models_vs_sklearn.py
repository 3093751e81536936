#!/usr/bin/env python3
"""Accuracy check: acrm's decision tree, logistic regression and gradient-boosted trees against
scikit-learn's and LightGBM's on the same files and the same train/test splits.

Data sets:
  credit   the sample warehouse's approved applications with an outcome (exported with
           `acrm sql`), split by application date at the day acrm's own time split uses;
  churn    the churn populations acrm trains and tests on (`acrm mine churn train
           --export-data DIR`), train as of one date, test one horizon later;
  response the campaign contacts acrm's response model learns from (`acrm mine response train
           --export-data FILE`: features as of each campaign's start), split at the campaign
           start acrm's own time split uses;
  german   ../shared/data/german_credit.csv (UCI Statlog German credit, target `default`,
           2 = bad), a seeded stratified 25% test split written to two files.
  Public data sets shipped inside pip packages (gradient boosting only), each with a seeded
  stratified 25% test split:
  fair     statsmodels' `fair` (Fair 1978, 6,366 women's survey answers; target: any affair,
           the `affairs` count itself left out);
  randhie  statsmodels' `randhie` (RAND Health Insurance Experiment, 20,190 person-years;
           target: any doctor visit, `mdvis` > 0, the count left out);
  cancer   scikit-learn's `load_breast_cancer` (Wisconsin diagnostic, 569 rows; target:
           malignant).

For each data set both tools read the same train.csv and test.csv. acrm runs `acrm mine
credit train --input train.csv --test-input test.csv --kind tree|logistic --no-save --format
json`; scikit-learn gets the same encoding acrm documents (numbers as they are with missing
values filled by the training median plus a 0/1 "is missing" column when training had
missing values, true/false as 1/0, text one-hot over the sorted training categories) and fits
`DecisionTreeClassifier(max_depth, min_samples_leaf)` and `LogisticRegression(C=1)` on
standardised features. Reported: test ROC AUC of each and the difference; exits 1 if any
|difference| > 0.01 (the acceptance bound).

Gradient boosting (`--kind gbdt`): every side gets the same settings — 100 trees, 31 leaves,
learning rate 0.1, leaves of >= 20 rows, Σ hessian >= 0.001, no L2, 255 bins, every row and
feature, no early stopping — and the same encoding, with missing numbers kept missing (each
learns where they go). Peers: scikit-learn `HistGradientBoostingClassifier` and LightGBM
`LGBMClassifier`, on --threads threads. Exits 1 unless acrm's test AUC is at least the better
peer's − 0.005 on every set (issue 19's bound).

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
import lightgbm
import statsmodels.api as sm
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
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


# Boosting settings every side shares.
ROUNDS, LEAVES, RATE, LEAF_ROWS, BINS = 100, 31, 0.1, 20, 255


def encode(train: pd.DataFrame, test: pd.DataFrame, skip: list, max_categories: int = 30,
           keep_missing: bool = False):
    """acrm's documented encoding, fitted on `train`, applied to both; with `keep_missing`
    (gbdt) missing numbers stay NaN with no flag."""
    cols_train, cols_test = [], []
    for c in train.columns:
        if c in skip:
            continue
        tr, te = train[c], test[c]
        if tr.dtype == bool or pd.api.types.is_numeric_dtype(tr):
            tr, te = tr.astype(float), te.astype(float)
            if keep_missing:
                cols_train.append(tr.to_numpy())
                cols_test.append(te.to_numpy())
                continue
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


def read_split(name, work, target, positive):
    """The train and test files of `name` and their labels."""
    paths = os.path.join(work, f"{name}_train.csv"), os.path.join(work, f"{name}_test.csv")
    train, test = pd.read_csv(paths[0]), pd.read_csv(paths[1])
    # pandas reads true/false as booleans ("True"); acrm names them "true".
    y_train = (train[target].astype(str).str.lower() == positive.lower()).to_numpy()
    y_test = (test[target].astype(str).str.lower() == positive.lower()).to_numpy()
    return paths, train, test, y_train, y_test


def acrm_train(paths, target, positive, skip, args) -> dict:
    """acrm's model card after training on paths[0] and testing on paths[1]."""
    cmd = [acrm_binary(), "mine", "credit", "train", "--input", paths[0], "--test-input", paths[1],
           "--target", target, "--positive", positive, "--no-save", "--format", "json", *args]
    for s in skip:
        cmd += ["--exclude", s]
    return json.loads(run(cmd))


def compare(name, work, target, positive, skip, depth, leaf):
    paths, train, test, y_train, y_test = read_split(name, work, target, positive)
    x_train, x_test = encode(train, test, skip + [target])
    results = []
    for kind in ["tree", "logistic"]:
        args = ["--kind", kind, "--max-depth", str(depth), "--min-samples-leaf", str(leaf)]
        acrm_auc = acrm_train(paths, target, positive, skip, args)["test_metrics"]["auc"]
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


def compare_gbdt(name, work, target, positive, skip, threads):
    """Test AUC of acrm's gbdt, HistGradientBoosting and LightGBM with the same settings, on
    the files name_train.csv and name_test.csv."""
    paths, train, test, y_train, y_test = read_split(name, work, target, positive)
    x_train, x_test = encode(train, test, skip + [target], keep_missing=True)
    args = ["--kind", "gbdt", "--trees", str(ROUNDS), "--max-leaves", str(LEAVES), "--learning-rate",
            str(RATE), "--min-samples-leaf", str(LEAF_ROWS), "--max-bins", str(BINS)]
    card = acrm_train(paths, target, positive, skip, args)
    hgb = HistGradientBoostingClassifier(
        max_iter=ROUNDS, max_leaf_nodes=LEAVES, learning_rate=RATE, min_samples_leaf=LEAF_ROWS,
        l2_regularization=0.0, max_bins=BINS, early_stopping=False, random_state=0)
    lgb = lightgbm.LGBMClassifier(
        n_estimators=ROUNDS, num_leaves=LEAVES, learning_rate=RATE, min_child_samples=LEAF_ROWS,
        min_child_weight=1e-3, reg_lambda=0.0, max_bin=BINS, subsample=1.0, colsample_bytree=1.0,
        n_jobs=threads, random_state=0, verbose=-1)
    peers = [roc_auc_score(y_test, m.fit(x_train, y_train).predict_proba(x_test)[:, 1]) for m in (hgb, lgb)]
    return len(train), len(test), card["test_metrics"]["auc"], *peers


def repeated_gbdt(name, frame, work, target, positive, skip, splits, threads):
    """compare_gbdt averaged over `splits` seeded stratified 75/25 splits of `frame`: on a few
    hundred test rows one split's AUC moves by ±0.01 between equally good models (the two
    peers differ by as much), so the mean is what tells them apart."""
    runs = []
    for seed in range(splits):
        train, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame[target])
        stem = f"{name}_split{seed}"
        train.to_csv(os.path.join(work, f"{stem}_train.csv"), index=False)
        test.to_csv(os.path.join(work, f"{stem}_test.csv"), index=False)
        runs.append(compare_gbdt(stem, work, target, positive, skip, threads))
    n_train, n_test = runs[0][:2]
    return (f"{name} ×{splits}", n_train, n_test, *np.mean([r[2:] for r in runs], axis=0))


def public_sets() -> list:
    """The public data sets: (name, frame, target, positive value)."""
    fair = sm.datasets.fair.load_pandas().data
    fair["affair"] = (fair.pop("affairs") > 0).map({True: "yes", False: "no"})
    randhie = sm.datasets.randhie.load_pandas().data
    randhie["visited"] = (randhie.pop("mdvis") > 0).map({True: "yes", False: "no"})
    cancer = load_breast_cancer(as_frame=True)
    tumours = cancer.data.rename(columns=lambda c: c.replace(" ", "_"))
    # scikit-learn's target is 0 = malignant.
    tumours["malignant"] = (cancer.target == 0).map({True: "yes", False: "no"})
    return [("fair", fair, "affair", "yes"), ("randhie", randhie, "visited", "yes"),
            ("cancer", tumours, "malignant", "yes")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", default=os.path.join(ROOT, "warehouse"))
    ap.add_argument("--work", default="/tmp/acrm-models")
    ap.add_argument("--max-depth", type=int, default=5)
    ap.add_argument("--min-samples-leaf", type=int, default=20)
    ap.add_argument("--splits", type=int, default=10,
                    help="gbdt: seeded splits averaged over for the file data sets")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="threads of every side (acrm through RAYON_NUM_THREADS)")
    a = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)
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

    # response: the contacts acrm reads, split where its own time split cuts them.
    contacts = os.path.join(a.work, "response_rows.csv")
    model = json.loads(run([acrm, "mine", "response", "train", "-w", a.warehouse, "--no-save",
                            "--export-data", contacts, "--format", "json"]))
    cut = model["data"]["split"]["cut"]
    rows = pd.read_csv(contacts)
    rows[rows.campaign_start < cut].to_csv(os.path.join(a.work, "response_train.csv"), index=False)
    rows[rows.campaign_start >= cut].to_csv(os.path.join(a.work, "response_test.csv"), index=False)
    response_skip = ["contact_id", "customer_id", "campaign_code", "campaign_start"]

    # german: seeded stratified split.
    german = pd.read_csv(os.path.join(ROOT, "..", "shared", "data", "german_credit.csv"))
    g_train, g_test = train_test_split(german, test_size=0.25, random_state=42, stratify=german["default"])
    g_train.to_csv(os.path.join(a.work, "german_train.csv"), index=False)
    g_test.to_csv(os.path.join(a.work, "german_test.csv"), index=False)

    results = []
    results += compare("credit", a.work, "outcome", "bad", ["application_id", "customer_id", "application_date"],
                       a.max_depth, a.min_samples_leaf)
    results += compare("churn", a.work, "churned", "true", ["customer_id"], a.max_depth, a.min_samples_leaf)
    results += compare("response", a.work, "responded", "true", response_skip, a.max_depth,
                       a.min_samples_leaf)
    results += compare("german", a.work, "default", "2", [], a.max_depth, a.min_samples_leaf)

    # gbdt: the warehouse sets on acrm's own time splits; the files on repeated splits.
    gbdt = [("credit", *compare_gbdt("credit", a.work, "outcome", "bad",
                                     ["application_id", "customer_id", "application_date"], a.threads)),
            ("churn", *compare_gbdt("churn", a.work, "churned", "true", ["customer_id"], a.threads)),
            ("response", *compare_gbdt("response", a.work, "responded", "true", response_skip, a.threads))]
    for name, frame, target, positive in [("german", german, "default", "2"), *public_sets()]:
        gbdt.append(repeated_gbdt(name, frame, a.work, target, positive, [], a.splits, a.threads))

    worst = 0.0
    print(f"{'data':<8} {'model':<9} {'train':>6} {'test':>6} {'acrm AUC':>9} {'sklearn AUC':>12} {'diff':>8}")
    for name, kind, n_train, n_test, ours, theirs in results:
        diff = ours - theirs
        worst = max(worst, abs(diff))
        print(f"{name:<8} {kind:<9} {n_train:>6} {n_test:>6} {ours:>9.4f} {theirs:>12.4f} {diff:>+8.4f}")
    print(f"largest |difference|: {worst:.4f} (bound 0.01)")

    behind = 0.0
    print(f"\n{'data':<12} {'train':>6} {'test':>6} {'acrm gbdt':>10} {'sklearn HGB':>12} {'LightGBM':>9} "
          f"{'vs better':>10}")
    for name, n_train, n_test, ours, hgb, lgb in gbdt:
        margin = ours - max(hgb, lgb)
        behind = min(behind, margin)
        print(f"{name:<12} {n_train:>6} {n_test:>6} {ours:>10.4f} {hgb:>12.4f} {lgb:>9.4f} {margin:>+10.4f}")
    print(f"gbdt: furthest behind the better peer {behind:+.4f} (bound -0.005)")
    sys.exit(1 if worst > 0.01 or behind < -0.005 else 0)


if __name__ == "__main__":
    main()
