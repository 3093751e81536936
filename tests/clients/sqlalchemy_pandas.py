"""acrm serve through SQLAlchemy 2 + psycopg 3 and pandas, as a notebook (or Superset) uses
it: engine connect, reflection (tables, views, columns, primary key), a parameterised query
with typed values, `pandas.read_sql`, and a savepoint that recovers a failed statement.
Prints the JSON document described in tests/clients/README.md."""

import json
import os

import pandas as pd
import psycopg
import sqlalchemy
from sqlalchemy import create_engine, inspect, text

from canonical import canonical, native

TYPED = (
    "SELECT order_id, quantity, unit_price, revenue, CAST(revenue AS DOUBLE PRECISION) AS revenue_f,"
    " order_date, order_ts, source_system FROM fact_sales WHERE order_id = :order ORDER BY line_number"
)
MASKED = "SELECT name, email, phone FROM dim_customer WHERE customer_id = :customer AND is_current"


def main():
    env = os.environ
    url = sqlalchemy.engine.URL.create(
        "postgresql+psycopg",
        username=env["ACRM_USER"],
        password=env["ACRM_PASSWORD"],
        host=env["ACRM_HOST"],
        port=int(env["ACRM_PORT"]),
        database=env["ACRM_DATABASE"],
    )
    engine = create_engine(url)
    out = {
        "client": f"SQLAlchemy {sqlalchemy.__version__} + psycopg {psycopg.__version__}"
        f" + pandas {pd.__version__}"
    }
    reflect = inspect(engine)
    out["server_version"] = ".".join(str(p) for p in engine.dialect.server_version_info)
    out["tables"] = sorted(reflect.get_table_names())
    out["views"] = sorted(reflect.get_view_names())
    out["columns"] = [c["name"] for c in reflect.get_columns("fact_sales")]
    out["primary_key"] = reflect.get_pk_constraint("dim_customer")["constrained_columns"]
    out["comment"] = reflect.get_table_comment("dim_customer")["text"]
    with engine.connect() as conn:
        result = conn.execute(text(TYPED), {"order": env["ACRM_ORDER"]})
        out["types"] = [
            psycopg.postgres.types.get(d.type_code).name for d in result.cursor.description
        ]
        rows = result.fetchall()
        out["rows"] = [[canonical(v) for v in row] for row in rows]
        out["native"] = [native(v) for v in rows[0]]
        try:
            with conn.begin_nested():
                conn.execute(text("SELECT no_such_column FROM fact_sales"))
            out["transaction"] = False
        except sqlalchemy.exc.ProgrammingError:
            again = conn.execute(text("SELECT count(*) FROM dim_channel")).scalar()
            out["transaction"] = again > 0
    frame = pd.read_sql(text(MASKED), engine, params={"customer": int(env["ACRM_CUSTOMER"])})
    out["masked"] = [frame.iloc[0][c] for c in ("name", "email", "phone")]
    print(json.dumps(out, ensure_ascii=False))


main()
