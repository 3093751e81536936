//! The source mapping config (`acrm.toml`): raw TOML shape, then a validated [`BuildConfig`]
//! checked completely before any file is read, so a typo fails in a second, not after an
//! hour of loading.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use acrm_schema::{EntityKind, FieldType, SourceCatalog};
use serde::Deserialize;

use crate::datefmt::DateFormat;
use crate::identity::{Decision, Field, FixedLevels, IdentityConfig, Link, level_names};
use crate::{Error, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    warehouse: RawWarehouse,
    #[serde(default)]
    build: RawBuild,
    #[serde(default)]
    identity: RawIdentity,
    #[serde(default)]
    marts: RawMarts,
    #[serde(default)]
    source: Vec<RawSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarts {
    refresh: Option<Vec<String>>,
    segment_k: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarehouse {
    path: Option<String>,
    keep_versions: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    default_country_code: Option<String>,
    batch_date_pattern: Option<String>,
    batch_date_format: Option<String>,
    memory_mib: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    blocking: Option<Vec<Vec<String>>>,
    training: Option<Vec<Vec<String>>>,
    merge_probability: Option<f64>,
    review_probability: Option<f64>,
    max_cluster_size: Option<usize>,
    max_block_size: Option<usize>,
    decisions: Option<String>,
    fixed: Option<BTreeMap<String, RawFixed>>,
}

/// `[identity.fixed.<field>]`: m and/or u per comparison level.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixed {
    m: Option<Vec<f64>>,
    u: Option<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    entity: String,
    path: String,
    format: Option<String>,
    delimiter: Option<String>,
    encoding: Option<String>,
    #[serde(default)]
    has_header: Option<bool>,
    load: Option<String>,
    priority: Option<u32>,
    customer_system: Option<String>,
    date_format: Option<StringOrList>,
    timestamp_format: Option<StringOrList>,
    timezone: Option<String>,
    true_values: Option<Vec<String>>,
    false_values: Option<Vec<String>>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    formats: BTreeMap<String, StringOrList>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    constants: BTreeMap<String, String>,
    on_existing_key: Option<String>,
    dedupe_exact_lines: Option<bool>,
    max_quarantined_share: Option<f64>,
    max_field_bytes: Option<usize>,
    #[serde(default)]
    null_invalid: Vec<String>,
    returns: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s],
            StringOrList::Many(v) => v,
        }
    }
}

/// File format of a source's exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

/// Text encoding of CSV / JSON-lines exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (the default); invalid bytes quarantine the row.
    Utf8,
    /// Any other WHATWG encoding (GBK, GB18030, Big5, windows-1252...), transcoded to UTF-8.
    Other(&'static encoding_rs::Encoding),
}

/// How a source's rows reach their table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// New rows are added to the table (facts, master-data deltas).
    Append,
    /// Each batch replaces everything this source loaded before (receivables, plans).
    Snapshot,
}

/// What a fact line whose natural key the warehouse already holds does (`on_existing_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingKey {
    /// Quarantined with reason `already_loaded`, counted against `max_quarantined_share`
    /// (the default: a second copy of an order line is an error until someone says why).
    Quarantine,
    /// Kept out of the warehouse as expected (exports of overlapping windows): quarantined
    /// with reason `already_loaded` for the trail, but not counted against the share.
    Skip,
    /// The new line replaces the one loaded before (corrected re-exports).
    Replace,
}

/// Default `max_field_bytes`: longer fields are quarantined (`field_too_long`).
pub const DEFAULT_MAX_FIELD_BYTES: usize = 64 * 1024;

/// Default `max_quarantined_share`: a file with more of its rows quarantined fails the night.
pub const DEFAULT_MAX_QUARANTINED_SHARE: f64 = 0.5;

/// How one canonical field is filled for a source.
#[derive(Debug, Clone)]
pub enum FieldSource {
    /// Not provided: null.
    Missing,
    /// From the source column with this name.
    Column(String),
    /// This constant for every row.
    Constant(String),
}

/// One validated source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique name; for customer sources also the name of the customer id system.
    pub name: String,
    /// Entity kind it feeds.
    pub entity: EntityKind,
    /// Glob pattern, absolute (resolved against the config's folder).
    pub pattern: PathBuf,
    /// File format.
    pub format: Format,
    /// CSV field delimiter.
    pub delimiter: u8,
    /// CSV has a header row (default true; without one, columns are named 1, 2, 3...).
    pub has_header: bool,
    /// Text encoding.
    pub encoding: TextEncoding,
    /// Append or snapshot.
    pub load: LoadMode,
    /// Survivorship rank for customer sources (1 wins).
    pub priority: u32,
    /// The customer id system that `customer_ref` values belong to (default: this source).
    pub customer_system: String,
    /// For each canonical field (in the entity's order), where it comes from.
    pub fields: Vec<FieldSource>,
    /// Per canonical field: parse formats for dates / timestamps, compiled.
    pub formats: Vec<Vec<DateFormat>>,
    /// Per canonical field: value map applied to codes (keys compared trimmed).
    pub value_maps: Vec<HashMap<String, String>>,
    /// Offset of local times in this source, in seconds east of UTC.
    pub utc_offset_secs: i32,
    /// Texts read as true.
    pub true_values: Vec<String>,
    /// Texts read as false.
    pub false_values: Vec<String>,
    /// The source maps the first field of its entity's natural key (`key` in sources.toml).
    pub natural_key: bool,
    /// Exact repeats of a row in a batch are quarantined as `duplicate_row` (default: when
    /// the source has a natural key; without one, identical lines are real repeat purchases).
    pub dedupe_exact_lines: bool,
    /// Fact lines whose natural key is already loaded: quarantine, skip or replace.
    pub on_existing_key: ExistingKey,
    /// Share of a file's rows that may be quarantined before the night fails (0 to 1).
    pub max_quarantined_share: f64,
    /// Longest field in bytes; longer ones quarantine the row (`field_too_long`).
    pub max_field_bytes: usize,
    /// Per canonical field (in the entity's order): a value that does not parse is loaded
    /// as null and listed in `etl_nulled_values`, instead of quarantining the row
    /// (`null_invalid`, optional fields only: a birth date of 1931-99-24 should not cost
    /// the customer's record).
    pub null_invalid: Vec<bool>,
    /// Negative quantities are returns (loaded as negative lines), not errors.
    pub returns: bool,
}

/// The validated build configuration.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// The config file.
    pub path: PathBuf,
    /// Folder paths in the config are relative to.
    pub base_dir: PathBuf,
    /// Warehouse folder from the config, if it names one.
    pub warehouse: Option<PathBuf>,
    /// Published versions kept (at least 1; default 3).
    pub keep_versions: usize,
    /// Country calling code for phones written without one.
    pub default_country_code: String,
    /// Regex whose first group is the batch date in a file name.
    pub batch_date_pattern: Option<regex::Regex>,
    /// chrono format of that date.
    pub batch_date_format: String,
    /// How customer records are matched (`[identity]`).
    pub identity: IdentityConfig,
    /// Memory the build may use, in MiB (`[build] memory_mib`; default an eighth of the
    /// machine's memory, at least 1 GiB): it sizes the buffers of fact lines waiting to be
    /// written, so a night of any size streams through in bounded memory.
    pub memory_mib: usize,
    /// The sources, in config order.
    pub sources: Vec<SourceConfig>,
    /// Analyses recomputed into every new version the build publishes.
    pub marts: MartsConfig,
}

impl SourceConfig {
    /// The source's fact lines are checked by natural key (`crate::keys`): a keyed source
    /// appending to a fact table. Its exact repeats are found there too, as repeats of a key.
    pub fn checks_keys(&self) -> bool {
        self.natural_key && self.load == LoadMode::Append && self.entity.fact_table().is_some()
    }
}

/// An eighth of the machine's memory (from `/proc/meminfo`), at least 1 GiB; 2 GiB where
/// the total cannot be read. (One line of a file the kernel keeps does not justify adding
/// `sysinfo` with features of our own: its other users in the tree would be rebuilt.)
fn default_memory_mib() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
    });
    total_kib.map_or(2048, |k| (k / 1024 / 8).max(1024))
}

/// The analyses a nightly build refreshes (`[marts]`): their result tables are written into
/// the version the build publishes, so they always match its facts.
#[derive(Debug, Clone, PartialEq)]
pub struct MartsConfig {
    /// Analyses to run: those `warehouse-schema/tables.toml` names for its marts (`rfm`,
    /// `segment`, `value`, `lifecycle`, `alerts`, `basket`, `cross_sell`, and scoring with the
    /// champion models `churn_score`, `credit_score`); empty turns the refresh off.
    pub refresh: Vec<String>,
    /// Segments of the refreshed segmentation; `None` chooses k by silhouette.
    pub segment_k: Option<usize>,
}

impl MartsConfig {
    /// The default `refresh` list: every analysis that needs no trained model, and the
    /// opt-out check of the campaign target lists drawn.
    pub const DEFAULT_REFRESH: [&'static str; 6] = [
        "rfm",
        "segment",
        "value",
        "lifecycle",
        "alerts",
        "campaign_target",
    ];
}

impl Default for MartsConfig {
    /// The default analyses, k by silhouette.
    fn default() -> Self {
        Self {
            refresh: Self::DEFAULT_REFRESH.map(String::from).to_vec(),
            segment_k: None,
        }
    }
}

const DEFAULT_TRUE: [&str; 8] = ["y", "yes", "1", "true", "t", "是", "有", "x"];
const DEFAULT_FALSE: [&str; 7] = ["n", "no", "0", "false", "f", "否", "无"];

impl BuildConfig {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.into(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Validates config `text` as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let cfg_err = |message: String| Error::Config {
            path: path.into(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| cfg_err(e.to_string()))?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base_dir = if base_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base_dir
        };
        let catalog = SourceCatalog::builtin()?;
        let batch_date_pattern = raw
            .build
            .batch_date_pattern
            .as_deref()
            .map(|p| {
                let re = regex::Regex::new(p)
                    .map_err(|e| cfg_err(format!("[build] batch_date_pattern: {e}")))?;
                if re.captures_len() < 2 {
                    return Err(cfg_err(
                        "[build] batch_date_pattern needs one capture group (the date)".into(),
                    ));
                }
                Ok(re)
            })
            .transpose()?;
        let identity = identity_config(raw.identity, &base_dir).map_err(cfg_err)?;
        let memory_mib = match raw.build.memory_mib {
            Some(m) if m < 256 => {
                return Err(cfg_err(format!(
                    "[build] memory_mib must be at least 256, got {m}"
                )));
            }
            Some(m) => m,
            None => default_memory_mib(),
        };
        let keep_versions = raw.warehouse.keep_versions.unwrap_or(3);
        if keep_versions == 0 {
            return Err(cfg_err(
                "[warehouse] keep_versions must be at least 1".into(),
            ));
        }
        let country = raw
            .build
            .default_country_code
            .unwrap_or_else(|| "86".into());
        if country.is_empty() || !country.chars().all(|c| c.is_ascii_digit()) || country.len() > 3 {
            return Err(cfg_err(format!(
                "[build] default_country_code must be 1-3 digits, got '{country}'"
            )));
        }
        if raw.source.is_empty() {
            return Err(cfg_err(
                "no [[source]] declared: name at least one export to load".into(),
            ));
        }
        let marts = validate_marts(raw.marts).map_err(|m| cfg_err(format!("[marts] {m}")))?;
        let mut sources = Vec::new();
        for (i, rs) in raw.source.into_iter().enumerate() {
            let s = validate_source(&catalog, &base_dir, rs)
                .map_err(|m| cfg_err(format!("[[source]] #{}: {m}", i + 1)))?;
            if sources.iter().any(|o: &SourceConfig| o.name == s.name) {
                return Err(cfg_err(format!("source name '{}' is used twice", s.name)));
            }
            sources.push(s);
        }
        Ok(Self {
            path: path.into(),
            warehouse: raw.warehouse.path.map(|p| base_dir.join(p)),
            base_dir,
            keep_versions,
            default_country_code: country,
            batch_date_pattern,
            batch_date_format: raw
                .build
                .batch_date_format
                .unwrap_or_else(|| "%Y-%m-%d".into()),
            identity,
            memory_mib,
            sources,
            marts,
        })
    }

    /// Names of the customer sources (the known customer id systems).
    pub fn customer_systems(&self) -> impl Iterator<Item = &str> {
        self.sources
            .iter()
            .filter(|s| s.entity == EntityKind::Customer)
            .map(|s| s.name.as_str())
    }

    /// True when some source feeds `kind`.
    pub fn has_entity(&self, kind: EntityKind) -> bool {
        self.sources.iter().any(|s| s.entity == kind)
    }
}

fn validate_marts(raw: RawMarts) -> std::result::Result<MartsConfig, String> {
    let mut marts = MartsConfig::default();
    if let Some(refresh) = raw.refresh {
        let schema = acrm_schema::WarehouseSchema::builtin().map_err(|e| e.to_string())?;
        let known = schema.analyses();
        for name in &refresh {
            if !known.contains(&name.as_str()) {
                return Err(format!(
                    "refresh: unknown analysis '{name}'; one of {}",
                    known.join(", ")
                ));
            }
        }
        marts.refresh = refresh;
    }
    marts.segment_k = match raw.segment_k {
        None => None,
        Some(toml::Value::String(s)) if s == "auto" => None,
        Some(toml::Value::Integer(k)) if (2..=100).contains(&k) => Some(k as usize),
        Some(v) => return Err(format!("segment_k must be 2..=100 or \"auto\", got {v}")),
    };
    Ok(marts)
}

/// The `[identity]` table: blocking rules over known fields (at most 16, as one bit each
/// marks the rules that found a pair), thresholds between 0 and 1 with review ≤ merge.
fn identity_config(
    raw: RawIdentity,
    base_dir: &Path,
) -> std::result::Result<IdentityConfig, String> {
    let mut cfg = IdentityConfig::default();
    if let Some(file) = &raw.decisions {
        cfg.decisions = read_decisions(&base_dir.join(file))?;
    }
    if let Some(rules) = raw.blocking {
        cfg.blocking = rules_of("blocking", &rules)?;
    }
    if let Some(rules) = raw.training {
        cfg.training = rules_of("training", &rules)?;
    }
    // Blocking and training rules share the 16 bits that mark which rules found a pair.
    let extra = cfg
        .training
        .iter()
        .filter(|t| !cfg.blocking.contains(t))
        .count();
    if cfg.blocking.len() + extra > 16 {
        return Err(format!(
            "[identity] blocking and training rules together (not counting a training rule that \
             is also a blocking rule) may be at most 16, got {}",
            cfg.blocking.len() + extra
        ));
    }
    let probability = |name: &str, v: Option<f64>, default: f64| match v {
        Some(p) if !(p > 0.0 && p < 1.0) => Err(format!(
            "[identity] {name} must be a probability between 0 and 1 (exclusive), got {p}"
        )),
        Some(p) => Ok(p),
        None => Ok(default),
    };
    cfg.merge_probability = probability(
        "merge_probability",
        raw.merge_probability,
        cfg.merge_probability,
    )?;
    cfg.review_probability = probability(
        "review_probability",
        raw.review_probability,
        cfg.review_probability.min(cfg.merge_probability),
    )?;
    if cfg.review_probability > cfg.merge_probability {
        return Err(format!(
            "[identity] review_probability ({}) must not exceed merge_probability ({})",
            cfg.review_probability, cfg.merge_probability
        ));
    }
    for (name, v, slot) in [
        (
            "max_cluster_size",
            raw.max_cluster_size,
            &mut cfg.max_cluster_size,
        ),
        (
            "max_block_size",
            raw.max_block_size,
            &mut cfg.max_block_size,
        ),
    ] {
        match v {
            Some(n) if n < 2 => {
                return Err(format!("[identity] {name} must be at least 2, got {n}"));
            }
            Some(n) => *slot = n,
            None => {}
        }
    }
    for (name, raw) in raw.fixed.unwrap_or_default() {
        cfg.fixed.push(fixed_levels(&name, raw)?);
    }
    Ok(cfg)
}

/// `[identity.fixed.<name>]`: a known field, each list one probability per level of that
/// field (named in the error) summing to 1.
fn fixed_levels(name: &str, raw: RawFixed) -> std::result::Result<FixedLevels, String> {
    let field = Field::parse(name).ok_or_else(|| {
        format!(
            "[identity.fixed] unknown field '{name}'; one of {}",
            Field::ALL.map(Field::name).join(", ")
        )
    })?;
    let levels = level_names(field);
    let check = |key: &str, values: Option<Vec<f64>>| {
        let Some(values) = values else {
            return Ok(None);
        };
        let at = format!("[identity.fixed.{name}] {key}");
        if values.len() != levels.len() {
            return Err(format!(
                "{at} needs {} probabilities, one per level ({}), got {}",
                levels.len(),
                levels.join(", "),
                values.len()
            ));
        }
        if let Some(p) = values.iter().find(|p| !(**p > 0.0 && **p <= 1.0)) {
            return Err(format!(
                "{at}: every probability must be above 0 and at most 1, got {p}"
            ));
        }
        let sum: f64 = values.iter().sum();
        if (sum - 1.0).abs() > 1e-3 {
            return Err(format!("{at} must sum to 1 over the levels, sums to {sum}"));
        }
        Ok(Some(values))
    };
    let (m, u) = (check("m", raw.m)?, check("u", raw.u)?);
    if m.is_none() && u.is_none() {
        return Err(format!("[identity.fixed.{name}] sets neither m nor u"));
    }
    Ok(FixedLevels { field, m, u })
}

/// A steward's decisions file: CSV with the header `decision,system_a,source_id_a,system_b,
/// source_id_b`, each decision `must_link` or `cannot_link`.
fn read_decisions(path: &Path) -> std::result::Result<Vec<Decision>, String> {
    let shown = path.display();
    let mut rdr = csv::Reader::from_path(path)
        .map_err(|e| format!("[identity] decisions: cannot read {shown}: {e}"))?;
    let expected = [
        "decision",
        "system_a",
        "source_id_a",
        "system_b",
        "source_id_b",
    ];
    let header = rdr.headers().map_err(|e| format!("{shown}: {e}"))?.clone();
    // A spreadsheet's UTF-8 export starts with a byte-order mark.
    if header
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}'))
        .ne(expected)
    {
        return Err(format!(
            "{shown}: the header must be {}, found {}",
            expected.join(","),
            header.iter().collect::<Vec<_>>().join(",")
        ));
    }
    let mut out = Vec::new();
    for (i, record) in rdr.records().enumerate() {
        let line = i + 2;
        let r = record.map_err(|e| format!("{shown} line {line}: {e}"))?;
        let field = |k: usize| r.get(k).map(str::trim).unwrap_or_default().to_string();
        let link = match field(0).as_str() {
            "must_link" => Link::Must,
            "cannot_link" => Link::Cannot,
            other => {
                return Err(format!(
                    "{shown} line {line}, column decision: expected must_link or cannot_link, found '{other}'"
                ));
            }
        };
        let (a, b) = ((field(1), field(2)), (field(3), field(4)));
        if [&a.0, &a.1, &b.0, &b.1].iter().any(|v| v.is_empty()) {
            return Err(format!(
                "{shown} line {line}: both records need a system and a source id"
            ));
        }
        out.push(Decision { link, a, b });
    }
    Ok(out)
}

/// Blocking or training rules by field name.
fn rules_of(key: &str, rules: &[Vec<String>]) -> std::result::Result<Vec<Vec<Field>>, String> {
    if rules.is_empty() || rules.len() > 16 {
        return Err(format!(
            "[identity] {key} needs 1 to 16 rules, got {}",
            rules.len()
        ));
    }
    rules
        .iter()
        .map(|rule| {
            if rule.is_empty() {
                return Err(format!("[identity] {key}: a rule names no field"));
            }
            rule.iter()
                .map(|name| {
                    Field::parse(name).ok_or_else(|| {
                        format!(
                            "[identity] {key}: unknown field '{name}'; one of {}",
                            Field::ALL.map(Field::name).join(", ")
                        )
                    })
                })
                .collect()
        })
        .collect()
}

fn validate_source(
    catalog: &SourceCatalog,
    base: &Path,
    rs: RawSource,
) -> std::result::Result<SourceConfig, String> {
    let name = rs.name.trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "name '{}' must be letters, digits, '_' or '-'",
            rs.name
        ));
    }
    let ctx = |m: String| format!("source '{name}': {m}");
    let entity = EntityKind::ALL
        .into_iter()
        .find(|k| k.name() == rs.entity)
        .ok_or_else(|| {
            ctx(format!(
                "unknown entity '{}'; one of {}",
                rs.entity,
                EntityKind::ALL.map(|k| k.name()).join(", ")
            ))
        })?;
    let def = catalog.entity(entity);
    let format = match rs
        .format
        .as_deref()
        .unwrap_or_else(|| guess_format(&rs.path))
    {
        "csv" => Format::Csv,
        "jsonl" | "ndjson" | "json" => Format::Jsonl,
        "parquet" => Format::Parquet,
        other => {
            return Err(ctx(format!(
                "unknown format '{other}': csv, jsonl or parquet"
            )));
        }
    };
    let delimiter = match rs.delimiter.as_deref() {
        None => b',',
        Some("\\t") | Some("\t") | Some("tab") => b'\t',
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some(d) => {
            return Err(ctx(format!(
                "delimiter must be one ASCII character, got '{d}'"
            )));
        }
    };
    let encoding = match rs
        .encoding
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("utf-8") | Some("utf8") => TextEncoding::Utf8,
        Some(label) => TextEncoding::Other(
            encoding_rs::Encoding::for_label(label.as_bytes())
                .ok_or_else(|| ctx(format!("unknown encoding '{label}'")))?,
        ),
    };
    let load = match rs.load.as_deref() {
        None | Some("append") => LoadMode::Append,
        Some("snapshot") => LoadMode::Snapshot,
        Some(o) => {
            return Err(ctx(format!(
                "load must be 'append' or 'snapshot', got '{o}'"
            )));
        }
    };
    for key in rs
        .columns
        .keys()
        .chain(rs.constants.keys())
        .chain(rs.formats.keys())
        .chain(rs.values.keys())
    {
        if def.index_of(key).is_none() {
            let known: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(ctx(format!(
                "'{key}' is not a field of entity '{}'; fields: {}",
                entity.name(),
                known.join(", ")
            )));
        }
    }
    let date_default = rs
        .date_format
        .map(StringOrList::into_vec)
        .unwrap_or_else(|| vec!["%Y-%m-%d".into()]);
    let ts_default = rs
        .timestamp_format
        .map(StringOrList::into_vec)
        .unwrap_or_else(|| vec!["%Y-%m-%d %H:%M:%S".into()]);
    let mut fields = Vec::new();
    let mut formats = Vec::new();
    let mut value_maps = Vec::new();
    for f in &def.fields {
        let src = match (rs.columns.get(&f.name), rs.constants.get(&f.name)) {
            (Some(_), Some(_)) => {
                return Err(ctx(format!(
                    "field '{}' has both a column and a constant",
                    f.name
                )));
            }
            (Some(c), None) => FieldSource::Column(c.clone()),
            (None, Some(v)) => FieldSource::Constant(v.clone()),
            (None, None) => FieldSource::Missing,
        };
        if f.required && matches!(src, FieldSource::Missing) {
            return Err(ctx(format!(
                "required field '{}' of entity '{}' is not mapped ([source.columns] {} = \"...\")",
                f.name,
                entity.name(),
                f.name
            )));
        }
        let fmts = match (rs.formats.get(&f.name), f.field_type) {
            (Some(list), FieldType::Date | FieldType::Timestamp) => list.clone().into_vec(),
            (Some(_), other) => {
                return Err(ctx(format!(
                    "formats.{}: field type {other:?} takes no format",
                    f.name
                )));
            }
            (None, FieldType::Date) => date_default.clone(),
            (None, FieldType::Timestamp) => ts_default.clone(),
            (None, _) => Vec::new(),
        };
        let fmts = fmts
            .iter()
            .map(|fmt| {
                DateFormat::new(fmt)
                    .map_err(|m| ctx(format!("format '{fmt}' of '{}': {m}", f.name)))
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let map = rs.values.get(&f.name).map(|m| {
            m.iter()
                .map(|(k, v)| (k.trim().to_lowercase(), v.clone()))
                .collect()
        });
        if map.is_some() && f.field_type != FieldType::Code {
            return Err(ctx(format!(
                "values.{}: only code fields take a value map",
                f.name
            )));
        }
        fields.push(src);
        formats.push(fmts);
        value_maps.push(map.unwrap_or_default());
    }
    for group in &def.one_of {
        if group.iter().all(|g| {
            def.index_of(g)
                .is_some_and(|i| matches!(fields[i], FieldSource::Missing))
        }) {
            return Err(ctx(format!("map at least one of: {}", group.join(", "))));
        }
    }
    let utc_offset_secs =
        parse_offset(rs.timezone.as_deref().unwrap_or("+00:00")).ok_or_else(|| {
            ctx(format!(
                "timezone must be an offset like +08:00 or UTC, got '{}'",
                rs.timezone.unwrap_or_default()
            ))
        })?;
    let natural_key = def
        .index_of(&def.key[0])
        .is_some_and(|i| matches!(fields[i], FieldSource::Column(_)));
    let is_fact = entity.fact_table().is_some();
    let on_existing_key = match rs.on_existing_key.as_deref() {
        None | Some("quarantine") => ExistingKey::Quarantine,
        Some("skip") => ExistingKey::Skip,
        Some("replace") => ExistingKey::Replace,
        Some(o) => {
            return Err(ctx(format!(
                "on_existing_key must be 'quarantine', 'skip' or 'replace', got '{o}'"
            )));
        }
    };
    if rs.on_existing_key.is_some() && !(is_fact && load == LoadMode::Append && natural_key) {
        return Err(ctx(format!(
            "on_existing_key applies to append-mode fact sources that map '{}' (their natural key); \
             master data is updated in place and a snapshot replaces the source's rows",
            def.key[0]
        )));
    }
    let max_quarantined_share = rs
        .max_quarantined_share
        .unwrap_or(DEFAULT_MAX_QUARANTINED_SHARE);
    if !(0.0..=1.0).contains(&max_quarantined_share) {
        return Err(ctx(format!(
            "max_quarantined_share must be between 0 and 1, got {max_quarantined_share}"
        )));
    }
    let max_field_bytes = rs.max_field_bytes.unwrap_or(DEFAULT_MAX_FIELD_BYTES);
    if max_field_bytes == 0 {
        return Err(ctx("max_field_bytes must be at least 1".into()));
    }
    let mut null_invalid = vec![false; def.fields.len()];
    for field in &rs.null_invalid {
        let Some(i) = def.index_of(field) else {
            return Err(ctx(format!(
                "null_invalid: '{field}' is not a field of entity '{}'",
                entity.name()
            )));
        };
        if def.fields[i].required {
            return Err(ctx(format!(
                "null_invalid: '{field}' is required; a row without it cannot be loaded"
            )));
        }
        if !matches!(fields[i], FieldSource::Column(_)) {
            return Err(ctx(format!(
                "null_invalid: '{field}' is not mapped to a column"
            )));
        }
        null_invalid[i] = true;
    }
    let returns = rs.returns.unwrap_or(false);
    if returns && entity != EntityKind::SalesLine {
        return Err(ctx(format!(
            "returns applies to sales_line sources, not {}",
            entity.name()
        )));
    }
    let lower = |v: Vec<String>| {
        v.into_iter()
            .map(|s| s.trim().to_lowercase())
            .collect::<Vec<_>>()
    };
    Ok(SourceConfig {
        customer_system: rs.customer_system.unwrap_or_else(|| name.clone()),
        pattern: base.join(&rs.path),
        name,
        entity,
        format,
        delimiter,
        has_header: rs.has_header.unwrap_or(true),
        encoding,
        load,
        priority: rs.priority.unwrap_or(10),
        fields,
        formats,
        value_maps,
        utc_offset_secs,
        true_values: lower(
            rs.true_values
                .unwrap_or_else(|| DEFAULT_TRUE.map(String::from).to_vec()),
        ),
        false_values: lower(
            rs.false_values
                .unwrap_or_else(|| DEFAULT_FALSE.map(String::from).to_vec()),
        ),
        dedupe_exact_lines: rs.dedupe_exact_lines.unwrap_or(natural_key),
        natural_key,
        on_existing_key,
        max_quarantined_share,
        max_field_bytes,
        null_invalid,
        returns,
    })
}

fn guess_format(path: &str) -> &'static str {
    if path.ends_with(".parquet") {
        "parquet"
    } else if path.ends_with(".jsonl") || path.ends_with(".ndjson") || path.ends_with(".json") {
        "jsonl"
    } else {
        "csv"
    }
}

/// "+08:00", "-0530", "UTC", "Z" → seconds east of UTC.
pub(crate) fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
[[source]]
name = "tx"
entity = "sales_line"
path = "tx.csv"
[source.columns]
customer_ref = "cust"
order_time = "date"
quantity = "qty"
amount = "amount"
"#;

    #[test]
    fn decisions_files_are_read_with_a_bom_and_mistakes_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("d.csv");
        std::fs::write(
            &path,
            "\u{feff}decision,system_a,source_id_a,system_b,source_id_b\n\
             cannot_link,crm,C1,web,W1\nmust_link,crm,C2,crm,C3\n",
        )
        .expect("write");
        let d = read_decisions(&path).expect("decisions");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].link, Link::Cannot);
        assert_eq!(d[1].b, ("crm".to_string(), "C3".to_string()));
        std::fs::write(
            &path,
            "decision,system_a,source_id_a,system_b,source_id_b\nmaybe,crm,C1,web,W1\n",
        )
        .expect("write");
        let err = read_decisions(&path).expect_err("unknown decision");
        assert!(
            err.contains("line 2, column decision") && err.contains("'maybe'"),
            "{err}"
        );
    }

    #[test]
    fn fixed_model_probabilities_are_read_and_mistakes_named() {
        let parse = |fixed: &str| {
            BuildConfig::parse(Path::new("acrm.toml"), &format!("{fixed}\n{MIN}"))
                .map(|c| c.identity.fixed)
                .map_err(|e| e.to_string())
        };
        let fixed = parse("[identity.fixed.id_number]\nm = [0.9, 0.06, 0.04]").expect("valid");
        assert_eq!(fixed[0].field, Field::IdNumber);
        assert_eq!(fixed[0].m.as_deref(), Some(&[0.9, 0.06, 0.04][..]));
        assert_eq!(fixed[0].u, None);
        for (text, named) in [
            ("[identity.fixed.shoe]\nm = [1.0]", "unknown field 'shoe'"),
            (
                "[identity.fixed.city]\nu = [0.5, 0.5]",
                "needs 3 probabilities, one per level (exact, jaro-winkler >= 0.90, different)",
            ),
            ("[identity.fixed.gender]\nm = [0.9, 0.2]", "must sum to 1"),
            ("[identity.fixed.gender]\nu = [1.0, 0.0]", "above 0"),
            ("[identity.fixed.gender]", "neither m nor u"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(named), "{err}");
        }
    }

    #[test]
    fn minimal_transactions_config_validates() {
        let c = BuildConfig::parse(Path::new("/data/acrm.toml"), MIN).expect("valid");
        assert_eq!(c.sources[0].format, Format::Csv);
        assert_eq!(c.sources[0].pattern, PathBuf::from("/data/tx.csv"));
        assert_eq!(c.sources[0].customer_system, "tx");
        assert_eq!(
            c.marts,
            MartsConfig::default(),
            "every analysis refreshed by default"
        );
    }

    #[test]
    fn marts_section_chooses_the_refreshed_analyses() {
        let text = format!("[marts]\nrefresh = [\"rfm\", \"alerts\"]\nsegment_k = 4\n{MIN}");
        let c = BuildConfig::parse(Path::new("acrm.toml"), &text).expect("valid");
        assert_eq!(c.marts.refresh, vec!["rfm", "alerts"]);
        assert_eq!(c.marts.segment_k, Some(4));
        let off = format!("[marts]\nrefresh = []\nsegment_k = \"auto\"\n{MIN}");
        let c = BuildConfig::parse(Path::new("acrm.toml"), &off).expect("valid");
        assert!(c.marts.refresh.is_empty());
        assert_eq!(c.marts.segment_k, None);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                MIN.replace("quantity = \"qty\"", "quantity = \"qty\"\nqty_typo = \"x\""),
                "'qty_typo' is not a field of entity 'sales_line'",
            ),
            (
                MIN.replace("order_time = \"date\"\n", ""),
                "required field 'order_time'",
            ),
            (
                MIN.replace("amount = \"amount\"\n", ""),
                "map at least one of: unit_price, amount",
            ),
            (
                MIN.replace("entity = \"sales_line\"", "entity = \"sale\""),
                "unknown entity 'sale'",
            ),
            (
                format!("{MIN}[source.formats]\norder_time = \"%d.%m\"\n"),
                "has no year",
            ),
            (
                MIN.replace(
                    "[[source]]",
                    "[build]\nbatch_date_pattern = '(['\n[[source]]",
                ),
                "batch_date_pattern",
            ),
            (
                format!("[marts]\nrefresh = [\"rfm\", \"churn\"]\n{MIN}"),
                "[marts] refresh: unknown analysis 'churn'",
            ),
            (
                format!("[marts]\nsegment_k = 1\n{MIN}"),
                "[marts] segment_k must be 2..=100",
            ),
            (
                MIN.replace(
                    "[source.columns]",
                    "null_invalid = [\"order_time\"]\n[source.columns]",
                ),
                "null_invalid: 'order_time' is required",
            ),
            (
                MIN.replace(
                    "[source.columns]",
                    "null_invalid = [\"unit_price\"]\n[source.columns]",
                ),
                "null_invalid: 'unit_price' is not mapped to a column",
            ),
            (
                MIN.replace(
                    "[source.columns]",
                    "null_invalid = [\"birth_date\"]\n[source.columns]",
                ),
                "null_invalid: 'birth_date' is not a field of entity 'sales_line'",
            ),
        ];
        for (text, expected) in cases {
            let err = BuildConfig::parse(Path::new("acrm.toml"), &text)
                .expect_err(expected)
                .to_string();
            assert!(err.contains(expected), "expected '{expected}' in: {err}");
            assert!(err.starts_with("config acrm.toml"), "{err}");
        }
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+08:00"), Some(8 * 3600));
        assert_eq!(parse_offset("-0530"), Some(-(5 * 3600 + 30 * 60)));
        assert_eq!(parse_offset("UTC"), Some(0));
        assert_eq!(parse_offset("8"), None);
    }
}
