#!/usr/bin/env python3
"""Cross-checks acrm's SQL answers against DuckDB, an independent engine, on the same Parquet.

Registers every table of WAREHOUSE/current in DuckDB (hive partitions), creates the semantic
views from warehouse-schema/views/, then runs every shipped report, the benchmark's queries
(benches/queries/) and a set of ad-hoc queries both through `acrm sql --privileged --format csv` and in DuckDB, and asserts the
results are identical (numbers equal to 1e-9 relative, text exactly, same row order where
the query orders rows).

Usage: python3 tests/olap_vs_duckdb.py ACRM_BINARY WAREHOUSE
Prints one line per query and 'N passed, M failed'; exits 1 on any difference.
"""

import csv
import io
import math
import os
import re
import subprocess
import sys

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

AD_HOC = [
    "SELECT count(*) AS n, sum(revenue) AS revenue, sum(cost) AS cost FROM fact_sales",
    "SELECT year, count(*) AS n FROM fact_sales GROUP BY year ORDER BY year",
    "SELECT category, sum(quantity) AS units FROM sales_cube WHERE year = 2024 GROUP BY category ORDER BY category",
    "SELECT customer_type, gender, count(*) AS n FROM customer_360 GROUP BY customer_type, gender ORDER BY 1, 2",
    "SELECT region, count(*) AS customers, sum(revenue) AS revenue FROM customer_360 GROUP BY region ORDER BY region",
    "SELECT over_credit_limit, count(*) AS n FROM customer_360 GROUP BY 1 ORDER BY 1",
    "SELECT reason_code, count(*) AS n FROM etl_quarantine GROUP BY reason_code ORDER BY reason_code",
    "SELECT d.day_name, count(*) AS n FROM fact_sales s JOIN dim_date d ON d.date_key = s.date_key GROUP BY d.day_name ORDER BY d.day_name",
    "SELECT decision, outcome, count(*) AS n, avg(income) AS income FROM fact_credit_application GROUP BY 1, 2 ORDER BY 1, 2",
    # Point lookups with ids the sample holds (the benchmark's ids are from a larger warehouse).
    "SELECT customer_id, orders, revenue, margin, complaints, receivable_balance FROM customer_360 WHERE customer_id = 1000",
    "SELECT source_system, line_number, quantity, revenue FROM fact_sales WHERE order_id = 'RS052100000588' ORDER BY line_number",
    # customer_360's order count over every customer (a distinct count the view computes in two steps).
    "SELECT customer_id, orders, first_purchase, last_purchase FROM customer_360 ORDER BY orders DESC, customer_id LIMIT 50",
    "SELECT orders, count(*) AS customers FROM customer_360 GROUP BY orders ORDER BY orders",
]


def duckdb_sql(sql: str) -> str:
    """The few DataFusion spellings DuckDB writes differently."""
    return re.sub(r"\bto_char\(", "strftime(", sql)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def same(a: str, b: str) -> bool:
    if a == b:
        return True
    if a in ("", "NULL") and b in ("", "NULL"):
        return True
    if {a.lower(), b.lower()} <= {"true", "false"}:
        return a.lower() == b.lower()
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    # DataFusion's avg of a decimal(p, s) is a decimal with scale s + 4 (6 here), cut off
    # there; DuckDB's is a double. Equal to the shorter side's last decimal place is equal.
    places = min(len(v.partition(".")[2]) for v in (a, b))
    if places >= 6:
        return abs(x - y) <= 10.0 ** -places
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


def open_warehouse(warehouse: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view per table folder of WAREHOUSE/current and the semantic
    views of warehouse-schema/views/.

    DuckDB gets what acrm has: each view reads the explicit list of the version's Parquet files,
    listed once here (acrm lists them once at open; a `**` glob would list the folder on every
    query), with hive partitions and Parquet metadata cached between queries; threads are the
    machine's cores, as acrm's target partitions."""
    current = os.path.realpath(os.path.join(warehouse, "current"))
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET parquet_metadata_cache = true")
    con.execute(f"SET threads = {os.cpu_count()}")
    for t in sorted(os.listdir(current)):
        path = os.path.join(current, t)
        if t.startswith("_") or not os.path.isdir(path):
            continue
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".parquet"))
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true)")
    views = os.path.join(ROOT, "warehouse-schema", "views")
    for f in sorted(os.listdir(views)):
        with open(os.path.join(views, f)) as fh:
            con.execute(f"CREATE VIEW {f.removesuffix('.sql')} AS {duckdb_sql(fh.read())}")
    return con


def sql_files(folder: str) -> list[tuple[str, str]]:
    """(name, SQL) of every .sql file in ROOT/folder, by name: the shipped reports
    (warehouse-schema/reports) and the benchmark's ad-hoc queries (benches/queries)."""
    path = os.path.join(ROOT, folder)
    out = []
    for f in sorted(os.listdir(path)):
        if f.endswith(".sql"):
            with open(os.path.join(path, f)) as fh:
                out.append((f.removesuffix(".sql"), fh.read()))
    return out


def differences(sql: str, acrm_csv: str, con: duckdb.DuckDBPyConnection) -> list[str]:
    """How acrm's answer to `sql` (its CSV output) differs from DuckDB's on `con`: the
    columns, the row count, the first row that differs (rows compared in order when the query
    orders them, sorted otherwise); empty when they agree."""
    ours = parse(acrm_csv)
    rel = con.sql(duckdb_sql(sql))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(rel.columns)
    for row in rel.fetchall():
        w.writerow(["" if v is None else str(v) for v in row])
    theirs = parse(buf.getvalue())
    ordered = re.search(r"ORDER BY", sql, re.IGNORECASE) is not None
    body_a, body_b = ours[1:], theirs[1:]
    if not ordered:
        body_a, body_b = sorted(body_a), sorted(body_b)
    problems = []
    if ours[0] != theirs[0]:
        problems.append(f"columns {ours[0]} vs {theirs[0]}")
    if len(body_a) != len(body_b):
        problems.append(f"{len(body_a)} rows vs {len(body_b)}")
    else:
        for i, (ra, rb) in enumerate(zip(body_a, body_b)):
            if len(ra) != len(rb) or not all(same(x, y) for x, y in zip(ra, rb)):
                problems.append(f"row {i + 1}: acrm {ra} vs duckdb {rb}")
                break
    return problems


def main() -> None:
    acrm, warehouse = sys.argv[1], sys.argv[2]
    con = open_warehouse(warehouse)
    queries = [(f"report {name}", sql) for name, sql in sql_files("warehouse-schema/reports")]
    queries += [(f"bench {name}", sql) for name, sql in sql_files("benches/queries")]
    queries += [(f"ad-hoc {i + 1}", q) for i, q in enumerate(AD_HOC)]
    passed = failed = 0
    env = {**os.environ, "ACRM_LOG": "warn"}
    for label, sql in queries:
        p = subprocess.run([acrm, "sql", "--privileged", "--format", "csv", "--warehouse", warehouse, "--", sql],
                           capture_output=True, text=True, env=env)
        if p.returncode != 0:
            print(f"FAIL {label}: acrm: {p.stderr.strip()[:400]}")
            failed += 1
            continue
        problems = differences(sql, p.stdout, con)
        if problems:
            print(f"FAIL {label}: {'; '.join(problems)}")
            failed += 1
        else:
            print(f"ok   {label} ({len(parse(p.stdout)) - 1} rows)")
            passed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
