//! `acrm serve` and `acrm hash-password`: flags and messages around `acrm-serve`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use acrm_serve::scram::Verifier;
use acrm_serve::{ServeConfig, Server};
use anyhow::{Context, bail};
use clap::Args;

/// Flags of `acrm serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Server configuration: listener, limits, TLS, audit log, roles and users
    /// [default: $ACRM_SERVE_CONFIG, ./acrm-serve.toml]
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Listen on this address instead of the file's [server] listen (default 127.0.0.1:5433).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
    /// Warehouse folder [default: the config's [warehouse] path, $ACRM_WAREHOUSE, ./warehouse]
    #[arg(long, short)]
    pub warehouse: Option<PathBuf>,
    /// Mapping config whose [warehouse] path to use.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let path = args
        .users
        .or_else(|| std::env::var_os("ACRM_SERVE_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("acrm-serve.toml"));
    let mut config = ServeConfig::load(&path)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let warehouse = crate::context::resolve_warehouse(args.warehouse, args.config)?;
    let users = config.users.len();
    // A panic inside a connection (pgwire's decoders panic on some malformed messages) is
    // caught and the connection closed; it is logged as an error, not printed raw.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(location = ?info.location(), "internal error: {info}");
    }));
    let rt = acrm_serve::server::runtime()?;
    rt.block_on(async {
        let server = Server::bind(config, &warehouse)
            .await
            .with_context(|| format!("acrm serve cannot start ({})", path.display()))?;
        eprintln!(
            "acrm serve: listening on {} ({}), warehouse {}, {users} user(s); Ctrl-C stops",
            server.local_addr()?,
            if server.tls() {
                "TLS required"
            } else {
                "no TLS: loopback or trusted network only"
            },
            warehouse.display()
        );
        server.run(stop_signal()).await?;
        anyhow::Ok(())
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Reads a password from the first line of standard input and prints its SCRAM-SHA-256
/// verifier for the `password` of a `[users.NAME]` entry.
pub fn hash_password(iterations: u32) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        bail!("empty password: give it on standard input (echo 'secret' | acrm hash-password)");
    }
    outln!("{}", Verifier::new(password, iterations)?.to_text());
    Ok(())
}

/// What a build without the `cluster` feature says to `acrm cluster` and `--cluster`.
#[cfg(not(feature = "cluster"))]
const NO_CLUSTER: &str = "this acrm was built without Ballista; build it with the `cluster` \
     feature for `acrm cluster` and --cluster: cargo build --release --features cluster";

/// `acrm cluster …`: the processes of a Ballista cluster that runs acrm's SQL.
#[derive(clap::Subcommand, Debug)]
#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
pub enum ClusterCommand {
    /// Run a scheduler (clients connect with `acrm sql --cluster df://HOST:PORT`).
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        listen: SocketAddr,
        /// Warehouse folder whose model registry the scoring functions read.
        #[arg(long, short)]
        warehouse: Option<PathBuf>,
        /// Mapping config whose [warehouse] path to use.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run an executor for a scheduler; it reads the warehouse files at the same path as the
    /// client (same machine or a shared file system).
    Executor {
        /// The scheduler.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        scheduler: String,
        /// Host to bind and advertise.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Arrow Flight port (shuffle data).
        #[arg(long, default_value_t = 50051)]
        flight_port: u16,
        /// gRPC port (tasks).
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once [default: the number of cores].
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Folder for shuffle files [default: a temporary folder].
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Warehouse folder whose model registry the scoring functions read.
        #[arg(long, short)]
        warehouse: Option<PathBuf>,
        /// Mapping config whose [warehouse] path to use.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

/// A DataFusion context whose queries run on the Ballista cluster of scheduler `url`.
#[cfg(feature = "cluster")]
pub async fn cluster_context(url: &str) -> anyhow::Result<datafusion::prelude::SessionContext> {
    acrm_serve::cluster::client_context(url)
        .await
        .with_context(|| format!("cannot reach the Ballista scheduler at {url}"))
}

/// Without the `cluster` feature: names it.
#[cfg(not(feature = "cluster"))]
pub async fn cluster_context(_url: &str) -> anyhow::Result<datafusion::prelude::SessionContext> {
    bail!(NO_CLUSTER)
}

/// Without the `cluster` feature: names it.
#[cfg(not(feature = "cluster"))]
pub fn cluster(_command: ClusterCommand) -> anyhow::Result<()> {
    bail!(NO_CLUSTER)
}

/// Runs a scheduler or an executor until stopped.
#[cfg(feature = "cluster")]
pub fn cluster(command: ClusterCommand) -> anyhow::Result<()> {
    let rt = crate::context::runtime()?;
    match command {
        ClusterCommand::Scheduler {
            listen,
            warehouse,
            config,
        } => {
            let warehouse = crate::context::resolve_warehouse(warehouse, config)?;
            eprintln!("acrm cluster scheduler: listening on {listen} (df://{listen})");
            rt.block_on(async {
                tokio::select! {
                    r = acrm_serve::cluster::run_scheduler(listen, &warehouse) => r?,
                    () = stop_signal() => {}
                }
                anyhow::Ok(())
            })
        }
        ClusterCommand::Executor {
            scheduler,
            host,
            flight_port,
            grpc_port,
            concurrent_tasks,
            work_dir,
            warehouse,
            config,
        } => {
            let warehouse = crate::context::resolve_warehouse(warehouse, config)?;
            let (scheduler_host, port) = scheduler
                .rsplit_once(':')
                .with_context(|| format!("--scheduler {scheduler}: expected HOST:PORT"))?;
            let scheduler_port: u16 = port
                .parse()
                .with_context(|| format!("--scheduler {scheduler}: bad port"))?;
            let options = acrm_serve::cluster::ExecutorOptions {
                host,
                flight_port,
                grpc_port,
                scheduler_host: scheduler_host.to_string(),
                scheduler_port,
                concurrent_tasks,
                work_dir: work_dir.map(|d| d.display().to_string()),
            };
            eprintln!(
                "acrm cluster executor: flight {flight_port}, grpc {grpc_port}, scheduler {scheduler}"
            );
            rt.block_on(async {
                tokio::select! {
                    r = acrm_serve::cluster::run_executor(options, &warehouse) => r?,
                    () = stop_signal() => {}
                }
                anyhow::Ok(())
            })
        }
    }
}
