#!/usr/bin/env python3
"""Benchmark: FP-Growth frequent itemsets of 1,000,000 baskets, acrm against pyfim and mlxtend.

The script writes N synthetic baskets (default 1,000,000; 2,000 items with Zipf-like
popularity, basket sizes 1 + Poisson(7), and 40 planted item groups that are bought
together, so long itemsets exist) as one basket per line, then mines the frequent itemsets
at the same minimum support (default 0.1%) and maximum length with:
- acrm: `acrm mine basket --input FILE --lines --itemsets` (the whole command: reading and
  parsing the file, mining, printing);
- pyfim: `fim.fpgrowth` (Borgelt's C implementation) on baskets already in memory;
- mlxtend: TransactionEncoder (sparse) + `fpgrowth` (with --mlxtend; slow at this size).

Reported: wall seconds of each, ratios acrm / peer (< 1: acrm faster), and whether the
itemset counts agree. The peers' times exclude reading the file, so the ratio flatters them.

Usage:
  pip install -r requirements-dev.txt
  cargo build --release
  python3 benches/basket_vs_pyfim.py [--baskets 1000000] [--min-support 0.001] [--max-len 4] [--mlxtend]
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
from fim import fpgrowth as fim_fpgrowth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))

from acrm_release import acrm_binary  # noqa: E402


def write_baskets(path: str, n: int, items: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 1.1
    popularity /= popularity.sum()
    groups = [rng.choice(items, size=rng.integers(2, 6), replace=False) for _ in range(40)]
    sizes = 1 + rng.poisson(7, size=n)
    picks = rng.choice(items, size=int(sizes.sum()), p=popularity)
    planted = rng.random(n) < 0.15
    which = rng.integers(0, len(groups), size=n)
    with open(path, "w") as f:
        at = 0
        for b in range(n):
            basket = set(picks[at:at + sizes[b]].tolist())
            at += sizes[b]
            if planted[b]:
                basket.update(groups[which[b]].tolist())
            f.write(",".join(f"item{i}" for i in sorted(basket)) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baskets", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--min-support", type=float, default=0.001)
    ap.add_argument("--max-len", type=int, default=4)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--mlxtend", action="store_true", help="also time mlxtend (minutes at 1M baskets)")
    ap.add_argument("--work", default="/tmp/acrm-bench")
    args = ap.parse_args()
    acrm = acrm_binary()
    os.makedirs(args.work, exist_ok=True)
    path = os.path.join(args.work, f"baskets-{args.baskets}.csv")
    if not os.path.exists(path):
        write_baskets(path, args.baskets, args.items, args.seed)

    t = time.perf_counter()
    p = subprocess.run([acrm, "mine", "basket", "--input", path, "--lines", "--itemsets", "--min-support",
                        str(args.min_support), "--max-len", str(args.max_len), "--max-itemsets", "50000000",
                        "--format", "csv", "--no-write"],
                       capture_output=True, text=True, env={**os.environ, "ACRM_LOG": "warn"})
    acrm_s = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"acrm failed: {p.stderr[-2000:]}")
    acrm_sets = p.stdout.count("\n") - 1

    with open(path) as f:
        baskets = [line.rstrip("\n").split(",") for line in f if line.strip()]
    min_count = math.ceil(args.min_support * len(baskets) - 1e-9)
    t = time.perf_counter()
    fim_sets = fim_fpgrowth(baskets, target="s", supp=-min_count, zmax=args.max_len)
    fim_s = time.perf_counter() - t

    result = {"baskets": len(baskets), "min_support": args.min_support, "max_len": args.max_len,
              "acrm_s": acrm_s, "acrm_itemsets": acrm_sets, "pyfim_s": fim_s, "pyfim_itemsets": len(fim_sets),
              "ratio_pyfim": acrm_s / fim_s}
    print(f"{len(baskets):,} baskets, min support {args.min_support} ({min_count} baskets), max len {args.max_len}")
    print(f"acrm    {acrm_s:8.2f} s  {acrm_sets:,} itemsets (whole command)")
    print(f"pyfim   {fim_s:8.2f} s  {len(fim_sets):,} itemsets   ratio acrm / pyfim {acrm_s / fim_s:.2f}")
    if args.mlxtend:
        import pandas as pd
        from mlxtend.frequent_patterns import fpgrowth
        from mlxtend.preprocessing import TransactionEncoder
        t = time.perf_counter()
        te = TransactionEncoder()
        df = pd.DataFrame.sparse.from_spmatrix(te.fit(baskets).transform(baskets, sparse=True), columns=te.columns_)
        freq = fpgrowth(df, min_support=args.min_support, max_len=args.max_len)
        mlx_s = time.perf_counter() - t
        result.update({"mlxtend_s": mlx_s, "mlxtend_itemsets": len(freq), "ratio_mlxtend": acrm_s / mlx_s})
        print(f"mlxtend {mlx_s:8.2f} s  {len(freq):,} itemsets   ratio acrm / mlxtend {acrm_s / mlx_s:.3f}")
    same = acrm_sets == len(fim_sets) and result.get("mlxtend_itemsets", acrm_sets) == acrm_sets
    print(f"itemset counts agree: {same}")
    with open(os.path.join(args.work, "basket_vs_pyfim.json"), "w") as f:
        json.dump(result, f, indent=1)
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
