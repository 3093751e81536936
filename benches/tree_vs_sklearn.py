#!/usr/bin/env python3
"""Benchmark: acrm's decision-tree training against scikit-learn's DecisionTreeClassifier on
the same 1,000,000 x 20 matrix in the same run.

The script writes N rows x D numeric features (default 1,000,000 x 20: a mix of continuous,
skewed and few-valued columns, like credit and churn features) with a binary target planted
from a few of them plus noise, as train.parquet and test.parquet (80/20). acrm trains with
`acrm mine credit train --input train.parquet --test-input test.parquet --target y
--positive 1 --kind tree --max-depth D --min-samples-leaf L --no-save --format json`;
scikit-learn fits `DecisionTreeClassifier(max_depth=D, min_samples_leaf=L)` on the same
arrays.

Reported: each fit time (acrm's own `fit_seconds`: presorting and growing the tree, not
reading the file; scikit-learn's `fit` call), their ratio (acrm / sklearn, < 1: acrm faster),
both test AUCs and the difference.

Usage:
  pip install -r requirements-dev.txt
  cargo build --release
  python3 benches/tree_vs_sklearn.py [--rows 1000000] [--features 20] [--max-depth 10]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))

from acrm_release import acrm_binary  # noqa: E402


def planted(rows: int, dims: int, seed: int):
    rng = np.random.default_rng(seed)
    x = np.empty((rows, dims))
    for j in range(dims):
        kind = j % 4
        if kind == 0:
            x[:, j] = rng.normal(size=rows)
        elif kind == 1:
            x[:, j] = np.round(rng.lognormal(8, 1, size=rows), 2)  # amounts
        elif kind == 2:
            x[:, j] = rng.integers(0, 2, size=rows)  # yes/no
        else:
            x[:, j] = rng.integers(0, 30, size=rows)  # counts, years
    logit = -0.5 + 1.2 * x[:, 0] - 0.8 * np.log(x[:, 1]) / 2 + 1.5 * x[:, 2] - 0.05 * x[:, 3]
    logit += rng.normal(scale=0.5, size=rows)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return x, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--max-depth", type=int, default=10)
    ap.add_argument("--min-samples-leaf", type=int, default=20)
    ap.add_argument("--work", default="/tmp/acrm-bench")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    x, y = planted(a.rows + a.rows // 4, a.features, 7)
    names = [f"f{j}" for j in range(a.features)]
    split = a.rows
    paths = {}
    for part, rows in [("train", slice(0, split)), ("test", slice(split, None))]:
        table = pa.table({**{n: x[rows, j] for j, n in enumerate(names)}, "y": y[rows]})
        paths[part] = os.path.join(a.work, f"tree_{part}_{a.rows}x{a.features}.parquet")
        pq.write_table(table, paths[part])

    cmd = [acrm_binary(), "mine", "credit", "train", "--input", paths["train"], "--test-input", paths["test"],
           "--target", "y", "--positive", "1", "--kind", "tree", "--max-depth", str(a.max_depth),
           "--min-samples-leaf", str(a.min_samples_leaf), "--no-save", "--format", "json"]
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    acrm_wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(out.stderr)
    card = json.loads(out.stdout)

    model = DecisionTreeClassifier(max_depth=a.max_depth, min_samples_leaf=a.min_samples_leaf, random_state=0)
    started = time.perf_counter()
    model.fit(x[:split], y[:split])
    sk_fit = time.perf_counter() - started
    sk_auc = roc_auc_score(y[split:], model.predict_proba(x[split:])[:, 1])

    ours = card["fit_seconds"]
    print(f"{a.rows:,} rows x {a.features} features, max_depth {a.max_depth}, min_samples_leaf {a.min_samples_leaf}")
    print(f"acrm    fit {ours:8.2f} s  (whole command {acrm_wall:.2f} s)  leaves {len(card['rules']):5d}  test AUC {card['test_metrics']['auc']:.4f}")
    print(f"sklearn fit {sk_fit:8.2f} s  leaves {model.get_n_leaves():5d}  test AUC {sk_auc:.4f}")
    print(f"ratio acrm / sklearn: {ours / sk_fit:.2f}  AUC difference {card['test_metrics']['auc'] - sk_auc:+.4f}")


if __name__ == "__main__":
    main()
