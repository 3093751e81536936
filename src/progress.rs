//! Progress for people, on standard error: on a terminal every build stage gets a line
//! with a spinner and its elapsed time, the loading stage a byte bar whose ETA shows once
//! the rate is known, and each finished stage stays as "✓ stage  time"; otherwise
//! (logs, CI) one log line a stage. Commands that compute for a while without stages of
//! their own show a [`working`] spinner.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often a spinner turns.
const TICK: Duration = Duration::from_millis(120);

/// Below this, a rate (and so an ETA) is a guess: the first seconds read file headers and
/// open the warehouse, so an ETA from them said "2d".
const SETTLE: Duration = Duration::from_secs(3);

/// Implements the library's progress callbacks.
pub struct Reporter {
    /// The stage on screen (a terminal only).
    current: Option<Mutex<Option<ProgressBar>>>,
}

impl Reporter {
    /// Stage lines and bars when `interactive`, log lines otherwise.
    pub fn new(interactive: bool) -> Self {
        Self {
            current: interactive.then(|| Mutex::new(None)),
        }
    }

    /// Ends the stage on screen, leaving its line with a tick and its time.
    fn close(bar: &ProgressBar) {
        bar.set_style(style("  ✓ {msg:40} {elapsed_precise}"));
        bar.finish();
    }
}

impl acrm_etl::Progress for Reporter {
    fn stage(&self, name: &str) {
        let Some(current) = &self.current else {
            tracing::info!("{name}");
            return;
        };
        let mut current = current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = current.take() {
            Self::close(&bar);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(style("{spinner} {msg:40} {elapsed_precise}"));
        bar.set_message(name.to_string());
        bar.enable_steady_tick(TICK);
        *current = Some(bar);
    }

    fn total_bytes(&self, n: u64) {
        if let Some(bar) = self.bar() {
            bar.set_length(n);
            bar.set_style(
                style(
                    "{spinner} {msg:40} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {settled_eta}",
                )
                .with_key("settled_eta", settled_eta)
                .progress_chars("=> "),
            );
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = self.bar() {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(current) = &self.current
            && let Some(bar) = current.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            Self::close(&bar);
        }
    }
}

impl Reporter {
    /// The bar of the stage on screen, if any.
    fn bar(&self) -> Option<ProgressBar> {
        self.current
            .as_ref()?
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// `template` as a style (a template error, which would be ours, falls back to the default).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// "eta 1m 20s" once the bar has run long enough for its rate to mean something.
fn settled_eta(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = if state.elapsed() < SETTLE || state.pos() == 0 {
        write!(w, "eta …")
    } else {
        write!(w, "eta {}", indicatif::HumanDuration(state.eta()))
    };
}

/// A spinner saying what a command is doing, shown on a terminal only and only once the work
/// has taken [`SETTLE`] (quick commands stay quiet); cleared when dropped, before the command
/// prints its results.
pub fn working(what: &str) -> Working {
    use std::io::IsTerminal as _;
    let bar = std::io::stderr().is_terminal().then(|| {
        // Hidden until a timer thread finds the work still going after SETTLE.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(style("{spinner} {msg} {elapsed}"));
        bar.set_message(what.to_string());
        let shown = bar.clone();
        std::thread::spawn(move || {
            std::thread::sleep(SETTLE);
            if !shown.is_finished() {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(TICK);
            }
        });
        bar
    });
    Working(bar)
}

/// The guard of a [`working`] spinner.
pub struct Working(Option<ProgressBar>);

impl Drop for Working {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
