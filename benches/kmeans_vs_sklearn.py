#!/usr/bin/env python3
"""Benchmark and quality check: acrm's k-means against scikit-learn's KMeans on the same matrix.

The script writes an N x D feature matrix (default 1,000,000 customers x 8 features: skewed,
correlated, with K planted groups of different sizes, like customer behaviour features) to
Parquet with an id column. acrm segments it with `acrm mine segment --input FILE --k K
--log '' --no-write --format json` (it standardises each column to zero mean, unit variance);
scikit-learn's KMeans(n_clusters=K, n_init=10, init='k-means++', algorithm='lloyd') fits the
same standardisation of the same file in the same run.

Reported: the fit time of each (acrm's own `fit_seconds`: the k-means fit with all restarts,
excluding reading the file; scikit-learn's `fit` call), their ratio (< 1: acrm faster), and
both inertias with their relative difference (the acceptance bound is 1%; exits 1 past it).
Recovery of planted customer groups is checked by the end-to-end tests.

Usage:
  pip install -r requirements-dev.txt
  cargo build --release
  python3 benches/kmeans_vs_sklearn.py [--rows 1000000] [--features 8] [--k 8] [--work /tmp/acrm-bench]
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
from sklearn.cluster import KMeans

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))

from acrm_release import acrm_binary  # noqa: E402


def planted_matrix(rows: int, dims: int, k: int, seed: int) -> np.ndarray:
    """K groups with unequal sizes, different centres and spreads, log-normal-ish tails."""
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(k, 2.0)) * rows
    sizes = np.maximum(sizes.astype(int), 1)
    sizes[-1] = rows - sizes[:-1].sum()
    centres = rng.normal(0.0, 3.0, size=(k, dims))
    parts = []
    for g in range(k):
        spread = rng.uniform(0.5, 1.5, size=dims)
        parts.append(centres[g] + rng.normal(size=(sizes[g], dims)) * spread)
    x = np.vstack(parts)
    x[:, : dims // 2] = np.exp(x[:, : dims // 2] / 3.0)  # skewed columns, like amounts
    return x[rng.permutation(rows)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", default="/tmp/acrm-bench")
    args = ap.parse_args()
    acrm = acrm_binary()
    os.makedirs(args.work, exist_ok=True)
    path = os.path.join(args.work, f"kmeans-{args.rows}x{args.features}.parquet")
    x = planted_matrix(args.rows, args.features, args.k, args.seed)
    names = [f"f{j + 1}" for j in range(args.features)]
    table = pa.table({"id": np.arange(args.rows, dtype=np.int64), **{n: x[:, j] for j, n in enumerate(names)}})
    pq.write_table(table, path)

    t = time.perf_counter()
    p = subprocess.run([acrm, "mine", "segment", "--input", path, "--id-column", "id", "--k", str(args.k),
                        "--log", "", "--no-write", "--format", "json"],
                       capture_output=True, text=True, env={**os.environ, "ACRM_LOG": "warn"})
    acrm_wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"acrm failed:\n{p.stderr[-3000:]}")
    ours = json.loads(p.stdout)

    z = (x - x.mean(axis=0)) / x.std(axis=0)
    t = time.perf_counter()
    km = KMeans(n_clusters=args.k, n_init=10, init="k-means++", algorithm="lloyd", random_state=0).fit(z)
    sk_fit = time.perf_counter() - t

    ratio = ours["fit_seconds"] / sk_fit
    diff = (ours["inertia"] - km.inertia_) / km.inertia_
    print(f"matrix {args.rows} x {args.features}, k = {args.k}, 10 restarts each")
    print(f"acrm    fit {ours['fit_seconds']:8.2f} s (whole command {acrm_wall:.2f} s)  inertia {ours['inertia']:.6g}")
    print(f"sklearn fit {sk_fit:8.2f} s                          inertia {km.inertia_:.6g} ({km.n_iter_} iterations in the best run)")
    print(f"time ratio acrm / sklearn: {ratio:.2f}   inertia difference: {100 * diff:+.3f}%")
    with open(os.path.join(args.work, "kmeans_vs_sklearn.json"), "w") as f:
        json.dump({"rows": args.rows, "features": args.features, "k": args.k, "acrm_fit_s": ours["fit_seconds"],
                   "acrm_wall_s": acrm_wall, "sklearn_fit_s": sk_fit, "ratio": ratio,
                   "acrm_inertia": ours["inertia"], "sklearn_inertia": float(km.inertia_),
                   "inertia_diff": diff}, f, indent=1)
    if abs(diff) > 0.01:
        print("inertia differs by more than 1%")
        sys.exit(1)


if __name__ == "__main__":
    main()
