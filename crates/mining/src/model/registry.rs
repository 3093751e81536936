//! The model registry: every trained model saved as TOML under `<warehouse>/models/`
//! (`<task>-v<N>.toml`; TOML because its floats load exactly as written, so a model scores
//! the same in every process), beside the versions folder, so models outlive builds; the
//! champion of each task is named in `models/champions.json`. Files are written to a temporary name,
//! synced, and then linked or renamed into place (the folder synced after), so a reader never
//! sees half a file, a crash never leaves one, and two trainings at once never take the same
//! version; temporary files of writers that died are removed by the next save.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Model;
use crate::{Error, Result};

/// The models of one warehouse.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

/// One line of `acrm models list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Registry name.
    pub name: String,
    /// Task.
    pub task: String,
    /// Version within the task.
    pub version: u32,
    /// Model family.
    pub kind: String,
    /// Test ROC AUC.
    pub test_auc: Option<f64>,
    /// Training data snapshot.
    pub snapshot: String,
    /// Creation time.
    pub created: String,
    /// Champion of its task.
    pub champion: bool,
}

/// Whether `name` has the form [`Registry::save`] gives names: `<task>-v<N>`, the task in
/// lowercase letters, digits and `_`.
fn is_model_name(name: &str) -> bool {
    name.rsplit_once("-v").is_some_and(|(task, version)| {
        !task.is_empty()
            && task
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !version.is_empty()
            && version.chars().all(|c| c.is_ascii_digit())
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `text` to a new file at `path` and syncs it to disk; a write that fails (a full
/// disk) removes the file, so nothing half-written is left.
fn write_synced(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| {
            let _ = fs::remove_file(path);
            io(path)(e)
        })
}

/// Syncs folder `dir` (the names linked or renamed into it).
fn sync(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir))
}

impl Registry {
    /// The registry of the warehouse at `warehouse` (its folder need not exist yet).
    pub fn new(warehouse: &Path) -> Self {
        Self {
            dir: warehouse.join("models"),
        }
    }

    /// The warehouse whose registry this is.
    pub fn warehouse(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.toml"))
    }

    fn champions_path(&self) -> PathBuf {
        self.dir.join("champions.json")
    }

    /// Champion model name per task.
    pub fn champions(&self) -> Result<BTreeMap<String, String>> {
        let path = self.champions_path();
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn write_champions(&self, champions: &BTreeMap<String, String>) -> Result<()> {
        let text = serde_json::to_string_pretty(champions)
            .map_err(|e| Error::Invalid(format!("champions: {e}")))?;
        let path = self.champions_path();
        let tmp = self
            .dir
            .join(format!(".champions.{}.tmp", std::process::id()));
        write_synced(&tmp, &text)?;
        acrm_store::crash::point("registry:champions-written");
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io(&path)(e)
        })?;
        sync(&self.dir)
    }

    /// Removes temporary files (`.<name>.<pid>.tmp`) of writers that are no longer running.
    fn remove_dead_writers_files(&self) -> Result<()> {
        for e in fs::read_dir(&self.dir).map_err(io(&self.dir))?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let pid = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(".tmp"))
                .and_then(|n| n.rsplit_once('.'))
                .and_then(|(_, pid)| pid.parse::<u32>().ok());
            if let Some(pid) = pid
                && pid != std::process::id()
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                fs::remove_file(e.path()).map_err(io(&e.path()))?;
            }
        }
        Ok(())
    }

    /// Saves `model` as the next version of its task, naming it `<task>-v<N>`; the first
    /// model of a task becomes its champion. Returns the name.
    pub fn save(&self, model: &mut Model) -> Result<String> {
        if model.task.is_empty()
            || !model
                .task
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(Error::Invalid(format!(
                "task name '{}': use lowercase letters, digits and _",
                model.task
            )));
        }
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        self.remove_dead_writers_files()?;
        let tmp = self
            .dir
            .join(format!(".{}.{}.tmp", model.task, std::process::id()));
        // The highest version by file name: no model file needs reading.
        let prefix = format!("{}-v", model.task);
        let mut version = self
            .names()?
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix)?.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        loop {
            version += 1;
            model.version = version;
            model.name = format!("{}-v{version}", model.task);
            let text = toml::to_string(model)
                .map_err(|e| Error::Invalid(format!("model {}: {e}", model.name)))?;
            write_synced(&tmp, &text)?;
            let path = self.path(&model.name);
            // A hard link fails if the name exists: another training took this version.
            match fs::hard_link(&tmp, &path) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(io(&path)(e));
                }
            }
        }
        sync(&self.dir)?;
        acrm_store::crash::point("registry:linked");
        fs::remove_file(&tmp).map_err(io(&tmp))?;
        let mut champions = self.champions()?;
        if !champions.contains_key(&model.task) {
            champions.insert(model.task.clone(), model.name.clone());
            self.write_champions(&champions)?;
        }
        tracing::info!(model = %model.name, "model saved");
        Ok(model.name.clone())
    }

    /// Every saved model, by task and version.
    pub fn list(&self) -> Result<Vec<Summary>> {
        let champions = self.champions()?;
        let mut out = Vec::new();
        for name in self.names()? {
            let m = self.read(&name)?;
            out.push(Summary {
                champion: champions.get(&m.task) == Some(&m.name),
                name: m.name,
                task: m.task,
                version: m.version,
                kind: m.kind.name().into(),
                test_auc: m.test_metrics.auc,
                snapshot: m.data.snapshot,
                created: m.created,
            });
        }
        out.sort_by(|a, b| (&a.task, a.version).cmp(&(&b.task, b.version)));
        Ok(out)
    }

    /// Names of the saved models (their file names without `.toml`).
    fn names(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        Ok(entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let name = name.strip_suffix(".toml")?;
                (!name.starts_with('.')).then(|| name.to_string())
            })
            .collect())
    }

    fn read(&self, name: &str) -> Result<Model> {
        // Only registry names reach the file system: a name is never a path (SQL callers
        // of the scoring functions name models too).
        if !is_model_name(name) {
            return Err(Error::Invalid(format!(
                "'{name}' is not a model name: names look like churn-v3 (see `acrm models list`)"
            )));
        }
        let path = self.path(name);
        let text = fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Invalid(format!(
                "no model '{name}' in {} (see `acrm models list`)",
                self.dir.display()
            )),
            _ => io(&path)(e),
        })?;
        Model::from_toml(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }

    /// The model called `name`, or the champion of `task` when `name` is `champion`;
    /// refuses a model of another task.
    pub fn load(&self, task: &str, name: &str) -> Result<Model> {
        let name = self.resolve(task, name)?;
        let model = self.read(&name)?;
        if model.task != task {
            return Err(Error::Invalid(format!(
                "model '{name}' is a {} model, not a {task} model",
                model.task
            )));
        }
        Ok(model)
    }

    /// The model name `name` stands for: itself, or the current champion of `task` for
    /// `champion`.
    pub fn resolve(&self, task: &str, name: &str) -> Result<String> {
        if name != "champion" {
            return Ok(name.to_string());
        }
        self.champions()?.get(task).cloned().ok_or_else(|| {
            Error::Invalid(format!(
                "no {task} model yet: train one with `acrm mine {task} train`"
            ))
        })
    }

    /// The model called `name`, whatever its task.
    pub fn show(&self, name: &str) -> Result<Model> {
        self.read(name)
    }

    /// Makes `name` the champion of its task.
    pub fn promote(&self, name: &str) -> Result<()> {
        let model = self.read(name)?;
        let mut champions = self.champions()?;
        champions.insert(model.task, model.name);
        self.write_champions(&champions)
    }

    /// Deletes model `name`; a champion cannot be deleted (promote another first).
    pub fn delete(&self, name: &str) -> Result<()> {
        let model = self.read(name)?;
        if self.champions()?.get(&model.task) == Some(&model.name) {
            return Err(Error::Invalid(format!(
                "'{name}' is the {} champion: promote another model first",
                model.task
            )));
        }
        let path = self.path(name);
        fs::remove_file(&path).map_err(io(&path))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn only_registry_names_are_read() {
        assert!(is_model_name("churn-v3"));
        assert!(is_model_name("credit_x-v12"));
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::new(dir.path());
        for name in [
            "/etc/passwd",
            "../models/churn-v1",
            "churn-v1/../x",
            "churn",
            "Churn-v1",
            "churn-v",
            "-v1",
        ] {
            assert!(!is_model_name(name), "{name}");
            let err = registry.load("churn", name).expect_err(name).to_string();
            assert!(err.contains("not a model name"), "{name}: {err}");
        }
    }
    use crate::model::source::Loaded;
    use crate::model::{Kind, SplitPlan, Target, TrainOptions, train_loaded};
    use acrm_olap::{Column, Frame, Values};

    /// A small model of `kind` trained on made-up rows (shared with the model-file tests).
    pub(crate) fn trained(kind: Kind) -> Model {
        let n = 300;
        let frame = Frame {
            columns: vec![
                Column {
                    name: "x".into(),
                    values: Values::Numeric(
                        (0..n).map(|i| Some((i * 37 % 101) as f64 / 7.0)).collect(),
                    ),
                },
                Column {
                    name: "c".into(),
                    values: Values::Text(
                        (0..n)
                            .map(|i| (i % 7 != 0).then(|| ["a", "b"][i % 2].to_string()))
                            .collect(),
                    ),
                },
                Column {
                    name: "y".into(),
                    values: Values::Boolean(
                        (0..n)
                            .map(|i| Some((i * 37 % 101) % 3 == 0 || i % 5 == 0))
                            .collect(),
                    ),
                },
            ],
            rows: n,
        };
        let data = Loaded {
            frame,
            batches: Vec::new(),
            source: "test".into(),
            snapshot: "none".into(),
        };
        let target = Target {
            column: "y".into(),
            positive: "true".into(),
            id: None,
            exclude: Vec::new(),
            weight: None,
        };
        let plan = SplitPlan::Stratified {
            test_fraction: 0.3,
            seed: 3,
        };
        let options = TrainOptions {
            kind,
            trees: 5,
            ..TrainOptions::default()
        };
        train_loaded("credit", &data, &plan, &target, &options)
            .expect("train")
            .model
    }

    #[test]
    fn models_load_exactly_as_saved_with_versions_and_champions() {
        let dir = tempfile::tempdir().expect("tmp");
        let registry = Registry::new(dir.path());
        let mut first = trained(Kind::Forest);
        assert_eq!(registry.save(&mut first).expect("save"), "credit-v1");
        let mut second = trained(Kind::Logistic);
        assert_eq!(registry.save(&mut second).expect("save"), "credit-v2");
        assert_eq!(
            registry.load("credit", "credit-v1").expect("load"),
            first,
            "every float exact"
        );
        assert_eq!(
            registry.load("credit", "champion").expect("champion"),
            first
        );
        assert_eq!(registry.load("credit", "credit-v2").expect("load"), second);
        assert!(
            registry.load("churn", "credit-v1").is_err(),
            "another task's model"
        );
        assert!(registry.delete("credit-v1").is_err(), "the champion stays");
        registry.promote("credit-v2").expect("promote");
        registry.delete("credit-v1").expect("delete");
        let list = registry.list().expect("list");
        assert_eq!(list.len(), 1);
        assert!(list[0].champion && list[0].name == "credit-v2");
        let mut third = trained(Kind::Tree);
        assert_eq!(registry.save(&mut third).expect("save"), "credit-v3");
        let mut fourth = trained(Kind::Gbdt);
        assert_eq!(registry.save(&mut fourth).expect("save"), "credit-v4");
        assert_eq!(registry.load("credit", "credit-v4").expect("load"), fourth);
    }
}
