// acrm serve through node-postgres (`pg`), as Node services and dashboards use it: SCRAM
// login, catalog queries, a parameterised query with typed values, masking, and a
// savepoint that recovers a failed statement. Prints the JSON document described in
// tests/clients/README.md.
'use strict';
const { Client, types } = require('pg');

const TYPED =
  'SELECT order_id, quantity, unit_price, revenue, CAST(revenue AS DOUBLE PRECISION) AS revenue_f,' +
  ' order_date, order_ts, source_system FROM fact_sales WHERE order_id = $1 ORDER BY line_number';
const MASKED = 'SELECT name, email, phone FROM dim_customer WHERE customer_id = $1 AND is_current';
const PRIMARY_KEY =
  'SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a' +
  ' ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)' +
  " WHERE i.indrelid = 'dim_customer'::regclass AND i.indisprimary";

// Type names by oid, from the driver's own table.
const typeNames = Object.fromEntries(
  Object.entries(types.builtins).map(([name, oid]) => [oid, name.toLowerCase()]),
);

// A date column arrives as a JS Date at local midnight; a timestamp with zone as an instant.
function canonical(value, typeName) {
  if (value instanceof Date) {
    if (typeName === 'date') {
      const pad = (n) => String(n).padStart(2, '0');
      return `${value.getFullYear()}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
    }
    return value.toISOString().replace('.000Z', 'Z');
  }
  return value;
}

function native(value) {
  return value instanceof Date ? 'Date' : typeof value;
}

async function main() {
  const env = process.env;
  const client = new Client({
    host: env.ACRM_HOST,
    port: Number(env.ACRM_PORT),
    user: env.ACRM_USER,
    password: env.ACRM_PASSWORD,
    database: env.ACRM_DATABASE,
  });
  await client.connect();
  const out = { client: `node-postgres ${require('pg/package.json').version} (node ${process.version})` };
  out.server_version = (await client.query('SHOW server_version')).rows[0].server_version.split(' ')[0];
  const listed = await client.query(
    "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  out.tables = listed.rows.filter((r) => r.table_type === 'BASE TABLE').map((r) => r.table_name);
  out.views = listed.rows.filter((r) => r.table_type === 'VIEW').map((r) => r.table_name);
  const columns = await client.query(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    ['fact_sales'],
  );
  out.columns = columns.rows.map((r) => r.column_name);
  out.primary_key = (await client.query(PRIMARY_KEY)).rows.map((r) => r.attname);
  const typed = await client.query({ text: TYPED, values: [env.ACRM_ORDER], rowMode: 'array' });
  out.types = typed.fields.map((f) => typeNames[f.dataTypeID]);
  out.rows = typed.rows.map((row) => row.map((v, i) => canonical(v, out.types[i])));
  out.native = typed.rows[0].map(native);
  await client.query('BEGIN');
  await client.query('SAVEPOINT before_mistake');
  let failed = false;
  try {
    await client.query('SELECT no_such_column FROM fact_sales');
  } catch (e) {
    failed = true;
  }
  await client.query('ROLLBACK TO SAVEPOINT before_mistake');
  const again = await client.query('SELECT count(*) AS n FROM dim_channel');
  await client.query('COMMIT');
  out.transaction = failed && Number(again.rows[0].n) > 0;
  const masked = await client.query(MASKED, [Number(env.ACRM_CUSTOMER)]);
  out.masked = [masked.rows[0].name, masked.rows[0].email, masked.rows[0].phone];
  await client.end();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
