//! Deterministic synthetic CRM exports with planted ground truth.
//!
//! `generate` writes what several operational systems of a retailer would export each
//! night — a CRM customer master (CSV), web-shop accounts and orders (JSON lines), till
//! receipts (CSV, European dates), call-centre contacts (CSV, US dates, phones in every
//! format), campaigns with their control groups, receivables, credit applications, a sales
//! plan, the expense ledger and its budget — plus the mapping config `acrm.toml` that loads
//! them, and `truth/` with what was planted: which source records are the same person, the
//! behaviour group of each person, churners, the diapers → beer basket rule and the young
//! fathers who stopped buying diapers, the credit rule, over-limit and below-plan
//! customers, each campaign's true uplift, overspent budget lines, and every injected bad
//! row with its line number.
//!
//! Everything is a pure function of (seed, customers, years, night): the same arguments give
//! byte-identical files. Memory stays bounded: persons are held in memory (about 300 bytes
//! each), order lines are streamed straight to the files.
#![warn(missing_docs)]

mod activity;
mod calendar;
mod catalog;
mod config_file;
mod error;
mod expenses;
mod exports;
mod noise;
mod options;
mod population;

use std::path::Path;

pub use calendar::{batch_date, history_end};
pub use error::{Error, Result};
pub use options::{GenerateOptions, GenerateReport};

/// Parameters persisted in `truth/generator.json` so later nights reuse the same population.
const PARAMS_FILE: &str = "truth/generator.json";

/// Reads the options night 1 was generated with, if `out_dir` holds a generated set.
pub fn saved_options(out_dir: &Path) -> Result<Option<GenerateOptions>> {
    let path = out_dir.join(PARAMS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// Writes night `opts.night` of the synthetic exports into `out_dir`.
///
/// Night 1 writes the full history, `acrm.toml` and the truth files; later nights need night 1
/// in the same folder (its saved options win over `opts` except for `night`).
pub fn generate(out_dir: &Path, opts: &GenerateOptions) -> Result<GenerateReport> {
    if opts.customers == 0 || opts.years == 0 || opts.night == 0 {
        return Err(Error::Invalid(
            "customers, years and night must be at least 1".into(),
        ));
    }
    let opts = if opts.night > 1 {
        let saved = saved_options(out_dir)?.ok_or_else(|| {
            Error::Invalid(format!(
                "{} has no night 1 ({PARAMS_FILE} missing): generate night 1 first",
                out_dir.display()
            ))
        })?;
        GenerateOptions {
            night: opts.night,
            ..saved
        }
    } else {
        opts.clone()
    };
    std::fs::create_dir_all(out_dir.join("truth")).map_err(|source| Error::Io {
        path: out_dir.into(),
        source,
    })?;
    let catalog = catalog::Catalog::new();
    let mut population = population::Population::generate(&opts, &catalog);
    for night in 2..opts.night {
        population.apply_night_changes(&opts, night);
    }
    let mut out = exports::ExportSet::new(out_dir, batch_date(opts.night), opts.night)?;
    if opts.night == 1 {
        let params =
            serde_json::to_string_pretty(&opts).map_err(|e| Error::Invalid(e.to_string()))?;
        exports::write_text(&out_dir.join(PARAMS_FILE), &params)?;
        exports::write_text(
            &out_dir.join("acrm.toml"),
            &config_file::render(&opts.warehouse_path),
        )?;
        activity::write_history(&opts, &catalog, &population, &mut out)?;
        let persons: Vec<&population::Person> = population.persons.iter().collect();
        expenses::write(&opts, &catalog, &persons, &mut out)?;
    } else {
        let changes = population.apply_night_changes(&opts, opts.night);
        activity::write_night(&opts, &catalog, &population, &changes, &mut out)?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read dir") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).expect("below").to_path_buf();
                    out.push((rel, std::fs::read(&p).expect("read")));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn same_options_give_byte_identical_files_and_another_seed_does_not() {
        let opts = GenerateOptions {
            customers: 150,
            ..GenerateOptions::default()
        };
        let (a, b, c) = (
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        );
        let ra = generate(a.path(), &opts).expect("generate a");
        generate(b.path(), &opts).expect("generate b");
        generate(c.path(), &GenerateOptions { seed: 7, ..opts }).expect("generate c");
        assert!(ra.bad_rows > 0 && ra.files.len() >= 10, "{ra:?}");
        assert_eq!(files_below(a.path()), files_below(b.path()));
        assert_ne!(files_below(a.path()), files_below(c.path()));
    }

    #[test]
    fn later_nights_need_night_one_and_reuse_its_population() {
        let dir = tempfile::tempdir().expect("tmp");
        let night2 = GenerateOptions {
            night: 2,
            ..GenerateOptions::default()
        };
        let err = generate(dir.path(), &night2).expect_err("no night 1 yet");
        assert!(err.to_string().contains("generate night 1 first"), "{err}");
        generate(
            dir.path(),
            &GenerateOptions {
                customers: 120,
                ..GenerateOptions::default()
            },
        )
        .expect("night 1");
        let r = generate(dir.path(), &night2).expect("night 2");
        assert_eq!(r.batch_date, batch_date(2));
        let changes = std::fs::read_to_string(dir.path().join("truth/night-2/changes.csv"))
            .expect("changes truth");
        assert!(changes.lines().count() > 2, "{changes}");
    }
}
