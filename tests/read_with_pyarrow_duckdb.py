"""Reads every table of a published acrm warehouse version with pyarrow and with DuckDB,
using nothing of acrm: just the Parquet files (hive-partitioned where a table is).

Usage: python3 read_with_pyarrow_duckdb.py WAREHOUSE/current
Prints {"pyarrow": {table: rows}, "duckdb": {table: rows}} as JSON; exits non-zero on any error.
"""

import json
import os
import sys

import duckdb
import pyarrow.dataset as ds


def main() -> None:
    root = sys.argv[1]
    tables = sorted(
        d for d in os.listdir(root) if not d.startswith("_") and os.path.isdir(os.path.join(root, d))
    )
    counts = {"pyarrow": {}, "duckdb": {}}
    con = duckdb.connect()
    for t in tables:
        path = os.path.join(root, t)
        dataset = ds.dataset(path, format="parquet", partitioning="hive")
        table = dataset.to_table()
        counts["pyarrow"][t] = table.num_rows
        glob = os.path.join(path, "**", "*.parquet")
        rel = con.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
        counts["duckdb"][t] = rel.aggregate("count(*)").fetchone()[0]
        # Touch every column so a type DuckDB cannot decode would fail here.
        rel.limit(5).fetchall()
    json.dump(counts, sys.stdout)


if __name__ == "__main__":
    main()
