#!/usr/bin/env python3
"""Exactness check: acrm's FP-Growth itemsets and association rules against mlxtend and pyfim.

On each dataset acrm (`acrm mine basket --input FILE --itemsets` and the rules with no
confidence or lift filter) and the peers mine the same baskets at the same minimum support
and maximum length:
- mlxtend: TransactionEncoder + fpgrowth + association_rules (all metrics);
- pyfim (Borgelt's C implementation): fpgrowth itemsets with absolute support counts.

The frequent itemsets must be the same sets with the same supports (to 1e-9), and the rules
the same (antecedent, consequent) pairs with support, confidence, lift, leverage and
conviction equal to 1e-9. Exits 1 on any difference.

Datasets: ../shared/data/groceries.csv (public Groceries data, one basket per line) and the
sample warehouse's orders at subcategory level (exported with `acrm sql`, when --warehouse
is given).

Usage:
  pip install -r requirements-dev.txt
  cargo build --release
  python3 benches/basket_vs_mlxtend.py [--min-support 0.005] [--max-len 4] [--warehouse DIR]
"""

import argparse
import csv
import io
import math
import os
import subprocess
import sys
import tempfile

import pandas as pd
from fim import fpgrowth as fim_fpgrowth
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))

from acrm_release import acrm_binary  # noqa: E402

TOL = 1e-9


def read_lines(path: str) -> list[list[str]]:
    """Baskets of a one-basket-per-line file, as acrm reads it (blank lines skipped)."""
    with open(path) as f:
        return [sorted({i.strip() for i in line.split(",") if i.strip()}) for line in f if line.strip()]


def acrm_csv(acrm: str, args: list[str]) -> list[dict]:
    p = subprocess.run([acrm, "mine", "basket", *args, "--format", "csv", "--no-write"],
                       capture_output=True, text=True, env={**os.environ, "ACRM_LOG": "warn"})
    if p.returncode != 0:
        sys.exit(f"acrm failed: {p.stderr[-2000:]}")
    return list(csv.DictReader(io.StringIO(p.stdout)))


def key(names: str) -> frozenset:
    return frozenset(n for n in names.split(", ") if n)


def close(a: float, b: float) -> bool:
    return (math.isinf(a) and math.isinf(b)) or abs(a - b) <= TOL


def compare(name: str, path: str, acrm: str, min_support: float, max_len: int) -> bool:
    baskets = read_lines(path)
    n = len(baskets)
    flags = ["--input", path, "--lines", "--min-support", str(min_support), "--max-len", str(max_len)]
    ours_sets = {key(r["items"]): float(r["support"]) for r in acrm_csv(acrm, [*flags, "--itemsets"])}
    ours_rules = {(key(r["antecedent"]), key(r["consequent"])): r
                  for r in acrm_csv(acrm, [*flags, "--min-confidence", "0", "--min-lift", "0"])}

    te = TransactionEncoder()
    df = pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)
    freq = fpgrowth(df, min_support=min_support, use_colnames=True, max_len=max_len)
    theirs_sets = {frozenset(s): float(v) for s, v in zip(freq["itemsets"], freq["support"])}
    rules = association_rules(freq, num_itemsets=n, metric="confidence", min_threshold=0.0)
    theirs_rules = {(frozenset(a), frozenset(c)): row for a, c, row in
                    zip(rules["antecedents"], rules["consequents"], rules.to_dict("records"))}

    min_count = math.ceil(min_support * n - 1e-9)
    fim_sets = {frozenset(s): c / n for s, c in fim_fpgrowth(baskets, target="s", supp=-min_count, zmax=max_len)}

    ok = True
    for peer, sets in (("mlxtend", theirs_sets), ("pyfim", fim_sets)):
        if set(sets) != set(ours_sets):
            ok = False
            print(f"{name}: itemsets differ from {peer}: {len(set(ours_sets) - set(sets))} only in acrm, "
                  f"{len(set(sets) - set(ours_sets))} only in {peer}")
        bad = [s for s in set(sets) & set(ours_sets) if not close(sets[s], ours_sets[s])]
        if bad:
            ok = False
            print(f"{name}: {len(bad)} itemset supports differ from {peer}, e.g. {sorted(bad[0])}")
    if set(theirs_rules) != set(ours_rules):
        ok = False
        print(f"{name}: rules differ: {len(set(ours_rules) - set(theirs_rules))} only in acrm, "
              f"{len(set(theirs_rules) - set(ours_rules))} only in mlxtend")
    worst = 0.0
    for k in set(theirs_rules) & set(ours_rules):
        for metric in ("support", "confidence", "lift", "leverage", "conviction"):
            a, b = float(ours_rules[k][metric]), float(theirs_rules[k][metric])
            if not close(a, b):
                ok = False
                print(f"{name}: {metric} of {sorted(k[0])} -> {sorted(k[1])}: acrm {a}, mlxtend {b}")
            elif not math.isinf(a):
                worst = max(worst, abs(a - b))
    print(f"{name}: {n} baskets, min support {min_support}, max len {max_len}: {len(ours_sets)} itemsets, "
          f"{len(ours_rules)} rules; identical to mlxtend and pyfim: {ok} (largest metric difference {worst:.2e})")
    return ok


def sample_baskets(acrm: str, warehouse: str, out: str) -> None:
    """The warehouse's orders at subcategory level, one basket per line."""
    sql = ("SELECT s.source_system || ':' || s.order_id AS basket, p.subcategory AS item FROM fact_sales s "
           "JOIN dim_product p ON p.product_key = s.product_key "
           "WHERE s.product_key <> 0 AND s.customer_id <> 0 AND p.subcategory IS NOT NULL")
    p = subprocess.run([acrm, "sql", "--warehouse", warehouse, "--format", "csv", sql],
                       capture_output=True, text=True, check=True)
    baskets: dict[str, set[str]] = {}
    for r in csv.DictReader(io.StringIO(p.stdout)):
        baskets.setdefault(r["basket"], set()).add(r["item"])
    with open(out, "w") as f:
        for items in baskets.values():
            f.write(",".join(sorted(items)) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-support", type=float, default=0.005)
    ap.add_argument("--max-len", type=int, default=4)
    ap.add_argument("--groceries", default=os.path.join(ROOT, "..", "shared", "data", "groceries.csv"))
    ap.add_argument("--warehouse", help="also compare on this warehouse's order baskets")
    args = ap.parse_args()
    acrm = acrm_binary()
    ok = compare("groceries", args.groceries, acrm, args.min_support, args.max_len)
    if args.warehouse:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sample_baskets.csv")
            sample_baskets(acrm, args.warehouse, path)
            ok = compare("sample orders", path, acrm, args.min_support, args.max_len) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
