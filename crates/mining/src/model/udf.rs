//! Scoring in SQL: scalar functions that apply a saved model to the columns given, so
//! analysts score any query's rows without leaving SQL:
//!
//! ```sql
//! SELECT customer_id, churn_probability('champion', recency_days, orders_365, …)
//! FROM churn_features;
//! SELECT application_id, credit_score('credit-v2', age, income, …) FROM fact_credit_application;
//! ```
//!
//! The first argument names the model (`champion` = the task's champion at query time); the
//! others are the model's input columns in its order (`acrm models show NAME` prints the
//! call). Values are encoded exactly as by `acrm mine … score`, so both give the same
//! numbers. Saved model files never change, so loaded models are cached by name.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use acrm_olap::Engine;
use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{DataFusionError, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::Model;
use super::registry::Registry;
use crate::Result;
use crate::analysis::{churn, credit, response};
use acrm_olap::Frame;

/// What a scoring function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Output {
    /// P(positive).
    Probability,
    /// Credit score points ([`Model::points`]: a scorecard's table, else P(bad) scaled).
    Points,
}

/// One model-scoring SQL function.
#[derive(Debug)]
struct ModelFunction {
    name: &'static str,
    task: &'static str,
    output: Output,
    registry: PathBuf,
    signature: Signature,
    cache: Mutex<HashMap<String, Arc<Model>>>,
}

impl PartialEq for ModelFunction {
    fn eq(&self, other: &Self) -> bool {
        (self.name, &self.registry) == (other.name, &other.registry)
    }
}

impl Eq for ModelFunction {}

impl Hash for ModelFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.name, &self.registry).hash(state);
    }
}

impl ModelFunction {
    fn new(name: &'static str, task: &'static str, output: Output, warehouse: &Path) -> Self {
        Self {
            name,
            task,
            output,
            registry: warehouse.to_path_buf(),
            // Stable: `champion` may name another model in a later query.
            signature: Signature::variadic_any(Volatility::Stable),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn model(&self, name: &str) -> datafusion::common::Result<Arc<Model>> {
        let registry = Registry::new(&self.registry);
        let resolved = registry.resolve(self.task, name).map_err(external)?;
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| DataFusionError::Execution("model cache poisoned".into()))?;
        if let Some(m) = cache.get(&resolved) {
            return Ok(m.clone());
        }
        let model = Arc::new(registry.load(self.task, &resolved).map_err(external)?);
        cache.insert(resolved, model.clone());
        Ok(model)
    }
}

fn external(e: crate::Error) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

impl ScalarUDFImpl for ModelFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name)))) = args.args.first() else {
            return exec_err!(
                "{}: the first argument is the model name as a text literal ('champion' or e.g. '{}-v1')",
                self.name,
                self.task
            );
        };
        let model = self.model(name)?;
        let inputs = model.encoding.input_names();
        if args.args.len() != inputs.len() + 1 {
            return exec_err!(
                "{} takes {} columns after the model name, in this order: {} (got {})",
                model.sql_call(self.name),
                inputs.len(),
                inputs.join(", "),
                args.args.len() - 1
            );
        }
        let arrays: Vec<ArrayRef> = args.args[1..]
            .iter()
            .map(|a| a.to_array(args.number_rows))
            .collect::<datafusion::common::Result<_>>()?;
        let fields: Vec<Field> = inputs
            .iter()
            .zip(&arrays)
            .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
        let frame = Frame::from_batches(&[batch]).map_err(|e| external(e.into()))?;
        let values = match self.output {
            Output::Probability => model.probabilities(&frame),
            Output::Points => model.points(&frame),
        }
        .map_err(external)?;
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(values))))
    }
}

/// Name of the view of churn features as of the last sale day.
pub const CHURN_FEATURES_VIEW: &str = "churn_features";

/// Name of the view of response features as of the last sale day.
pub const RESPONSE_FEATURES_VIEW: &str = "response_features";

/// `churn_probability(model, …)`, `credit_score(model, …)`,
/// `credit_bad_probability(model, …)` and `response_probability(model, …)` over the model registry of `warehouse`: for engines,
/// and for the function registries of cluster schedulers and executors, which decode plans
/// naming them.
pub fn functions(warehouse: &Path) -> Vec<ScalarUDF> {
    [
        ("churn_probability", churn::TASK, Output::Probability),
        ("credit_score", credit::TASK, Output::Points),
        ("credit_bad_probability", credit::TASK, Output::Probability),
        ("response_probability", response::TASK, Output::Probability),
    ]
    .into_iter()
    .map(|(name, task, output)| ScalarUDF::from(ModelFunction::new(name, task, output, warehouse)))
    .collect()
}

/// Registers the scoring [`functions`] on `engine`, reading models from the registry of
/// `warehouse`, and the `churn_features` view (the churn model's inputs for every active
/// customer as of the last sale day, with the default 90-day horizon) and the
/// `response_features` view (the response model's inputs for every customer then).
pub async fn register(engine: &mut Engine, warehouse: &Path) -> Result<()> {
    for f in functions(warehouse) {
        engine.register_udf(f);
    }
    // A warehouse without sales has no last sale day, and no churn population: no view.
    if let Ok(last) = crate::analysis::features::last_fact_date(engine).await {
        let sql = churn::dataset_sql(last, churn::DEFAULT_HORIZON, last, None);
        engine
            .add_view(
                CHURN_FEATURES_VIEW,
                &format!(
                    "Churn model inputs per active customer as of {last} (the last sale day)."
                ),
                &sql,
            )
            .await?;
        engine
            .add_view(
                RESPONSE_FEATURES_VIEW,
                &format!("Response model inputs per customer as of {last} (the last sale day)."),
                &response::population_sql(last),
            )
            .await?;
    }
    Ok(())
}
