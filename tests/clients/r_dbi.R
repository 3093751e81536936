# acrm serve through R's DBI with the RPostgreSQL driver (libpq: SCRAM login), as an analyst
# in R uses it: dbListTables, dbListFields, dbGetQuery with a parameter and typed columns
# (Date, POSIXct), masking, and a savepoint that recovers a failed statement. Prints the
# JSON document described in tests/clients/README.md (written by hand: no JSON package is
# needed).
suppressPackageStartupMessages(library(DBI))

typed <- paste(
  "SELECT order_id, quantity, unit_price, revenue, CAST(revenue AS DOUBLE PRECISION) AS revenue_f,",
  "order_date, order_ts, source_system FROM fact_sales WHERE order_id = $1 ORDER BY line_number"
)
masked <- "SELECT name, email, phone FROM dim_customer WHERE customer_id = $1 AND is_current"
primary_key <- paste(
  "SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a",
  "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)",
  "WHERE i.indrelid = 'dim_customer'::regclass AND i.indisprimary"
)

json_string <- function(x) {
  if (is.na(x)) return("null")
  x <- gsub("\\\\", "\\\\\\\\", x)
  x <- gsub("\"", "\\\\\"", x)
  paste0("\"", x, "\"")
}
json_array <- function(items) paste0("[", paste(items, collapse = ","), "]")
json_strings <- function(x) json_array(vapply(as.character(x), json_string, ""))

# A value as the document carries it: numbers as numbers (RPostgreSQL reads numeric as a
# double), dates and instants as text.
json_value <- function(v) {
  if (inherits(v, "POSIXct")) return(json_string(format(v, "%Y-%m-%dT%H:%M:%SZ", tz = "UTC")))
  if (inherits(v, "Date")) return(json_string(format(v, "%Y-%m-%d")))
  if (is.numeric(v)) return(format(v, digits = 15))
  json_string(as.character(v))
}

env <- Sys.getenv
con <- dbConnect(
  RPostgreSQL::PostgreSQL(),
  host = env("ACRM_HOST"), port = as.integer(env("ACRM_PORT")),
  user = env("ACRM_USER"), password = env("ACRM_PASSWORD"), dbname = env("ACRM_DATABASE")
)
fields <- c()
add <- function(name, json) fields <<- c(fields, paste0("\"", name, "\":", json))

add("client", json_string(paste0(
  "DBI ", packageVersion("DBI"), " + RPostgreSQL ", packageVersion("RPostgreSQL"),
  " (", R.version.string, ")"
)))
add("server_version", json_string(strsplit(dbGetQuery(con, "SHOW server_version")[[1]], " ")[[1]][1]))
listed <- dbGetQuery(con, paste(
  "SELECT table_name, table_type FROM information_schema.tables",
  "WHERE table_schema = 'public' ORDER BY table_name"
))
all_listed <- sort(dbListTables(con))
add("tables", json_strings(intersect(all_listed, listed$table_name[listed$table_type == "BASE TABLE"])))
add("views", json_strings(intersect(all_listed, listed$table_name[listed$table_type == "VIEW"])))
add("columns", json_strings(dbListFields(con, "fact_sales")))
add("primary_key", json_strings(dbGetQuery(con, primary_key)$attname))

# RPostgreSQL names the column types its own way; PostgreSQL's names for the document.
pg_names <- c(
  TEXT = "text", INTEGER = "int4", DECIMAL = "numeric", FLOAT8 = "float8", DATE = "date",
  TIMESTAMPTZOID = "timestamptz"
)
result <- dbSendQuery(con, typed, list(env("ACRM_ORDER")))
driver_types <- dbColumnInfo(result)$type
rows <- dbFetch(result)
invisible(dbClearResult(result))
add("types", json_strings(ifelse(
  driver_types %in% names(pg_names), pg_names[driver_types], tolower(driver_types)
)))
add("rows", json_array(vapply(seq_len(nrow(rows)), function(i) {
  json_array(vapply(seq_along(rows), function(j) json_value(rows[[j]][i]), ""))
}, "")))
add("native", json_strings(vapply(rows, function(col) class(col)[1], "")))

invisible(dbBegin(con))
invisible(dbExecute(con, "SAVEPOINT before_mistake"))
# RPostgreSQL reports a failed statement as an error or as a warning (and prints it).
failed <- tryCatch({
  suppressMessages(dbGetQuery(con, "SELECT no_such_column FROM fact_sales"))
  FALSE
}, error = function(e) TRUE, warning = function(w) TRUE)
invisible(dbExecute(con, "ROLLBACK TO SAVEPOINT before_mistake"))
again <- dbGetQuery(con, "SELECT count(*) AS n FROM dim_channel")$n > 0
invisible(dbCommit(con))
add("transaction", if (failed && again) "true" else "false")

who <- dbGetQuery(con, masked, params = list(as.integer(env("ACRM_CUSTOMER"))))
add("masked", json_strings(c(who$name, who$email, who$phone)))
invisible(dbDisconnect(con))
cat(paste0("{", paste(fields, collapse = ","), "}\n"))
