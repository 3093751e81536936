//! Where statements run, apart from the protocol: the connections' own runtime only reads
//! and writes messages, so logins and small statements stay quick whatever the queries do.
//!
//! - The **planner** lane (normal priority): parsing checks, planning, and statements
//!   that read no table (`SELECT 1`, `SELECT version()`), which are answered where they are
//!   planned.
//! - The **executor** lane: every statement that reads data. Its threads run at a lower
//!   OS priority (nice +10), so a heavy query takes the CPU only when protocol and planner
//!   threads do not need it.
//!
//! Both lanes' threads have large stacks: planning and evaluating an expression nested as
//! deep as [`crate::statement::MAX_NESTING`] allows recurses far deeper than the 2 MiB of a
//! default thread.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};

/// Stack of a lane thread (reserved address space; pages are used as touched).
pub const STACK_BYTES: usize = 64 << 20;

/// Nice value of executor threads.
const EXECUTOR_NICE: i32 = 10;

/// The planner and executor runtimes.
pub(crate) struct Lanes {
    planner: Option<Runtime>,
    executor: Option<Runtime>,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lanes")
    }
}

/// A lane's failure: its thread pool could not be started, or a task on it panicked.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct LaneError(String);

impl Lanes {
    /// Starts both lanes with `threads` workers each.
    pub(crate) fn start(threads: usize) -> std::io::Result<Self> {
        let planner = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("acrm-plan")
            .thread_stack_size(STACK_BYTES)
            .enable_all()
            .build()?;
        let executor = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("acrm-query")
            .thread_stack_size(STACK_BYTES)
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        Ok(Self {
            planner: Some(planner),
            executor: Some(executor),
        })
    }

    fn handle(runtime: &Option<Runtime>) -> Result<&Handle, LaneError> {
        runtime
            .as_ref()
            .map(Runtime::handle)
            .ok_or_else(|| LaneError("the server is shutting down".into()))
    }

    /// Runs `work` on the planner lane and waits for it; dropping the wait (a statement
    /// timeout, a closed connection) cancels the work.
    pub(crate) async fn plan<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, LaneError> {
        let task = Cancelling(Self::handle(&self.planner)?.spawn(work));
        task.await.map_err(|e| {
            tracing::error!(error = %e, "statement task failed");
            LaneError(format!("internal error: {e}"))
        })
    }

    /// Starts `work` on the executor lane.
    pub(crate) fn execute(
        &self,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LaneError> {
        Self::handle(&self.executor)?.spawn(work);
        Ok(())
    }
}

/// A task that is aborted when whoever waits for it stops waiting.
struct Cancelling<T>(tokio::task::JoinHandle<T>);

impl<T> Future for Cancelling<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for Cancelling<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's context would panic; let the threads
        // wind down in the background.
        for runtime in [self.planner.take(), self.executor.take()]
            .into_iter()
            .flatten()
        {
            runtime.shutdown_background();
        }
    }
}

/// Lowers the calling thread's OS priority; a failure only costs responsiveness.
fn lower_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), EXECUTOR_NICE) {
        tracing::debug!(error = %e, "cannot lower the priority of a query thread");
    }
}
