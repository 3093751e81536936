// acrm serve through pgx v4, as Go services use it: SCRAM login, catalog queries, a
// parameterised query with typed values (numeric kept exact, time.Time for dates and
// timestamps with zone), masking, and a savepoint (a nested transaction) that recovers a
// failed statement. Built against Debian's golang-github-jackc-pgx-v4-dev in GOPATH mode:
//   GO111MODULE=off GOPATH=/usr/share/gocode go run tests/clients/go/main.go
// Prints the JSON document described in tests/clients/README.md.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgtype"
	"github.com/jackc/pgx/v4"
)

const typed = "SELECT order_id, quantity, unit_price, revenue, CAST(revenue AS DOUBLE PRECISION) AS revenue_f," +
	" order_date, order_ts, source_system FROM fact_sales WHERE order_id = $1 ORDER BY line_number"
const masked = "SELECT name, email, phone FROM dim_customer WHERE customer_id = $1 AND is_current"
const primaryKey = "SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a" +
	" ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)" +
	" WHERE i.indrelid = 'dim_customer'::regclass AND i.indisprimary"

// exact writes a numeric as its digits and scale say, without going through a float.
func exact(n pgtype.Numeric) string {
	digits := n.Int.String()
	if n.Exp >= 0 {
		return digits + strings.Repeat("0", int(n.Exp))
	}
	scale := int(-n.Exp)
	negative := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	for len(digits) <= scale {
		digits = "0" + digits
	}
	text := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if negative {
		text = "-" + text
	}
	return text
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}
}

func names(ctx context.Context, conn *pgx.Conn, sql string, args ...interface{}) []string {
	rows, err := conn.Query(ctx, sql, args...)
	must(err, sql)
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var name string
		must(rows.Scan(&name), sql)
		out = append(out, name)
	}
	must(rows.Err(), sql)
	return out
}

func main() {
	ctx := context.Background()
	env := os.Getenv
	url := fmt.Sprintf("postgres://%s:%s@%s:%s/%s", env("ACRM_USER"), env("ACRM_PASSWORD"),
		env("ACRM_HOST"), env("ACRM_PORT"), env("ACRM_DATABASE"))
	conn, err := pgx.Connect(ctx, url)
	must(err, "connect")
	defer conn.Close(ctx)
	out := map[string]interface{}{"client": "pgx v4 (Go " + strings.TrimPrefix(runtimeVersion(), "go") + ")"}
	out["server_version"] = strings.Fields(conn.PgConn().ParameterStatus("server_version"))[0]
	out["tables"] = names(ctx, conn, "SELECT table_name FROM information_schema.tables"+
		" WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name")
	out["views"] = names(ctx, conn, "SELECT table_name FROM information_schema.tables"+
		" WHERE table_schema = 'public' AND table_type = 'VIEW' ORDER BY table_name")
	out["columns"] = names(ctx, conn, "SELECT column_name FROM information_schema.columns"+
		" WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position", "fact_sales")
	out["primary_key"] = names(ctx, conn, primaryKey)

	rows, err := conn.Query(ctx, typed, env("ACRM_ORDER"))
	must(err, "typed query")
	types := []string{}
	for _, f := range rows.FieldDescriptions() {
		dt, ok := conn.ConnInfo().DataTypeForOID(f.DataTypeOID)
		if ok {
			types = append(types, dt.Name)
		} else {
			types = append(types, fmt.Sprint(f.DataTypeOID))
		}
	}
	out["types"] = types
	found := [][]interface{}{}
	var natives []string
	for rows.Next() {
		var id, source string
		var quantity int32
		var price, revenue pgtype.Numeric
		var revenueF float64
		var day, at time.Time
		must(rows.Scan(&id, &quantity, &price, &revenue, &revenueF, &day, &at, &source), "scan")
		found = append(found, []interface{}{id, quantity, exact(price), exact(revenue), revenueF,
			day.Format("2006-01-02"), at.UTC().Format("2006-01-02T15:04:05Z"), source})
		if natives == nil {
			for _, v := range []interface{}{id, quantity, price, revenue, revenueF, day, at, source} {
				natives = append(natives, fmt.Sprintf("%T", v))
			}
		}
	}
	must(rows.Err(), "typed rows")
	out["rows"] = found
	out["native"] = natives

	tx, err := conn.Begin(ctx)
	must(err, "begin")
	nested, err := tx.Begin(ctx) // a savepoint
	must(err, "savepoint")
	_, mistake := nested.Exec(ctx, "SELECT no_such_column FROM fact_sales")
	must(nested.Rollback(ctx), "rollback to savepoint")
	var channels int64
	must(tx.QueryRow(ctx, "SELECT count(*) FROM dim_channel").Scan(&channels), "count")
	must(tx.Commit(ctx), "commit")
	out["transaction"] = mistake != nil && channels > 0

	var name, email, phone string
	var customer int64
	fmt.Sscan(env("ACRM_CUSTOMER"), &customer)
	must(conn.QueryRow(ctx, masked, customer).Scan(&name, &email, &phone), "masked")
	out["masked"] = []string{name, email, phone}
	text, err := json.Marshal(out)
	must(err, "json")
	fmt.Println(string(text))
}
