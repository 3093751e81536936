//! Renders the schema as the Markdown reference page (`warehouse-schema/README.md`),
//! with a Mermaid ER diagram, so the page is generated from the data and never drifts.

use std::fmt::Write;

use crate::{SourceCatalog, TableKind, WarehouseSchema};

/// Renders the reference page for `schema` and the source `catalog`.
pub fn render_markdown(schema: &WarehouseSchema, catalog: &SourceCatalog) -> String {
    let mut out = String::new();
    out.push_str("# The acrm warehouse schema\n\n");
    out.push_str(
        "Generated from `tables.toml`, `aggregates.toml` and `sources.toml` by `acrm schema --markdown`; \
         edit those files, not this page (a test checks they agree).\n\n",
    );
    out.push_str("## Star schema\n\n```mermaid\nerDiagram\n");
    let dims: Vec<_> = schema
        .tables()
        .iter()
        .filter(|t| t.kind == TableKind::Dimension)
        .collect();
    for fact in schema.tables().iter().filter(|t| t.kind == TableKind::Fact) {
        for dim in &dims {
            let key = &dim.primary_key[0];
            if fact.column(key).is_some() {
                let _ = writeln!(out, "    {} ||--o{{ {} : \"{}\"", dim.name, fact.name, key);
            }
        }
    }
    for t in schema
        .tables()
        .iter()
        .filter(|t| matches!(t.kind, TableKind::Dimension | TableKind::Fact))
    {
        let _ = writeln!(out, "    {} {{", t.name);
        for c in &t.columns {
            let key = if t.primary_key.contains(&c.name) {
                " PK"
            } else {
                ""
            };
            let ty = c.column_type.name().replace(['(', ')', ','], "_");
            let _ = writeln!(out, "        {ty} {}{key}", c.name);
        }
        out.push_str("    }\n");
    }
    out.push_str("```\n\n## Tables\n\n");
    for t in schema.tables() {
        let kind = t.kind.name();
        let _ = writeln!(
            out,
            "### `{}` ({kind})\n\n{}\n\n**Grain:** {}\n",
            t.name, t.description, t.grain
        );
        if let Some(a) = &t.analysis {
            let _ = writeln!(
                out,
                "**Computed by:** the `{a}` analysis (`[marts] refresh`, `acrm mine`)\n"
            );
        }
        let _ = writeln!(out, "**Primary key:** {}", t.primary_key.join(", "));
        if let Some(p) = &t.partition_by {
            let _ = writeln!(out, "\n**Partitioned by:** `year=YYYY` folders from `{p}`");
        }
        if !t.sort_by.is_empty() {
            let _ = writeln!(out, "\n**Sorted by:** {}", t.sort_by.join(", "));
        }
        if !t.bloom_filter.is_empty() {
            let _ = writeln!(
                out,
                "\n**Bloom filters (point lookups):** {}",
                t.bloom_filter.join(", ")
            );
        }
        out.push_str(
            "\n| column | type | null | PII | SCD2 | description |\n|---|---|---|---|---|---|\n",
        );
        for c in &t.columns {
            let flag = |b: bool| if b { "yes" } else { "" };
            let _ = writeln!(
                out,
                "| `{}` | {}{} | {} | {} | {} | {} |",
                c.name,
                c.column_type.name(),
                c.unit
                    .map_or(String::new(), |u| format!(" ({})", u.as_str())),
                flag(c.nullable),
                flag(c.pii),
                flag(c.history),
                c.description
            );
        }
        out.push('\n');
    }
    out.push_str(
        "## Aggregates\n\nDeclared in `aggregates.toml`: pre-summed facts that the nightly \
         build refreshes (only the years a night changed) and the OLAP layer answers covered \
         queries from (`EXPLAIN` shows which; `--no-aggregates` turns it off).\n\n",
    );
    match crate::parse_aggregates(crate::AGGREGATES_TOML, schema) {
        Ok(aggregates) => {
            out.push_str(
                "| aggregate | source | grain | measures | description |\n|---|---|---|---|---|\n",
            );
            for a in aggregates {
                let measures: Vec<String> = a
                    .measures
                    .iter()
                    .map(|m| format!("{}({})", m.function.name(), m.column))
                    .collect();
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` (partitions of `{}`) | {} | {} | {} |",
                    a.name,
                    a.source,
                    a.fact,
                    a.grain.join(", "),
                    measures.join(", "),
                    a.description
                );
            }
        }
        Err(e) => {
            let _ = writeln!(out, "(aggregates.toml does not load: {e})");
        }
    }
    out.push_str(
        "\n### Materialized reports\n\nThe nightly build stores the whole result of these \
         reports (`rpt_<report>`, personal data masked); a query whose plan is the report's is \
         answered from it while every table it reads holds the files it was computed from.\n\n",
    );
    if let Ok(reports) = crate::builtin_materialized_reports() {
        for r in reports {
            let _ = writeln!(out, "- `{r}` (`rpt_{r}`)");
        }
    }
    out.push_str("\n## Canonical source fields\n\nWhat a source in the mapping config (`acrm.toml`) can map, per entity kind.\n\n");
    for kind in crate::EntityKind::ALL {
        let e = catalog.entity(kind);
        let _ = writeln!(out, "### `{}`\n\n{}\n", kind.name(), e.description);
        out.push_str("| field | type | required | PII | description |\n|---|---|---|---|---|\n");
        for f in &e.fields {
            let ty = format!("{:?}", f.field_type).to_lowercase();
            let req = if f.required { "yes" } else { "" };
            let pii = if f.pii { "yes" } else { "" };
            let _ = writeln!(
                out,
                "| `{}` | {ty} | {req} | {pii} | {} |",
                f.name, f.description
            );
        }
        for group in &e.one_of {
            let _ = writeln!(out, "\nAt least one of: {}.", group.join(", "));
        }
        let _ = writeln!(
            out,
            "\nNatural key: {} (a source that maps `{}` has one).",
            e.key.join(", "),
            e.key[0]
        );
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_reference_page_matches_the_schema() {
        let schema = WarehouseSchema::builtin().expect("schema");
        let catalog = SourceCatalog::builtin().expect("catalog");
        let rendered = render_markdown(&schema, &catalog);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../warehouse-schema/README.md"
        );
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        if std::env::var_os("ACRM_BLESS").is_some() {
            std::fs::write(path, &rendered).expect("write README");
            return;
        }
        assert!(
            on_disk == rendered,
            "warehouse-schema/README.md is stale: run `ACRM_BLESS=1 cargo test -p acrm-schema`"
        );
        assert!(rendered.contains("dim_customer ||--o{ fact_sales"));
    }
}
