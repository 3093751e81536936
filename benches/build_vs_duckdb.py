#!/usr/bin/env python3
"""Benchmark: `acrm build` against an equivalent DuckDB SQL load of the same export files.

Both sides read the same night-1 exports of `acrm generate --customers N` (CSV and JSON
lines), type and cleanse them, look up the dimension keys of every fact row (products,
customers by source id or phone, stores, campaigns), and write zstd Parquet with facts
partitioned by year. Each side runs in its own process under /usr/bin/time so wall time and
peak memory (max RSS) are measured the same way, one after the other, in the same run.

For order lines DuckDB does what SQL can express of acrm's work: exact duplicate lines
removed, every cast non-strict (TRY_CAST / TRY_STRPTIME), and every rejected line written to
a quarantine file with its reason (a missing customer reference, a present value that did
not cast, a non-positive quantity, an unknown product). After both runs (untimed) the order
lines each side loaded are compared line by line (order id, line number) and in revenue.

What DuckDB does NOT do that acrm does (so the ratio flatters DuckDB): identity resolution
across sources (DuckDB keys customers per source system, no fuzzy matching, no union-find),
SCD2 history, the file and line of each rejected row, text cleansing (NFKC, white space),
natural-key checks against earlier nights, the reconciliation audit and the atomic
versioned publish.

Usage:
  pip install -r requirements-dev.txt
  cargo build --release
  python3 benches/build_vs_duckdb.py [--customers 200000] [--work /tmp/acrm-bench]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))

from acrm_release import acrm_binary, timed  # noqa: E402


DUCKDB_LOAD = textwrap.dedent(
    r"""
    import duckdb, os, sys
    src, out = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    def x(sql): con.execute(sql)
    def csv(pattern): return f"read_csv('{src}/exports/{pattern}', all_varchar = true, header = true)"
    def jsonl(pattern): return f"read_json('{src}/exports/{pattern}', format = 'newline_delimited', records = true)"
    def money(col): return f"TRY_CAST(replace({col}, ',', '') AS DECIMAL(18,2))"
    def phone(col): return (f"CASE WHEN {col} IS NULL OR trim({col}) = '' THEN NULL ELSE '+' || "
                            f"CASE WHEN length(regexp_replace({col}, '[^0-9０-９]', '', 'g')) = 11 "
                            f"THEN '86' ELSE '' END || regexp_replace({col}, '[^0-9０-９]', '', 'g') END")
    def write(name, sql, partition=None):
        part = f", PARTITION_BY (year)" if partition else ""
        x(f"COPY ({sql}) TO '{out}/{name}' (FORMAT parquet, COMPRESSION zstd{part})")

    # Dimensions.
    x(f'''CREATE TABLE dim_product AS SELECT row_number() OVER (ORDER BY sku) AS product_key, sku, name AS product_name,
          category, subcategory, brand, {money('price')} AS unit_price, {money('cost')} AS unit_cost
          FROM {csv('erp/products_*.csv')}''')
    x(f'''CREATE TABLE dim_branch AS SELECT row_number() OVER (ORDER BY store_code) AS branch_key, store_code AS branch_code,
          store_name AS branch_name, city, province, region FROM {csv('pos/stores_*.csv')}''')
    x(f'''CREATE TABLE dim_campaign AS SELECT row_number() OVER (ORDER BY code) AS campaign_key, code AS campaign_code,
          name AS campaign_name, lower(channel) AS channel_code, TRY_CAST(start AS DATE) AS start_date,
          TRY_CAST("end" AS DATE) AS end_date, {money('budget')} AS budget, target AS target_segment
          FROM {csv('marketing/campaigns_*.csv')}''')
    x(f'''CREATE TABLE crm AS SELECT DISTINCT ON (cust_no) cust_no AS source_id, 'crm' AS system, trim(full_name) AS name,
          CASE sex WHEN '男' THEN 'm' WHEN '女' THEN 'f' END AS gender,
          TRY_STRPTIME(birthday, '%Y/%m/%d')::DATE AS birth_date, {phone('mobile')} AS phone,
          lower(trim(email)) AS email, address, city, province, occupation, {money('annual_income')} AS income,
          education, marital AS marital_status, home_owner IN ('Y', '1') AS homeowner,
          savings_acct IN ('Y', '1') AS has_savings_account,
          CASE cust_type WHEN '企业' THEN 'enterprise' ELSE 'individual' END AS customer_type,
          TRY_STRPTIME(register_date, '%Y/%m/%d')::DATE AS signup_date, {money('credit_limit')} AS credit_limit
          FROM {csv('crm/crm_customers_*.csv')} WHERE cust_no IS NOT NULL''')
    x(f'''CREATE TABLE web AS SELECT DISTINCT ON (account_id) account_id AS source_id, 'web' AS system,
          trim(nick_name) AS name, NULL AS gender, TRY_CAST(birthday AS DATE) AS birth_date,
          {phone('mobile')} AS phone, lower(trim(email)) AS email, NULL AS address, city,
          NULL AS province, NULL AS occupation, NULL::DECIMAL(18,2) AS income, NULL AS education,
          NULL AS marital_status, NULL::BOOLEAN AS homeowner, NULL::BOOLEAN AS has_savings_account,
          'individual' AS customer_type, TRY_CAST(registered_at AS TIMESTAMPTZ)::DATE AS signup_date,
          NULL::DECIMAL(18,2) AS credit_limit FROM {jsonl('web/web_customers_*.jsonl')}''')
    x('''CREATE TABLE dim_customer AS SELECT row_number() OVER (ORDER BY system, source_id) AS customer_key, *
         FROM (SELECT * FROM crm UNION ALL BY NAME SELECT * FROM web)''')
    x("CREATE TABLE phone_key AS SELECT phone, min(customer_key) AS customer_key FROM dim_customer WHERE phone IS NOT NULL GROUP BY phone")
    for t in ["dim_product", "dim_branch", "dim_campaign", "dim_customer"]:
        write(t, f"SELECT * FROM {t}")
    write("dim_date", '''SELECT CAST(strftime(d, '%Y%m%d') AS INT) AS date_key, d::DATE AS date, year(d) AS year,
          quarter(d) AS quarter, month(d) AS month, strftime(d, '%Y-%m') AS year_month, dayofmonth(d) AS day_of_month,
          isodow(d) AS day_of_week FROM range(DATE '2020-01-01', DATE '2026-01-01', INTERVAL 1 DAY) t(d)''')

    # fact_sales: till receipts and web orders, as acrm does them: exact duplicate lines
    # removed, every cast non-strict, and each rejected line written out with its reason
    # (a present value that did not cast, a non-positive quantity, an unknown product), the
    # rest keyed, priced, costed and partitioned by year.
    x(f'''CREATE TABLE raw_lines AS
          SELECT 'pos' AS source, receipt_no AS order_id, line_no, sale_time || ' +08:00' AS ts,
                 'crm' AS system, loyalty_card AS customer_ref, sku, qty, unit_price, discount, 'store' AS channel,
                 store_code AS branch_code
          FROM (SELECT DISTINCT * FROM {csv('pos/pos_sales_*.csv')})
          UNION ALL
          SELECT 'web', "orderId", CAST(line AS VARCHAR), CAST("createdAt" AS VARCHAR), 'web', "accountId", sku,
                 CAST(qty AS VARCHAR), CAST(price AS VARCHAR), CAST(discount AS VARCHAR), lower(channel), NULL
          FROM (SELECT DISTINCT * FROM {jsonl('web/web_orders_*.jsonl')})''')
    x(f'''CREATE TABLE typed_lines AS
          SELECT *, TRY_CAST(line_no AS INT) AS line_number,
                 CASE WHEN source = 'pos' THEN TRY_STRPTIME(ts, '%d.%m.%Y %H:%M %z')
                      ELSE TRY_CAST(ts AS TIMESTAMPTZ) END AS order_time,
                 TRY_CAST(qty AS INT) AS quantity, {money('unit_price')} AS price,
                 coalesce({money('discount')}, 0) AS disc
          FROM raw_lines''')
    x('''CREATE TABLE lines AS
          SELECT l.*, p.product_key, p.unit_cost,
                 CASE WHEN l.customer_ref IS NULL OR trim(l.customer_ref) = '' THEN 'missing_value: customer_ref'
                      WHEN l.order_time IS NULL THEN 'bad_value: order_time'
                      WHEN l.qty IS NOT NULL AND l.quantity IS NULL THEN 'bad_value: quantity'
                      WHEN l.unit_price IS NOT NULL AND l.price IS NULL THEN 'bad_value: unit_price'
                      WHEN l.discount IS NOT NULL AND l.discount <> '' AND l.disc IS NULL THEN 'bad_value: discount'
                      WHEN l.quantity IS NULL OR l.quantity <= 0 THEN 'non_positive_quantity'
                      WHEN p.product_key IS NULL THEN 'unknown_product'
                 END AS reason
          FROM typed_lines l LEFT JOIN dim_product p USING (sku)''')
    write("etl_quarantine", '''SELECT source, order_id, line_no, reason FROM lines WHERE reason IS NOT NULL''')
    write("fact_sales", '''
          SELECT l.order_id, l.line_number, l.order_time, CAST(strftime(l.order_time, '%Y%m%d') AS INT) AS date_key,
                 coalesce(c.customer_key, 0) AS customer_key, l.product_key, l.channel,
                 coalesce(b.branch_key, 0) AS branch_key, l.quantity, l.price AS unit_price, l.disc AS discount,
                 l.quantity * l.price - l.disc AS revenue, l.quantity * l.unit_cost AS cost,
                 year(l.order_time) AS year
          FROM lines l
          LEFT JOIN dim_customer c ON c.system = l.system AND c.source_id = l.customer_ref
          LEFT JOIN dim_branch b USING (branch_code)
          WHERE l.reason IS NULL
          ORDER BY date_key, customer_key''', partition=True)

    # The other facts.
    write("fact_service", f'''
          SELECT ticket_id AS contact_id, TRY_STRPTIME(opened || ' +08:00', '%m/%d/%Y %I:%M %p %z') AS opened_at,
                 coalesce(k.customer_key, 0) AS customer_key, lower(channel) AS channel, lower(type) AS contact_type,
                 TRY_CAST(satisfaction AS INT) AS satisfaction,
                 TRY_STRPTIME(resolved || ' +08:00', '%m/%d/%Y %I:%M %p %z') AS resolved_at, lower(status) AS status,
                 year(TRY_STRPTIME(opened || ' +08:00', '%m/%d/%Y %I:%M %p %z')) AS year
          FROM {csv('callcentre/contacts_*.csv')} s LEFT JOIN phone_key k ON k.phone = {phone('s.caller_phone')}
          WHERE opened_at IS NOT NULL''', partition=True)
    keyed = "LEFT JOIN dim_customer c ON c.system = 'crm' AND c.source_id = s.customer_no"
    write("fact_receivable", f'''
          SELECT invoice_no, coalesce(c.customer_key, 0) AS customer_key, TRY_CAST(invoice_date AS DATE) AS invoice_date,
                 TRY_CAST(due_date AS DATE) AS due_date, {money('amount')} AS amount, {money('paid')} AS paid_amount,
                 TRY_CAST(paid_on AS DATE) AS paid_date, year(TRY_CAST(invoice_date AS DATE)) AS year
          FROM {csv('finance/receivables_*.csv')} s {keyed}''', partition=True)
    write("fact_credit_application", f'''
          SELECT app_id, coalesce(c.customer_key, 0) AS customer_key, TRY_CAST(applied_on AS DATE) AS application_date,
                 TRY_CAST(age AS INT) AS age, {money('s.income')} AS income, savings = 'Y' AS has_savings_account,
                 s.homeowner = 'Y' AS homeowner, TRY_CAST(employment_years AS INT) AS employment_years,
                 {money('other_debt')} AS existing_debt, {money('amount')} AS requested_amount,
                 TRY_CAST(term AS INT) AS term_months, lower(decision) AS decision, lower(outcome) AS outcome,
                 year(TRY_CAST(applied_on AS DATE)) AS year
          FROM {csv('finance/credit_applications_*.csv')} s {keyed}''', partition=True)
    write("fact_campaign_response", f'''
          SELECT m.campaign_key, coalesce(c.customer_key, 0) AS customer_key,
                 TRY_STRPTIME(contact_day, '%Y%m%d')::DATE AS contact_date, holdout = 'Y' AS control_group,
                 reached = 'Y' AS contacted,
                 responded = 'Y' AS responded, converted = 'Y' AS converted, {money('revenue')} AS revenue,
                 year(TRY_STRPTIME(contact_day, '%Y%m%d')) AS year
          FROM {csv('marketing/campaign_responses_*.csv')} s JOIN dim_campaign m ON m.campaign_code = s.campaign
          {keyed}''', partition=True)
    write("fact_sales_plan", f'''
          SELECT TRY_STRPTIME(month, '%Y-%m')::DATE AS plan_month, coalesce(c.customer_key, 0) AS customer_key,
                 coalesce(b.branch_key, 0) AS branch_key, {money('planned')} AS planned_amount
          FROM {csv('finance/sales_plan_*.csv')} s {keyed} LEFT JOIN dim_branch b ON b.branch_code = s.store''')
    account = ("CASE account WHEN '促销费' THEN 'promotion' WHEN '广告费' THEN 'advertising' "
               "WHEN '差旅费' THEN 'travel' WHEN '招待费' THEN 'entertainment' WHEN '外呼短信费' THEN 'contact' END")
    write("fact_expense", f'''
          SELECT DISTINCT voucher_no AS expense_id, TRY_STRPTIME(booked_on, '%Y/%m/%d')::DATE AS expense_date,
                 {account} AS expense_type, coalesce(b.branch_key, 0) AS branch_key,
                 coalesce(c.customer_key, 0) AS customer_key, coalesce(m.campaign_key, 0) AS campaign_key,
                 {money('amount')} AS amount, year(TRY_STRPTIME(booked_on, '%Y/%m/%d')) AS year
          FROM {csv('finance/expenses_*.csv')} s {keyed}
          LEFT JOIN dim_branch b ON b.branch_code = s.cost_centre
          LEFT JOIN dim_campaign m ON m.campaign_code = s.campaign
          WHERE expense_date IS NOT NULL AND {account} IS NOT NULL
            AND (coalesce(s.campaign, '') = '' OR m.campaign_key IS NOT NULL)''', partition=True)
    write("fact_expense_budget", f'''
          SELECT TRY_STRPTIME(month, '%Y-%m')::DATE AS budget_month, {account} AS expense_type,
                 coalesce(b.branch_key, 0) AS branch_key, coalesce(m.campaign_key, 0) AS campaign_key,
                 {money('s.budget')} AS budgeted_amount
          FROM {csv('finance/expense_budget_*.csv')} s
          LEFT JOIN dim_branch b ON b.branch_code = s.cost_centre
          LEFT JOIN dim_campaign m ON m.campaign_code = s.campaign''')
    loaded, rejected = con.execute("SELECT count(*) - count(reason), count(reason) FROM lines").fetchone()
    print(f"{loaded} {rejected}")
    """
)


def agreement(acrm_wh: str, duck_out: str) -> dict:
    """Compares the order lines both sides loaded, line by line (order id, line number) and
    in revenue: which lines only one side kept, outside the timed runs."""
    import duckdb

    con = duckdb.connect()
    a = f"read_parquet('{acrm_wh}/current/fact_sales/**/*.parquet', hive_partitioning = false)"
    d = f"read_parquet('{duck_out}/fact_sales/**/*.parquet', hive_partitioning = false)"
    q = lambda sql: con.execute(sql).fetchone()  # noqa: E731
    keys = "SELECT order_id, line_number FROM {}"
    only_acrm = q(f"SELECT count(*) FROM ({keys.format(a)} EXCEPT ALL {keys.format(d)})")[0]
    only_duck = q(f"SELECT count(*) FROM ({keys.format(d)} EXCEPT ALL {keys.format(a)})")[0]
    (a_rev,) = q(f"SELECT sum(revenue)::DOUBLE FROM {a}")
    (d_rev,) = q(f"SELECT sum(revenue)::DOUBLE FROM {d}")
    return {"lines_only_acrm": only_acrm, "lines_only_duckdb": only_duck,
            "revenue_acrm": round(a_rev, 2), "revenue_duckdb": round(d_rev, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--work", default="/tmp/acrm-bench")
    ap.add_argument("--acrm", help="acrm binary [default: the release build]")
    args = ap.parse_args()
    args.acrm = args.acrm or acrm_binary()
    import duckdb  # noqa: F401  (fail early when the peer is missing)

    src = os.path.join(args.work, f"exports-{args.customers}")
    if not os.path.exists(os.path.join(src, "acrm.toml")):
        print(f"generating {args.customers} customers into {src} ...", flush=True)
        subprocess.run([args.acrm, "generate", "--out", src, "--customers", str(args.customers)], check=True,
                       stdout=subprocess.DEVNULL)
    input_bytes = sum(
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(src, "exports")) for f in fs
    )

    acrm_wh = os.path.join(args.work, "acrm-warehouse")
    shutil.rmtree(acrm_wh, ignore_errors=True)
    # The load alone, as DuckDB does it: no marts, cube aggregates or materialized reports.
    a_wall, a_rss, a_out = timed(
        [args.acrm, "build", "--full", "--no-marts", "--no-aggregates", "--format", "json", "--config",
         os.path.join(src, "acrm.toml"), "--warehouse", acrm_wh],
        env={**os.environ, "ACRM_LOG": "warn"},
    )
    report = json.loads(a_out)
    rows_read = sum(f["rows_read"] for f in report["files"])
    order_lines = sum(f["rows_read"] for f in report["files"] if f["source"] in ("pos", "web_orders"))

    duck_out = os.path.join(args.work, "duckdb-warehouse")
    shutil.rmtree(duck_out, ignore_errors=True)
    os.makedirs(duck_out)
    d_wall, d_rss, d_out = timed([sys.executable, "-c", DUCKDB_LOAD, src, duck_out])

    print(f"\nbuild of `acrm generate --customers {args.customers}` night 1: "
          f"{rows_read:,} input rows ({order_lines:,} order lines), {input_bytes / 2**20:,.0f} MiB of exports")
    print(f"{'engine':<8} {'wall s':>8} {'order lines/s':>14} {'input rows/s':>13} {'peak RSS MiB':>13}")
    for name, wall, rss in (("acrm", a_wall, a_rss), ("duckdb", d_wall, d_rss)):
        print(f"{name:<8} {wall:>8.1f} {order_lines / wall:>14,.0f} {rows_read / wall:>13,.0f} {rss:>13,}")
    print(f"ratio acrm/duckdb: wall {a_wall / d_wall:.2f}x, peak memory {a_rss / max(d_rss, 1):.2f}x")
    d_loaded, d_rejected = (int(v) for v in d_out.strip().splitlines()[-1].split())
    agree = agreement(acrm_wh, duck_out)
    print(f"order lines loaded: duckdb {d_loaded:,} ({d_rejected:,} rejected); "
          f"only acrm kept {agree['lines_only_acrm']:,}, only duckdb kept {agree['lines_only_duckdb']:,}; "
          f"revenue acrm {agree['revenue_acrm']:,.2f}, duckdb {agree['revenue_duckdb']:,.2f}")
    print(json.dumps({"customers": args.customers, "rows_read": rows_read, "order_lines": order_lines,
                      "acrm": {"wall_s": a_wall, "rss_mib": a_rss},
                      "duckdb": {"wall_s": d_wall, "rss_mib": d_rss, "lines_loaded": d_loaded,
                                 "lines_rejected": d_rejected},
                      "agreement": agree, "ratio_wall": a_wall / d_wall}))


if __name__ == "__main__":
    main()
