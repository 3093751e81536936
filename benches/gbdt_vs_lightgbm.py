#!/usr/bin/env python3
"""Speed check: acrm's gradient-boosted trees against LightGBM on 1,000,000 × 20 synthetic rows.

Both sides fit the same training file with the same settings — 200 trees of 31 leaves,
learning rate 0.1, leaves of >= 20 rows, Σ hessian >= 0.001, no L2, 255 bins, every row and
feature, no early stopping — on the same number of threads (acrm through RAYON_NUM_THREADS,
LightGBM through n_jobs), and are scored on the same test file.

The rows: 20 standard normal features, a label drawn from a logistic model with linear,
sine, product, step, absolute-value and square terms of eight of them (the other twelve are
noise), 5% of one feature missing and one feature rounded to a few values.

Timed: acrm's fit as its model card reports it (`fit_seconds`: binning and boosting, not
reading the file or encoding it) against LightGBM's `fit` on the NumPy arrays (binning into
its Dataset and boosting). Reported: fit seconds of each and their ratio, test ROC AUC of each
and the difference. Exits 1 unless acrm's fit time is at most 1.0× LightGBM's and the AUCs
are within 0.005 (issue 19's bounds).

Usage:
  ./test --setup-only && . .venv/bin/activate
  cargo build --release
  python3 benches/gbdt_vs_lightgbm.py [--rows 1000000] [--features 20] [--trees 200] [--threads 2]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import lightgbm
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acrm_release import acrm_binary  # noqa: E402

LEAVES, RATE, LEAF_ROWS, BINS = 31, 0.1, 20, 255


def rows(n: int, features: int, rng) -> tuple:
    """n rows of `features` columns and their 0/1 labels."""
    x = rng.normal(size=(n, features))
    logit = (1.2 * x[:, 0] - 0.8 * x[:, 1] + np.sin(2 * x[:, 2]) + 0.7 * x[:, 3] * x[:, 4]
             + (x[:, 5] > 0.5) - 0.5 * np.abs(x[:, 6]) + 0.3 * x[:, 7] ** 2 - 0.6)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    x[rng.random(n) < 0.05, 3] = np.nan
    x[:, 8] = np.round(x[:, 8] * 3)
    return x, y


def write(path: str, x, y) -> None:
    columns = {f"x{i}": x[:, i] for i in range(x.shape[1])}
    columns["y"] = y
    pq.write_table(pa.table(columns), path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--work", default="/tmp/acrm-gbdt")
    a = ap.parse_args()
    if a.features < 9:
        sys.exit("--features: at least 9 (the label uses the first nine)")
    os.makedirs(a.work, exist_ok=True)
    rng = np.random.default_rng(7)
    x, y = rows(a.rows, a.features, rng)
    xt, yt = rows(a.rows // 4, a.features, rng)
    train, test = os.path.join(a.work, "train.parquet"), os.path.join(a.work, "test.parquet")
    write(train, x, y)
    write(test, xt, yt)

    cmd = [acrm_binary(), "mine", "credit", "train", "--input", train, "--test-input", test,
           "--target", "y", "--positive", "1", "--kind", "gbdt", "--trees", str(a.trees),
           "--max-leaves", str(LEAVES), "--learning-rate", str(RATE), "--min-samples-leaf",
           str(LEAF_ROWS), "--max-bins", str(BINS), "--no-save", "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True,
                         env={**os.environ, "RAYON_NUM_THREADS": str(a.threads)})
    if out.returncode != 0:
        sys.exit(f"acrm failed:\n{out.stderr[-4000:]}")
    card = json.loads(out.stdout)
    acrm_fit, acrm_auc = card["fit_seconds"], card["test_metrics"]["auc"]

    model = lightgbm.LGBMClassifier(
        n_estimators=a.trees, num_leaves=LEAVES, learning_rate=RATE, min_child_samples=LEAF_ROWS,
        min_child_weight=1e-3, reg_lambda=0.0, max_bin=BINS, subsample=1.0, colsample_bytree=1.0,
        n_jobs=a.threads, random_state=0, verbose=-1)
    started = time.perf_counter()
    model.fit(x, y)
    lgb_fit = time.perf_counter() - started
    lgb_auc = roc_auc_score(yt, model.predict_proba(xt)[:, 1])

    ratio = acrm_fit / lgb_fit
    print(f"{a.rows:,} × {a.features} rows, {a.trees} trees of {LEAVES} leaves, {a.threads} threads, "
          f"lightgbm {lightgbm.__version__}")
    print(f"{'side':<9} {'fit s':>8} {'test AUC':>9}")
    print(f"{'acrm':<9} {acrm_fit:>8.2f} {acrm_auc:>9.4f}")
    print(f"{'LightGBM':<9} {lgb_fit:>8.2f} {lgb_auc:>9.4f}")
    print(f"fit time ratio acrm / LightGBM: {ratio:.2f}× (bound 1.0); AUC difference {acrm_auc - lgb_auc:+.4f} "
          f"(bound ±0.005)")
    sys.exit(1 if ratio > 1.0 or abs(acrm_auc - lgb_auc) > 0.005 else 0)


if __name__ == "__main__":
    main()
