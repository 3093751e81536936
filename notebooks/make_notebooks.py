"""Writes the analyst notebooks (nbformat 4) of notebooks/ from the cells below: edit here,
then `python3 notebooks/make_notebooks.py`, so the notebooks stay reviewable as code."""
import json, os

def nb(cells):
    return {
        "cells": [
            {"cell_type": kind, "id": f"cell-{i}", "metadata": {}, "source": src.strip("\n").splitlines(keepends=True),
             **({"outputs": [], "execution_count": None} if kind == "code" else {})}
            for i, (kind, src) in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }

SETUP = ("code", '''
import io, json, os, subprocess
import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

ACRM = os.environ.get("ACRM", "acrm")            # the acrm binary (notebooks/run.sh sets it)
WAREHOUSE = os.environ.get("ACRM_WAREHOUSE", "warehouse")

def acrm(*args):
    """Runs acrm on the warehouse and returns what it printed; fails loudly on an error."""
    out = subprocess.run([ACRM, *args, "--warehouse", WAREHOUSE], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"acrm {' '.join(args)} failed:\\n{out.stderr}")
    return out.stdout

def sql(query):
    """A query through acrm's OLAP layer (masking applies) as a DataFrame."""
    return pd.read_csv(io.StringIO(acrm("sql", "--format", "csv", query)))
''')

notebooks = {
"01_build_and_explore.ipynb": [
("markdown", '''
# 1. The warehouse: build, star schema, SQL

`notebooks/run.sh` built the bundled sample exports into a warehouse with `acrm build`. This notebook
looks at what was published, queries it through acrm's SQL layer, and reads the same Parquet
files directly with DuckDB — the warehouse is plain Parquet, any tool can read it.
'''),
SETUP,
("code", '''
print(acrm("tables"))
'''),
("markdown", "The build manifest reconciles every export file: rows read = loaded + quarantined."),
("code", '''
manifest = json.load(open(os.path.join(WAREHOUSE, "current", "manifest.json")))
files = pd.DataFrame(manifest["files"])[["source", "file", "rows_read", "rows_loaded", "rows_quarantined"]]
assert (files.rows_read == files.rows_loaded + files.rows_quarantined).all()
files
'''),
("code", '''
sql("SELECT reason_code, count(*) AS rows FROM etl_quarantine GROUP BY reason_code ORDER BY rows DESC")
'''),
("markdown", "Monthly revenue by channel type, from the facts and the channel dimension:"),
("code", '''
monthly = sql("""
    SELECT date_trunc('month', s.order_date) AS month, c.channel_type, sum(s.revenue) AS revenue
    FROM fact_sales s JOIN dim_channel c ON c.channel_key = s.channel_key
    GROUP BY 1, 2 ORDER BY 1""")
monthly["month"] = pd.to_datetime(monthly["month"])
ax = monthly.pivot(index="month", columns="channel_type", values="revenue").plot(figsize=(9, 4))
ax.set_ylabel("revenue"); ax.set_title("Monthly revenue by channel type")
plt.show()
'''),
("markdown", "The same fact table read directly from Parquet with DuckDB gives the same numbers:"),
("code", '''
import duckdb
path = os.path.join(WAREHOUSE, "current", "fact_sales", "**", "*.parquet")
direct = duckdb.sql(f"SELECT count(*) AS lines, sum(revenue) AS revenue FROM read_parquet('{path}', hive_partitioning = true)").df()
through_acrm = sql("SELECT count(*) AS lines, sum(revenue) AS revenue FROM fact_sales")
assert int(direct.lines[0]) == int(through_acrm.lines[0])
assert abs(float(direct.revenue[0]) - float(through_acrm.revenue[0])) < 0.01
direct
'''),
("code", '''
sql("SELECT * FROM customer_360 ORDER BY revenue DESC LIMIT 5")
'''),
],
"02_segments_and_rfm.ipynb": [
("markdown", '''
# 2. RFM scores and k-means segments

`acrm mine rfm` scores every buyer 1–5 on recency, frequency and monetary value and names RFM
segments; `acrm mine segment` clusters customers on behaviour features with k-means. Both publish
marts that SQL can join.
'''),
SETUP,
("code", '''
rfm = pd.read_csv(io.StringIO(acrm("mine", "rfm", "--format", "csv")))
rfm
'''),
("code", '''
cells = sql("SELECT r_score, f_score, avg(monetary) AS monetary FROM mart_rfm GROUP BY 1, 2")
grid = cells.pivot(index="r_score", columns="f_score", values="monetary").sort_index(ascending=False)
fig, ax = plt.subplots(figsize=(6, 5))
im = ax.imshow(grid.values, cmap="Blues")
ax.set_xticks(range(len(grid.columns)), grid.columns); ax.set_yticks(range(len(grid.index)), grid.index)
ax.set_xlabel("frequency score"); ax.set_ylabel("recency score"); ax.set_title("Mean monetary value")
fig.colorbar(im); plt.show()
'''),
("code", '''
print(acrm("mine", "segment", "--k", "4"))
profile = sql("SELECT segment, feature, z_mean FROM mart_segment_profile")
wide = profile.pivot(index="feature", columns="segment", values="z_mean")
ax = wide.plot.bar(figsize=(10, 4)); ax.set_ylabel("standard deviations from the average")
ax.set_title("Segment profiles"); plt.show()
assert profile.segment.nunique() == 4
'''),
("markdown", "Marts join like any table: RFM segment by k-means segment."),
("code", '''
sql("""SELECT s.segment, r.rfm_segment, count(*) AS customers
       FROM mart_segment s JOIN mart_rfm r USING (customer_id)
       GROUP BY 1, 2 ORDER BY 1, 3 DESC""").head(12)
'''),
],
"03_credit_and_churn.ipynb": [
("markdown", '''
# 3. Credit scoring and churn prediction

A decision tree scores credit applications (trained on approved applications with an observed
outcome, tested on the latest quarter); churn models are trained on one date and tested on the
next window, and compared on AUC and lift.
'''),
SETUP,
("code", '''
card = json.loads(acrm("mine", "credit", "train", "--format", "json", "--no-save"))
print(f"test AUC {card['test_metrics']['auc']:.3f}, Gini {card['test_metrics']['gini']:.3f}, KS {card['test_metrics']['ks']:.3f}")
for rule in card["rules"]:
    print(rule)
assert card["test_metrics"]["auc"] > 0.8
'''),
("code", '''
pd.DataFrame(card["importance"], columns=["feature", "importance"]).head(8)
'''),
("code", '''
models = json.loads(acrm("mine", "churn", "train", "--format", "json", "--no-save"))
comparison = pd.DataFrame([{"model": m["kind"], "test AUC": m["test_metrics"]["auc"],
                            "top-decile lift": m["test_metrics"]["gains"][0]["lift"]} for m in models])
comparison
'''),
("code", '''
fig, ax = plt.subplots(figsize=(7, 4))
for m in models:
    gains = pd.DataFrame(m["test_metrics"]["gains"])
    ax.plot([0] + list(gains.decile / 10), [0] + list(gains.cumulative_capture), marker="o", label=m["kind"])
ax.plot([0, 1], [0, 1], "--", color="grey", label="random")
ax.set_xlabel("share of customers, highest risk first"); ax.set_ylabel("share of churners found")
ax.set_title("Cumulative gains on the test window"); ax.legend(); plt.show()
'''),
("code", '''
acrm("mine", "churn", "train", "--kind", "forest")
scores = pd.read_csv(io.StringIO(acrm("mine", "churn", "score", "--format", "csv")))
scores.head(10)
'''),
],
"04_market_baskets.ipynb": [
("markdown", '''
# 4. Market baskets

FP-Growth frequent itemsets and association rules over the orders, at product subcategory level —
including the planted "beer and diapers" rule.
'''),
SETUP,
("code", '''
rules = pd.read_csv(io.StringIO(acrm("mine", "basket", "--level", "subcategory", "--min-support", "0.005",
                                     "--min-confidence", "0.2", "--format", "csv", "--no-write")))
rules.sort_values("lift", ascending=False).head(10)
'''),
("code", '''
fig, ax = plt.subplots(figsize=(7, 5))
points = ax.scatter(rules.support, rules.confidence, c=rules.lift, cmap="viridis")
fig.colorbar(points, label="lift"); ax.set_xlabel("support"); ax.set_ylabel("confidence")
ax.set_title("Association rules"); plt.show()
'''),
("code", '''
beer = rules[rules.antecedent.str.contains("Diapers", case=False) & rules.consequent.str.contains("Beer", case=False)]
assert len(beer) > 0, "the planted diapers → beer rule"
beer
'''),
],
}

for name, cells in notebooks.items():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "w") as f:
        json.dump(nb(cells), f, indent=1)
        f.write("\n")
print("written", list(notebooks))
