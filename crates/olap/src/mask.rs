//! PII masking, applied by the engine: for a caller without the privileged role every table
//! with PII columns is registered as a view that masks them (rules from the schema's `mask`
//! attribute), so every query, view and report sees masked values and none can opt out.

use acrm_schema::{ColumnDef, ColumnType, MaskRule, TableDef};

/// `"name"` quoted as a SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL expression showing column `c` to an unprivileged caller.
pub fn masked_expr(c: &ColumnDef) -> String {
    let col = ident(&c.name);
    let text = |e: String| format!("CASE WHEN {col} IS NULL THEN NULL ELSE {e} END");
    let null = || {
        format!(
            "arrow_cast(NULL, '{}')",
            c.column_type.arrow_type().to_string().replace('\'', "")
        )
    };
    match (c.mask, c.column_type) {
        (MaskRule::FirstChar, ColumnType::Utf8) => text(format!("concat(left({col}, 1), '*')")),
        (MaskRule::LastFour, ColumnType::Utf8) => text(format!("concat('***', right({col}, 4))")),
        (MaskRule::Email, ColumnType::Utf8) => text(format!(
            "concat(left({col}, 1), '***@', split_part({col}, '@', 2))"
        )),
        (MaskRule::Year, ColumnType::Date) => {
            format!("CAST(date_trunc('year', {col}) AS DATE)")
        }
        (_, ColumnType::Utf8) => text("'***'".into()),
        _ => null(),
    }
}

/// `SELECT` list of `table` with its PII columns masked (the others as they are).
pub fn masked_projection(table: &TableDef) -> String {
    table
        .columns
        .iter()
        .map(|c| {
            if c.pii {
                format!("{} AS {}", masked_expr(c), ident(&c.name))
            } else {
                ident(&c.name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pii_column_of_the_schema_is_masked_and_others_pass_through() {
        let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
        let customer = schema.table("dim_customer").expect("dim_customer");
        let sql = masked_projection(customer);
        assert!(
            sql.contains("concat(left(\"name\", 1), '*') END AS \"name\""),
            "{sql}"
        );
        assert!(sql.contains("concat('***', right(\"phone\", 4))"), "{sql}");
        assert!(
            sql.contains("CAST(date_trunc('year', \"birth_date\") AS DATE)"),
            "{sql}"
        );
        assert!(sql.contains("ELSE '***' END AS \"address\""), "{sql}");
        assert!(sql.contains("\"city\", "), "{sql}");
    }
}
