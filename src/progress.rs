//! Progress for people, on standard error: on a terminal every build stage gets a line
//! with a spinner and its elapsed time, the loading stage a byte bar whose ETA shows once
//! the rate is known, and each finished stage stays as "✓ stage  time"; otherwise
//! (logs, CI) one log line a stage. Commands that compute for a while without stages of
//! their own show a [`working`] spinner.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often a spinner turns.
const TICK: Duration = Duration::from_millis(120);

/// Below this, a rate (and so an ETA) is a guess: the first seconds read file headers and
/// open the warehouse, so an ETA from them said "2d".
const SETTLE: Duration = Duration::from_secs(3);

/// Implements the library's progress callbacks.
pub struct Reporter {
    /// The stage lines (a terminal only).
    screen: Option<Screen>,
}

/// The stage lines on a terminal: every bar gets its own line, kept when finished.
struct Screen {
    lines: MultiProgress,
    /// The stage on screen, and whether it is the loading stage's byte bar (whose batches
    /// change its message, not its line).
    current: Mutex<Option<(ProgressBar, bool)>>,
}

impl Reporter {
    /// Stage lines and bars when `interactive`, log lines otherwise.
    pub fn new(interactive: bool) -> Self {
        Self {
            screen: interactive.then(|| Screen {
                lines: MultiProgress::new(),
                current: Mutex::new(None),
            }),
        }
    }

    /// Starts a line for `name` (a spinner, or a byte bar of `bytes`) after closing the
    /// stage on screen, leaving its line with a tick and its time.
    fn open(screen: &Screen, name: &str, bytes: Option<u64>) {
        let mut current = screen.current();
        if let Some((bar, _)) = current.take() {
            close(&bar);
        }
        let bar = match bytes {
            Some(n) => {
                let bar = ProgressBar::new(n);
                bar.set_style(
                    style(
                        "{spinner} {msg:40} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {settled_eta}",
                    )
                    .with_key("settled_eta", settled_eta)
                    .progress_chars("=> "),
                );
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(style("{spinner} {msg:40} {elapsed_precise}"));
                bar
            }
        };
        let bar = screen.lines.add(bar);
        bar.set_message(name.to_string());
        bar.enable_steady_tick(TICK);
        *current = Some((bar, bytes.is_some()));
    }
}

/// Ends a stage's line with a tick and its time.
fn close(bar: &ProgressBar) {
    bar.set_style(style("  ✓ {msg:40} {elapsed_precise}"));
    bar.finish();
}

impl acrm_etl::Progress for Reporter {
    fn stage(&self, name: &str) {
        let Some(screen) = &self.screen else {
            tracing::info!("{name}");
            return;
        };
        // A batch of the loading stage renames its byte bar.
        if let Some((bar, true)) = screen.current().as_ref() {
            bar.set_message(name.to_string());
            return;
        }
        Self::open(screen, name, None);
    }

    fn total_bytes(&self, n: u64) {
        if let Some(screen) = &self.screen {
            Self::open(screen, "loading", Some(n));
        }
    }

    fn advance(&self, n: u64) {
        // Called for every chunk read: a lock, no clone of the bar.
        if let Some(screen) = &self.screen
            && let Some((bar, _)) = screen.current().as_ref()
        {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some((bar, _)) = self.screen.as_ref().and_then(|s| s.current().take()) {
            close(&bar);
        }
    }
}

impl Screen {
    /// The stage on screen (a poisoned lock still holds a usable bar).
    fn current(&self) -> std::sync::MutexGuard<'_, Option<(ProgressBar, bool)>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
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
