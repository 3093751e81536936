//! Helpers shared by the end-to-end tests: running the binary, copying the bundled sample,
//! reading published Parquet tables and the generator's truth files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The repository root (where `sample-data/` lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temporary folder under the target directory (removed when dropped).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("acrm-e2e-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temporary folder")
}

/// What a failed tool check tells the reader to do.
pub const SET_UP: &str = "run ./test (the README's test command): it creates the project's Python venv \
     (.venv) and installs the Debian packages the tests drive, or names them";

/// The program of an external tool the tests drive (`python3`, `chromium`, `psql`, `openssl`),
/// the first of `names` found: the project venv's copy first (`.venv/bin`, made by `./test`),
/// else the one on PATH. A missing tool fails the test with a message naming the set-up
/// command; no test skips for want of one.
pub fn tool(names: &[&str]) -> PathBuf {
    let venv = repo().join(".venv/bin");
    let found = names
        .iter()
        .flat_map(|n| [venv.join(n), PathBuf::from(n)])
        .find(|program| Command::new(program).arg("--version").output().is_ok());
    found.unwrap_or_else(|| panic!("{} is not installed: {SET_UP}", names.join(" or ")))
}

/// The `acrm` binary under test, logging only warnings so failures are readable.
pub fn acrm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acrm"));
    c.env("ACRM_LOG", "warn")
        .env_remove("ACRM_CONFIG")
        .env_remove("ACRM_WAREHOUSE");
    c
}

/// Runs `cmd`, returning its output whatever the exit code.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the acrm binary runs")
}

/// Runs `cmd` with `input` on its standard input, returning its output whatever the exit
/// code.
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write standard input");
    child.wait_with_output().expect("the command ends")
}

/// Runs `cmd`, fails the test unless it exits 0, and returns its standard output.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Copies the folder tree `from` into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for e in std::fs::read_dir(from).expect("read folder") {
        let e = e.expect("folder entry");
        let dst = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).expect("copy file");
        }
    }
}

/// A copy of the bundled `sample-data/` in a temporary folder, with its own warehouse.
pub struct SampleCopy {
    /// The temporary folder: `sample-data/` and (after a build) `warehouse/` inside.
    pub dir: tempfile::TempDir,
}

impl SampleCopy {
    /// Copies `sample-data/` (night 1 only) into a new temporary folder.
    pub fn new() -> Self {
        let dir = tempdir();
        copy_dir(&repo().join("sample-data"), &dir.path().join("sample-data"));
        Self { dir }
    }

    /// The exports folder (`sample-data/` in the copy).
    pub fn exports(&self) -> PathBuf {
        self.dir.path().join("sample-data")
    }

    /// The copy's mapping config.
    pub fn config(&self) -> PathBuf {
        self.exports().join("acrm.toml")
    }

    /// Where the copy's config puts the warehouse.
    pub fn warehouse(&self) -> PathBuf {
        self.dir.path().join("warehouse")
    }

    /// `acrm <args> --warehouse <the copy's warehouse>`.
    pub fn on(&self, args: &[&str]) -> Command {
        let mut c = acrm();
        c.args(args).arg("--warehouse").arg(self.warehouse());
        c
    }

    /// The generator's persons (truth/night-1/persons.csv) keyed by their golden customer
    /// id in the copy's warehouse (through `map_customer_source`); persons never loaded are
    /// left out.
    pub fn planted_persons(&self) -> Vec<(i64, HashMap<String, String>)> {
        let truth = read_truth(&self.exports().join("truth/night-1/persons.csv"));
        let keys = run_ok(&mut self.on(&[
            "sql",
            "--format",
            "csv",
            "SELECT source_system, source_id, customer_id FROM map_customer_source",
        ]));
        let mut by_source: HashMap<(String, String), i64> = HashMap::new();
        for r in csv_rows(&keys) {
            by_source.insert((r[0].clone(), r[1].clone()), r[2].parse().expect("id"));
        }
        truth
            .into_iter()
            .filter_map(|p| {
                let id = [("crm", "crm_id"), ("web", "web_id")]
                    .iter()
                    .find_map(|(sys, col)| by_source.get(&(sys.to_string(), p[*col].clone())))?;
                Some((*id, p))
            })
            .collect()
    }

    /// `acrm build --config <copy> --warehouse <warehouse>` plus `extra` arguments.
    pub fn build(&self, warehouse: &Path, extra: &[&str]) -> Command {
        let mut c = acrm();
        c.arg("build")
            .arg("--config")
            .arg(self.config())
            .arg("--warehouse")
            .arg(warehouse)
            .args(extra);
        c
    }

    /// Writes night `n`'s exports into the copy with `acrm generate --night n`.
    pub fn generate_night(&self, n: u32) {
        run_ok(
            acrm()
                .arg("generate")
                .arg("--out")
                .arg(self.exports())
                .arg("--night")
                .arg(n.to_string()),
        );
    }
}

/// The sample built once, the way the README says (`acrm build` with no arguments, run from
/// the folder holding `sample-data/`), shared by the read-only tests.
pub struct SampleBuild {
    /// The copy it was built from.
    pub copy: SampleCopy,
    /// What `acrm build` printed.
    pub stdout: String,
}

/// The shared no-argument build of the sample.
pub fn sample_build() -> &'static SampleBuild {
    static BUILD: OnceLock<SampleBuild> = OnceLock::new();
    BUILD.get_or_init(|| {
        let copy = SampleCopy::new();
        let stdout = run_ok(acrm().arg("build").current_dir(copy.dir.path()));
        SampleBuild { copy, stdout }
    })
}

/// `acrm <args> --warehouse <the shared sample warehouse>`.
pub fn on_sample(args: &[&str]) -> Command {
    let mut c = acrm();
    c.args(args)
        .arg("--warehouse")
        .arg(sample_build().copy.warehouse());
    c
}

/// The folder `WAREHOUSE/current` points to.
pub fn current(warehouse: &Path) -> PathBuf {
    std::fs::canonicalize(warehouse.join("current")).expect("current link resolves")
}

/// The published version number of `warehouse`.
pub fn current_version(warehouse: &Path) -> u64 {
    manifest(&current(warehouse))["version"]
        .as_u64()
        .expect("manifest version")
}

/// `manifest.json` of version folder `dir`.
pub fn manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// Every Parquet file below `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.expect("entry").path();
            if p.is_dir() {
                out.extend(parquet_files(&p));
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every row batch of table `table` in version folder `dir`.
pub fn read_table(dir: &Path, table: &str) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for f in parquet_files(&dir.join(table)) {
        let file = std::fs::File::open(&f).expect("open parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet footer")
            .build()
            .expect("parquet reader");
        for b in reader {
            out.push(b.expect("parquet batch"));
        }
    }
    out
}

/// The sample copy in `cell`, built (without marts) on first use: a module's own warehouse
/// for tests that write models and marts.
pub fn built_once(cell: &'static std::sync::OnceLock<SampleCopy>) -> &'static SampleCopy {
    cell.get_or_init(|| {
        let copy = SampleCopy::new();
        run_ok(&mut copy.build(&copy.warehouse(), &["--no-marts"]));
        copy
    })
}

/// `mine basket [recommend]` with the subcategory-level thresholds of the basket tests,
/// then the rest of `rest` (a leading `recommend` stays before the flags).
pub fn basket_args<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    let split = usize::from(rest.first() == Some(&"recommend"));
    let mut args = vec!["mine", "basket"];
    args.extend_from_slice(&rest[..split]);
    args.extend([
        "--level",
        "subcategory",
        "--min-support",
        "0.005",
        "--min-confidence",
        "0.2",
    ]);
    args.extend_from_slice(&rest[split..]);
    args
}

/// Golden customer id of every source record `(system, source id)` in a version's
/// `map_customer_source`.
pub fn golden_ids(version: &Path) -> HashMap<(String, String), String> {
    let map = read_table(version, "map_customer_source");
    column_text(&map, "source_system")
        .into_iter()
        .zip(column_text(&map, "source_id"))
        .zip(column_text(&map, "customer_id"))
        .map(|((s, i), c)| ((s.expect("system"), i.expect("id")), c.expect("customer")))
        .collect()
}

/// Data rows of CSV text with a header.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("csv row").iter().map(String::from).collect())
        .collect()
}

/// Rows of a ground-truth CSV as maps from column name to text.
pub fn read_truth(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("truth file {}: {e}", path.display()));
    csv_maps(&text)
}

/// Rows of a CSV text (a truth file, what the binary printed) as maps from column name to
/// text.
pub fn csv_maps(text: &str) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .expect("CSV header")
        .iter()
        .map(String::from)
        .collect();
    rdr.records()
        .map(|r| {
            let r = r.expect("CSV row");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// BLAKE3 of every Parquet file of `tables` in version folder `dir`, by path inside it.
pub fn checksums(dir: &Path, tables: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for t in tables {
        for f in parquet_files(&dir.join(t)) {
            let bytes = std::fs::read(&f).expect("read parquet");
            let rel = f
                .strip_prefix(dir)
                .expect("inside version")
                .to_string_lossy()
                .to_string();
            out.insert(rel, blake3::hash(&bytes).to_hex().to_string());
        }
    }
    out
}

/// pyarrow and DuckDB read every table of version folder `version` (or the `current` link)
/// with no acrm code, each finding the rows its manifest lists.
pub fn assert_readable_by_duckdb(version: &Path) {
    let m = manifest(version);
    let script = repo().join("tests/read_with_pyarrow_duckdb.py");
    let out = Command::new(tool(&["python3"]))
        .arg(&script)
        .arg(version)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}\n(if pyarrow or duckdb is missing: {SET_UP})",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON counts");
    for (table, n) in m["tables"].as_object().expect("tables") {
        if n.as_u64() == Some(0) {
            continue; // an empty table has no file to read
        }
        assert_eq!(counts["pyarrow"][table], *n, "pyarrow rows of {table}");
        assert_eq!(counts["duckdb"][table], *n, "duckdb rows of {table}");
    }
}

/// Names of the schema's tables of `kind`.
pub fn tables_of(kind: acrm_schema::TableKind) -> Vec<String> {
    acrm_schema::WarehouseSchema::builtin()
        .expect("schema")
        .tables()
        .iter()
        .filter(|t| t.kind == kind)
        .map(|t| t.name.clone())
        .collect()
}

/// The published fact tables.
pub fn facts() -> Vec<String> {
    tables_of(acrm_schema::TableKind::Fact)
}

/// Column `name` of `batches` as text (any type, cast by Arrow), nulls as `None`.
pub fn column_text(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let mut out = Vec::new();
    for b in batches {
        let col = b
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"));
        let text = datafusion::arrow::compute::cast(col, &DataType::Utf8).expect("cast to text");
        let text = text.as_string::<i32>();
        out.extend((0..text.len()).map(|i| (!text.is_null(i)).then(|| text.value(i).to_string())));
    }
    out
}

/// Total rows of `batches`.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Compares `out` with the golden file at `path`, or writes it there under `ACRM_BLESS=1`
/// (`test` names the test to run for blessing).
pub fn assert_golden(path: &Path, out: &str, test: &str) {
    if std::env::var_os("ACRM_BLESS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("golden folder");
        }
        std::fs::write(path, out).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "{} missing: run ACRM_BLESS=1 cargo test {test}",
            path.display()
        )
    });
    assert!(
        out == expected,
        "output differs from {} (review, then ACRM_BLESS=1 to accept):\n{out}",
        path.display()
    );
}

/// Independent AUC: the share of (positive, negative) pairs ordered right, ties half.
pub fn pairwise_auc(scored: &[(bool, f64)]) -> f64 {
    let (mut right, mut pairs) = (0.0, 0.0);
    for (_, sp) in scored.iter().filter(|s| s.0) {
        for (_, sn) in scored.iter().filter(|s| !s.0) {
            pairs += 1.0;
            right += if sp > sn {
                1.0
            } else if sp == sn {
                0.5
            } else {
                0.0
            };
        }
    }
    right / pairs
}
