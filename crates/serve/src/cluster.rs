//! Distributed queries on Ballista: a scheduler and executors that know acrm's SQL functions,
//! and a client context for [`acrm_olap::Engine::open_in_context`], so the same catalog,
//! semantic views, masking and model-scoring functions run on a cluster.
//!
//! The client plans (views, masking and scope filters are inlined into the plan it sends);
//! the scheduler splits the plan into stages, executors read the Parquet files themselves —
//! every process must see the warehouse at the same path (one machine, or a shared file
//! system) — and decode the plan's acrm functions from a registry that has them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::{Error, Result};

fn cluster_error(e: impl std::fmt::Display) -> Error {
    Error::Cluster(e.to_string())
}

/// A context whose queries run on the Ballista scheduler at `url` (`df://host:port`).
pub async fn client_context(url: &str) -> Result<SessionContext> {
    let config = SessionConfig::new_with_ballista().with_information_schema(true);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    Ok(SessionContext::remote_with_state(url, state).await?)
}

/// Adds `functions` to a state built the scheduler's default way.
fn with_functions(state: SessionState, functions: &[ScalarUDF]) -> SessionState {
    let mut udfs: Vec<Arc<ScalarUDF>> = state.scalar_functions().values().cloned().collect();
    udfs.extend(functions.iter().cloned().map(Arc::new));
    SessionStateBuilder::new_from_existing(state)
        .with_scalar_functions(udfs)
        .build()
}

/// Runs a scheduler on `listen` that plans with acrm's functions over `warehouse`'s model
/// registry, until the process ends.
pub async fn run_scheduler(listen: SocketAddr, warehouse: &Path) -> Result<()> {
    let functions = acrm_mining::model::udf::functions(warehouse);
    let builder = Arc::new(move |config: SessionConfig| {
        Ok(with_functions(default_session_builder(config)?, &functions))
    });
    let config = SchedulerConfig {
        bind_host: listen.ip().to_string(),
        external_host: listen.ip().to_string(),
        bind_port: listen.port(),
        ..SchedulerConfig::default()
    }
    .with_override_session_builder(builder);
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(cluster_error)?;
    tracing::info!(%listen, "Ballista scheduler with acrm functions");
    start_server(cluster, listen, Arc::new(config))
        .await
        .map_err(cluster_error)
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Host to bind (and to advertise to the scheduler).
    pub host: String,
    /// Arrow Flight port (shuffle data).
    pub flight_port: u16,
    /// gRPC port (tasks).
    pub grpc_port: u16,
    /// Scheduler host.
    pub scheduler_host: String,
    /// Scheduler port.
    pub scheduler_port: u16,
    /// Tasks run at once (default: the cores).
    pub concurrent_tasks: Option<usize>,
    /// Folder for shuffle files (default: a temporary folder).
    pub work_dir: Option<String>,
}

/// Runs an executor that decodes acrm's functions over `warehouse`'s model registry, until
/// the process ends or the scheduler stops it.
pub async fn run_executor(options: ExecutorOptions, warehouse: &Path) -> Result<()> {
    let mut registry = BallistaFunctionRegistry::default();
    for f in acrm_mining::model::udf::functions(warehouse) {
        registry
            .scalar_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: options.host.clone(),
        external_host: Some(options.host),
        port: options.flight_port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host,
        scheduler_port: options.scheduler_port,
        vcores: options.concurrent_tasks.unwrap_or(defaults.vcores),
        work_dir: options.work_dir,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(registry)),
        ..defaults
    };
    tracing::info!(
        flight = config.port,
        grpc = config.grpc_port,
        "Ballista executor with acrm functions"
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(cluster_error)
}
