//! A self-contained HTML document: sections of text, inline SVG charts and tables, one
//! stylesheet in the head; no script, no external asset, no network.

use datafusion::arrow::array::{Array, RecordBatch, StringArray};

use crate::{Error, Result};

/// One section of the document.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Heading (also the section's anchor).
    pub title: String,
    /// Paragraphs of plain text (escaped).
    pub text: Vec<String>,
    /// Inline SVG charts.
    pub charts: Vec<String>,
    /// Tables: a caption and the rows.
    pub tables: Vec<(String, Vec<RecordBatch>)>,
}

impl Section {
    /// An empty section titled `title`.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    /// Adds a paragraph.
    pub fn text(mut self, paragraph: impl Into<String>) -> Self {
        self.text.push(paragraph.into());
        self
    }

    /// Adds an inline SVG chart.
    pub fn chart(mut self, svg: String) -> Self {
        self.charts.push(svg);
        self
    }

    /// Adds a table with a caption.
    pub fn table(mut self, caption: &str, rows: Vec<RecordBatch>) -> Self {
        self.tables.push((caption.into(), rows));
        self
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An anchor id from a heading: lowercase letters and digits joined by dashes.
fn anchor(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.join("-")
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1000px;color:#222}\
h1{border-bottom:2px solid #4c72b0}h2{margin-top:2em;border-bottom:1px solid #ccc}\
nav a{margin-right:1em}table{border-collapse:collapse;margin:1em 0;font-size:0.9em}\
caption{text-align:left;font-weight:bold;padding:0.3em 0}\
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}\
th{background:#f0f3f8}td.text{text-align:left}figure{margin:1em 0}svg{max-width:100%;height:auto}";

/// The whole document: a title, a table of contents, then the sections.
pub fn document(title: &str, sections: &[Section]) -> Result<String> {
    let title = escape(title);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<nav>"
    );
    for s in sections {
        out.push_str(&format!(
            "<a href=\"#{}\">{}</a>",
            anchor(&s.title),
            escape(&s.title)
        ));
    }
    out.push_str("</nav>\n");
    for s in sections {
        out.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n",
            anchor(&s.title),
            escape(&s.title)
        ));
        for p in &s.text {
            out.push_str(&format!("<p>{}</p>\n", escape(p)));
        }
        for svg in &s.charts {
            // plotters' SVG starts with an XML-free <svg> element: inline as it is.
            out.push_str(&format!("<figure>{svg}</figure>\n"));
        }
        for (caption, rows) in &s.tables {
            table(&mut out, caption, rows)?;
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

/// Appends rows as an HTML table (numbers right-aligned, text left).
fn table(out: &mut String, caption: &str, rows: &[RecordBatch]) -> Result<()> {
    let fail = |message: String| Error::Data {
        title: caption.into(),
        message,
    };
    let Some(first) = rows.first() else {
        out.push_str(&format!("<p>{}: no rows.</p>\n", escape(caption)));
        return Ok(());
    };
    out.push_str(&format!(
        "<table>\n<caption>{}</caption>\n<tr>",
        escape(caption)
    ));
    let schema = first.schema();
    for f in schema.fields() {
        out.push_str(&format!("<th>{}</th>", escape(f.name())));
    }
    out.push_str("</tr>\n");
    for batch in rows {
        // The cells as the terminal's tables show them (rounded numbers, NULL written out).
        let cells = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| acrm_olap::human_cells(c.as_ref(), acrm_schema::Unit::of(f)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| fail(e.to_string()))?;
        let cells: Vec<&StringArray> = cells
            .iter()
            .map(|c| c.as_any().downcast_ref::<StringArray>())
            .collect::<Option<_>>()
            .ok_or_else(|| fail("cells as text are a StringArray".into()))?;
        for r in 0..batch.num_rows() {
            out.push_str("<tr>");
            for (c, text) in cells.iter().enumerate() {
                let numeric = schema.field(c).data_type().is_numeric();
                let class = if numeric { "" } else { " class=\"text\"" };
                out.push_str(&format!("<td{class}>{}</td>", escape(text.value(r))));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</table>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Float64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn escapes_text_and_lays_out_sections_tables_and_charts() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("value", DataType::Float64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("<b>"), None])),
                Arc::new(Float64Array::from(vec![1.5, 2.0])),
            ],
        )
        .expect("batch");
        let html = document(
            "Report & co",
            &[Section::new("Key KPIs")
                .text("a < b")
                .chart("<svg></svg>".into())
                .table("numbers", vec![batch])],
        )
        .expect("html");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Report &amp; co</title>"));
        assert!(html.contains("<a href=\"#key-kpis\">Key KPIs</a>"));
        assert!(html.contains("<section id=\"key-kpis\">"));
        assert!(html.contains("<p>a &lt; b</p>"));
        assert!(html.contains("<figure><svg></svg></figure>"));
        assert!(html.contains("<td class=\"text\">&lt;b&gt;</td><td>1.50</td>"));
        assert!(html.contains("<td class=\"text\">NULL</td><td>2</td>"));
        assert!(!html.contains("<script") && !html.contains("http"));
    }
}
