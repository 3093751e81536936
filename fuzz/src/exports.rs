//! The export readers with the sample's mapping applied: fuzz bytes become one export file
//! of a source, staged exactly as the nightly build stages it (reading, decoding, typing,
//! cleansing, duplicate checks), with a loader that accepts every clean row.

use std::path::PathBuf;
use std::sync::OnceLock;

use acrm_etl::BuildConfig;
use acrm_etl::config::{Format, SourceConfig};
use acrm_etl::stage::{SeenRows, Staged, stage_file};
use acrm_schema::SourceCatalog;

/// What a staging run is checked against, built once per process.
struct Setup {
    config: BuildConfig,
    catalog: SourceCatalog,
    scratch: PathBuf,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| Setup {
        config: BuildConfig::load(&crate::sample_data().join("acrm.toml"))
            .expect("the sample mapping loads"),
        catalog: SourceCatalog::builtin().expect("the built-in source catalog"),
        scratch: crate::scratch(),
    })
}

/// Stages `data` as a file of one of the sample's `format` sources (its first byte picks
/// which) and checks what the build promises of any file: every line read is loaded or
/// quarantined (never both, never neither), and every quarantined row names a line of
/// the file. An error is allowed (it stops the build with a message); a panic is not.
pub fn stage(format: Format, data: &[u8]) {
    let Some((&pick, content)) = data.split_first() else {
        return;
    };
    let s = setup();
    let sources: Vec<&SourceConfig> = s
        .config
        .sources
        .iter()
        .filter(|src| src.format == format)
        .collect();
    let src = sources[usize::from(pick) % sources.len()];
    let path: PathBuf = s.scratch.join(match format {
        Format::Csv => "export.csv",
        Format::Jsonl => "export.jsonl",
        Format::Parquet => "export.parquet",
    });
    std::fs::write(&path, content).expect("the scratch file is writable");
    let work = s.scratch.join("work");
    std::fs::create_dir_all(&work).expect("the scratch work folder");
    let def = s.catalog.entity(src.entity);
    let mut loader =
        |rows: Vec<Staged>, _: &mut acrm_etl::stage::Rejector<'_>| Ok(rows.len() as u64);
    let staged = stage_file(
        src,
        def,
        &s.config.default_country_code,
        &path,
        "export",
        &work,
        &mut SeenRows::default(),
        &mut |_| {},
        &mut loader,
    );
    match staged {
        Ok(staging) => check(&staging, content),
        Err(e) => {
            let message = e.to_string();
            assert!(
                !message.contains("internal"),
                "staging broke its own reconciliation: {message}"
            );
            assert!(
                message.contains(&s.scratch.display().to_string()),
                "an error that does not name the file: {message}"
            );
        }
    }
}

/// The reconciliation and line numbers of one staged file.
fn check(staging: &acrm_etl::stage::Staging, content: &[u8]) {
    let c = &staging.counts;
    assert_eq!(
        c.read,
        c.loaded + c.quarantined,
        "read != loaded + quarantined"
    );
    assert_eq!(c.quarantined, staging.rejected.len() as u64);
    let lines = lines_of(content);
    for r in &staging.rejected {
        assert!(
            (1..=lines).contains(&r.line),
            "quarantined row at line {} of a {lines}-line file ({}: {})",
            r.line,
            r.code,
            r.reason
        );
    }
}

/// Lines a text editor shows for `content` (a last line without its newline counts).
fn lines_of(content: &[u8]) -> u64 {
    let newlines = content.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(!content.ends_with(b"\n"))
}
