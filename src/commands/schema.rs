//! `acrm schema`: the warehouse schema, as a column list or the Markdown reference page.

/// Runs `acrm schema`.
pub fn run(markdown: bool) -> anyhow::Result<()> {
    let schema = acrm_schema::WarehouseSchema::builtin()?;
    if markdown {
        out!(
            "{}",
            acrm_schema::render_markdown(&schema, &acrm_schema::SourceCatalog::builtin()?)
        );
        return Ok(());
    }
    for t in schema.tables() {
        outln!("{} ({})", t.name, t.kind.name());
        for c in &t.columns {
            outln!(
                "  {:<24} {:<14}{}",
                c.name,
                c.column_type.name(),
                if c.pii { " PII" } else { "" }
            );
        }
    }
    Ok(())
}
