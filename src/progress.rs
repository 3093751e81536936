//! Build progress for people: a byte progress bar on a terminal, log lines otherwise.

use indicatif::{ProgressBar, ProgressStyle};

/// Implements the library's progress callbacks.
pub struct Reporter {
    bar: Option<ProgressBar>,
}

impl Reporter {
    /// A bar when `interactive`, log lines otherwise.
    pub fn new(interactive: bool) -> Self {
        let bar = interactive.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:40} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        });
        Self { bar }
    }
}

impl acrm_etl::Progress for Reporter {
    fn stage(&self, name: &str) {
        match &self.bar {
            Some(b) => b.set_message(name.to_string()),
            None => tracing::info!("{name}"),
        }
    }
    fn total_bytes(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_length(n);
        }
    }
    fn advance(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
