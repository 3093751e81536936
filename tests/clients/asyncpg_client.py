"""acrm serve through asyncpg (binary protocol, prepared statements): catalog queries as
tools write them, a parameterised query with typed values, masking, and a nested
transaction (a savepoint) that recovers a failed statement. Prints the JSON document
described in tests/clients/README.md."""

import asyncio
import json
import os

import asyncpg

from canonical import canonical, native

TYPED = (
    "SELECT order_id, quantity, unit_price, revenue, CAST(revenue AS DOUBLE PRECISION) AS revenue_f,"
    " order_date, order_ts, source_system FROM fact_sales WHERE order_id = $1 ORDER BY line_number"
)
MASKED = "SELECT name, email, phone FROM dim_customer WHERE customer_id = $1 AND is_current"
PRIMARY_KEY = (
    "SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a"
    " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
    " WHERE i.indrelid = 'dim_customer'::regclass AND i.indisprimary"
)


async def main():
    env = os.environ
    conn = await asyncpg.connect(
        host=env["ACRM_HOST"],
        port=int(env["ACRM_PORT"]),
        user=env["ACRM_USER"],
        password=env["ACRM_PASSWORD"],
        database=env["ACRM_DATABASE"],
    )
    out = {"client": f"asyncpg {asyncpg.__version__}"}
    version = conn.get_server_version()
    # From PostgreSQL 10 on, the second number is the minor release (`micro` here).
    out["server_version"] = f"{version.major}.{version.micro}"
    listed = await conn.fetch(
        "SELECT table_name, table_type FROM information_schema.tables"
        " WHERE table_schema = 'public' ORDER BY table_name"
    )
    out["tables"] = [r["table_name"] for r in listed if r["table_type"] == "BASE TABLE"]
    out["views"] = [r["table_name"] for r in listed if r["table_type"] == "VIEW"]
    columns = await conn.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        "fact_sales",
    )
    out["columns"] = [r["column_name"] for r in columns]
    out["primary_key"] = [r["attname"] for r in await conn.fetch(PRIMARY_KEY)]
    statement = await conn.prepare(TYPED)
    out["types"] = [a.type.name for a in statement.get_attributes()]
    rows = await statement.fetch(env["ACRM_ORDER"])
    out["rows"] = [[canonical(v) for v in row.values()] for row in rows]
    out["native"] = [native(v) for v in rows[0].values()]
    async with conn.transaction():
        try:
            async with conn.transaction():
                await conn.fetch("SELECT no_such_column FROM fact_sales")
            out["transaction"] = False
        except asyncpg.PostgresError:
            out["transaction"] = await conn.fetchval("SELECT count(*) FROM dim_channel") > 0
    masked = await conn.fetchrow(MASKED, int(env["ACRM_CUSTOMER"]))
    out["masked"] = [masked["name"], masked["email"], masked["phone"]]
    await conn.close()
    print(json.dumps(out, ensure_ascii=False))


asyncio.run(main())
