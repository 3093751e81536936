//! `pg_description`: the comments of every table, view and column, from the descriptions
//! in `warehouse-schema/` (as `acrm describe` shows them), so `obj_description`,
//! `col_description`, pgJDBC's `REMARKS` and SQLAlchemy's comments have them.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::prelude::{DataFrame, JoinType, SessionContext, cast, col, lit};

use super::frames::{Served, frame, relations_in, table};
use crate::Result;

/// One comment: a relation's (no column) or one of its columns'.
struct Comment {
    relation: String,
    column: Option<String>,
    text: String,
}

/// The comments of every served object and of its columns: the schema's descriptions,
/// with a note on personal data and on masking as this role sees it.
fn comments(objects: &[Served<'_>]) -> Vec<Comment> {
    let mut out = Vec::new();
    for (object, columns) in objects {
        out.push(Comment {
            relation: object.name.clone(),
            column: None,
            text: object.description.clone(),
        });
        for c in columns {
            let flag = match (c.pii, c.masked) {
                (true, true) => " [personal data, masked]",
                (true, false) => " [personal data]",
                _ => "",
            };
            out.push(Comment {
                relation: object.name.clone(),
                column: Some(c.name.clone()),
                text: format!("{}{flag}", c.description),
            });
        }
    }
    out.retain(|c| !c.text.is_empty());
    out
}

/// `pg_description` over `relations` (the served relations' oids, see
/// [`super::frames::relations_in`]) and `inner`'s `pg_attribute`, joined to the comments of
/// `objects`.
pub(super) async fn descriptions(
    ctx: &SessionContext,
    objects: &[Served<'_>],
    relations: &DataFrame,
    inner: &dyn SchemaProvider,
) -> Result<Arc<dyn TableProvider>> {
    let comments = comments(objects);
    let text = |f: &dyn Fn(&Comment) -> Option<&str>| -> ArrayRef {
        Arc::new(comments.iter().map(f).collect::<StringArray>())
    };
    let comments = frame(
        ctx,
        vec![
            ("c_relation", text(&|c| Some(&c.relation)), false),
            ("c_column", text(&|c| c.column.as_deref()), true),
            ("c_text", text(&|c| Some(&c.text)), false),
        ],
    )?;
    // The oid `'pg_class'::regclass` resolves to: `classoid` of a relation's comment.
    let pg_class = relations_in(ctx, inner, "pg_catalog")
        .await?
        .filter(col("r_name").eq(lit("pg_class")))?
        .select(vec![col("r_oid").alias("classoid")])?;
    let relations = relations
        .clone()
        .join_on(pg_class, JoinType::Inner, [lit(true)])?;
    let of_relations = relations
        .clone()
        .join(
            comments.clone().filter(col("c_column").is_null())?,
            JoinType::Inner,
            &["r_name"],
            &["c_relation"],
            None,
        )?
        .select(vec![
            col("r_oid").alias("objoid"),
            col("classoid"),
            lit(0i32).alias("objsubid"),
            col("c_text").alias("description"),
        ])?;
    let of_columns = relations
        .clone()
        .join(
            table(ctx, inner, "pg_attribute").await?,
            JoinType::Inner,
            &["r_oid"],
            &["attrelid"],
            None,
        )?
        .join(
            comments.filter(col("c_column").is_not_null())?,
            JoinType::Inner,
            &["r_name", "attname"],
            &["c_relation", "c_column"],
            None,
        )?
        .select(vec![
            col("r_oid").alias("objoid"),
            col("classoid"),
            cast(col("attnum"), DataType::Int32).alias("objsubid"),
            col("c_text").alias("description"),
        ])?;
    Ok(of_relations.union(of_columns)?.into_view())
}
