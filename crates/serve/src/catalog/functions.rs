//! Functions drivers call on connect or in their catalog queries that DataFusion lacks or
//! answers differently: `version()` in PostgreSQL's shape (SQLAlchemy parses the major
//! version out of it; Npgsql asks for it on connect), `pg_get_userbyid` for an oid of any
//! integer type, `json_build_object` (SQLAlchemy's column reflection) and
//! `pg_collation_is_visible`.

use std::sync::Arc;

use datafusion::arrow::array::StringBuilder;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility, create_udf,
};
use datafusion::prelude::SessionContext;

/// What `version()` returns: PostgreSQL's shape, naming acrm.
pub(crate) fn version_text() -> String {
    format!(
        "PostgreSQL {} on {}-pc-linux-gnu, compiled by rustc, 64-bit",
        crate::settings::server_version(),
        std::env::consts::ARCH
    )
}

/// A function of no arguments returning `value`.
fn constant(name: &str, value: String) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                value.clone(),
            ))))
        }),
    )
}

/// `pg_get_userbyid(oid)` for an oid of any integer type (clients send `10`, an int8
/// literal, as often as a catalog column): every object belongs to the database's owner,
/// named like the database.
fn owner(database: &str) -> ScalarUDF {
    let database = database.to_string();
    let signature = Signature::one_of(
        [DataType::Int32, DataType::Int64, DataType::UInt32]
            .into_iter()
            .map(|t| TypeSignature::Exact(vec![t]))
            .collect(),
        Volatility::Stable,
    );
    ScalarUDF::new_from_impl(OwnerUdf {
        signature,
        owner: database,
    })
}

/// The function behind [`owner`].
#[derive(Debug, PartialEq, Eq, Hash)]
struct OwnerUdf {
    signature: Signature,
    owner: String,
}

impl ScalarUDFImpl for OwnerUdf {
    fn name(&self) -> &str {
        "pg_get_userbyid"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let value = ScalarValue::Utf8(Some(self.owner.clone()));
        Ok(match args.args.first() {
            Some(ColumnarValue::Array(a)) => ColumnarValue::Array(value.to_array_of_size(a.len())?),
            _ => ColumnarValue::Scalar(value),
        })
    }
}

/// `json_build_object(key, value, …)`: a JSON object of the pairs, as text.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonObject {
    signature: Signature,
}

/// The JSON form of one SQL value.
fn json(value: &ScalarValue) -> serde_json::Value {
    use serde_json::Value;
    if value.is_null() {
        return Value::Null;
    }
    match value {
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Int8(Some(n)) => Value::from(*n),
        ScalarValue::Int16(Some(n)) => Value::from(*n),
        ScalarValue::Int32(Some(n)) => Value::from(*n),
        ScalarValue::Int64(Some(n)) => Value::from(*n),
        ScalarValue::UInt32(Some(n)) => Value::from(*n),
        ScalarValue::UInt64(Some(n)) => Value::from(*n),
        ScalarValue::Float64(Some(x)) => Value::from(*x),
        ScalarValue::Float32(Some(x)) => Value::from(*x),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

impl ScalarUDFImpl for JsonObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        if !args.args.len().is_multiple_of(2) {
            return exec_err!("json_build_object: the arguments must alternate keys and values");
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringBuilder::new();
        for row in 0..args.number_rows {
            let mut object = serde_json::Map::new();
            for pair in arrays.chunks(2) {
                let key = ScalarValue::try_from_array(&pair[0], row)?;
                if key.is_null() {
                    return exec_err!("json_build_object: a key must not be null");
                }
                let key = match json(&key) {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, json(&ScalarValue::try_from_array(&pair[1], row)?));
            }
            out.append_value(serde_json::Value::Object(object).to_string());
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `pg_collation_is_visible(oid)`: every collation is (there is one schema).
fn collation_visible() -> ScalarUDF {
    create_udf(
        "pg_collation_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))),
    )
}

/// Registers the functions in `ctx`, whose objects belong to `database`'s owner.
pub(super) fn register(ctx: &SessionContext, database: &str) {
    ctx.register_udf(constant("version", version_text()));
    ctx.register_udf(owner(database));
    ctx.register_udf(ScalarUDF::new_from_impl(JsonObject {
        signature: Signature::variadic_any(Volatility::Immutable),
    }));
    ctx.register_udf(collation_visible());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drivers_see_a_postgresql_version_and_json_objects() {
        let ctx = SessionContext::new();
        register(&ctx, "acrm");
        let batches = ctx
            .sql("SELECT version(), pg_get_userbyid(10), json_build_object('a', 1, 'b', NULL, 'c', 'x', 'd', true)")
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run");
        let row = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .expect("format")
            .to_string();
        assert!(row.contains("| PostgreSQL 16.6 (acrm "), "{row}");
        assert!(row.contains("| acrm "), "{row}");
        assert!(
            row.contains(r#"{"a":1,"b":null,"c":"x","d":true}"#),
            "{row}"
        );
    }
}
