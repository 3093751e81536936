//! Dimensions: keyed type-1 dimensions (product, branch, campaign, channel) with stable
//! surrogate keys, the SCD2 customer dimension, and the generated calendar.

use acrm_schema::TableDef;
use chrono::Datelike;

use crate::value::FastMap;
use crate::value::{CompactString, Value};
use crate::value::{date_of, day_number};

/// Last day of an open-ended version.
pub fn end_of_time() -> i32 {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31).map_or(i32::MAX, day_number)
}

/// A dimension with a natural key and a surrogate key; attributes are overwritten (type 1).
/// Key 0 is the unknown member.
pub struct KeyedDim {
    /// Schema of the table.
    pub table: TableDef,
    /// Rows in schema column order.
    pub rows: Vec<Vec<Value>>,
    index: FastMap<CompactString, usize>,
    natural_col: usize,
    /// Largest surrogate key in use (new members get the next one).
    max_key: i64,
}

impl KeyedDim {
    /// A dimension over `rows` (from the previous version), adding the unknown member if absent.
    pub fn new(table: TableDef, natural_key: &str, rows: Vec<Vec<Value>>) -> Self {
        let natural_col = table
            .columns
            .iter()
            .position(|c| c.name == natural_key)
            .unwrap_or(1);
        let mut d = Self {
            table,
            rows: Vec::new(),
            index: FastMap::default(),
            natural_col,
            max_key: 0,
        };
        if rows.is_empty() {
            let mut unknown = vec![Value::Null; d.table.columns.len()];
            unknown[0] = Value::Int(0);
            for (i, c) in d.table.columns.iter().enumerate().skip(1) {
                if !c.nullable {
                    unknown[i] = Value::Str(
                        if i == natural_col {
                            "unknown"
                        } else {
                            "Unknown"
                        }
                        .into(),
                    );
                }
            }
            d.insert_row(unknown);
        }
        for r in rows {
            d.insert_row(r);
        }
        d
    }

    fn insert_row(&mut self, r: Vec<Value>) {
        if let Some(Value::Str(k)) = r.get(self.natural_col) {
            self.index.insert(k.clone(), self.rows.len());
        }
        self.max_key = self.max_key.max(r[0].as_i64().unwrap_or(0));
        self.rows.push(r);
    }

    /// Surrogate key of natural key `k`.
    pub fn key(&self, k: &str) -> Option<i64> {
        self.index.get(k).and_then(|i| self.rows[*i][0].as_i64())
    }

    /// Inserts or overwrites the member `k` with `attrs` (column name → value; nulls do not
    /// overwrite known values). Returns its surrogate key.
    pub fn upsert(&mut self, k: &str, attrs: &[(&str, Value)]) -> i64 {
        let i = match self.index.get(k) {
            Some(i) => *i,
            None => {
                let key = self.max_key + 1;
                let mut row = vec![Value::Null; self.table.columns.len()];
                row[0] = Value::Int(key);
                row[self.natural_col] = Value::Str(k.into());
                for (c, col) in self.table.columns.iter().enumerate() {
                    if !col.nullable && row[c].is_null() {
                        row[c] = Value::Str("unknown".into());
                    }
                }
                self.insert_row(row);
                self.rows.len() - 1
            }
        };
        for (name, v) in attrs {
            if let Some(c) = self.table.columns.iter().position(|col| col.name == *name)
                && !v.is_null()
            {
                self.rows[i][c] = v.clone();
            }
        }
        self.rows[i][0].as_i64().unwrap_or(0)
    }

    /// The value of column `col` for natural key `k`.
    pub fn attr(&self, k: &str, col: &str) -> Option<&Value> {
        let c = self.table.columns.iter().position(|x| x.name == col)?;
        self.index.get(k).map(|i| &self.rows[*i][c])
    }

    /// Rows sorted by surrogate key.
    pub fn sorted_rows(&self) -> Vec<Vec<Value>> {
        let mut r = self.rows.clone();
        r.sort_by_key(|row| row[0].as_i64().unwrap_or(0));
        r
    }
}

/// The customer dimension with SCD type 2 history.
pub struct CustomerDim {
    /// Schema of `dim_customer`.
    pub table: TableDef,
    rows: Vec<Vec<Value>>,
    versions: FastMap<i64, Vec<usize>>,
    history_cols: Vec<usize>,
    /// Largest surrogate key in use (new versions get the next one).
    max_key: i64,
}

const KEY: usize = 0;
const ID: usize = 1;
const FROM: usize = 2;
const TO: usize = 3;
const CURRENT: usize = 4;
/// First attribute column (after key, id, valid_from, valid_to, is_current).
const FIRST_ATTR: usize = 5;

impl CustomerDim {
    /// The dimension over `rows` from the previous version (the unknown member added if absent).
    pub fn new(table: TableDef, rows: Vec<Vec<Value>>) -> Self {
        let history_cols = table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.history)
            .map(|(i, _)| i)
            .collect();
        let mut d = Self {
            table,
            rows: Vec::new(),
            versions: FastMap::default(),
            history_cols,
            max_key: 0,
        };
        if rows.is_empty() {
            let mut unknown = vec![Value::Null; d.table.columns.len()];
            unknown[KEY] = Value::Int(0);
            unknown[ID] = Value::Int(0);
            unknown[FROM] =
                Value::Date(chrono::NaiveDate::from_ymd_opt(1900, 1, 1).map_or(0, day_number));
            unknown[TO] = Value::Date(end_of_time());
            unknown[CURRENT] = Value::Bool(true);
            for (i, c) in d.table.columns.iter().enumerate().skip(FIRST_ATTR) {
                match c.name.as_str() {
                    "name" => unknown[i] = Value::Str("Unknown".into()),
                    "source_systems" => unknown[i] = Value::Str(CompactString::default()),
                    "source_records" => unknown[i] = Value::Int(0),
                    _ => {}
                }
            }
            d.push(unknown);
        }
        for r in rows {
            d.push(r);
        }
        for v in d.versions.values_mut() {
            v.sort_by_key(|i| d.rows[*i][FROM].as_day());
        }
        d
    }

    fn push(&mut self, r: Vec<Value>) {
        let id = r[ID].as_i64().unwrap_or(0);
        self.versions.entry(id).or_default().push(self.rows.len());
        self.max_key = self.max_key.max(r[KEY].as_i64().unwrap_or(0));
        self.rows.push(r);
    }

    /// Applies the golden attributes `attrs` (values for columns FIRST_ATTR.., in schema
    /// order) of customer `id` as of `day`: a new customer gets its first version from
    /// `first_day`; a change of a history column closes the current version and opens a new
    /// one from `day`; other columns are overwritten in every version.
    pub fn apply(&mut self, id: i64, attrs: Vec<Value>, day: i32, first_day: i32) {
        let next_key = self.max_key + 1;
        let Some(current) = self.versions.get(&id).and_then(|v| v.last().copied()) else {
            let mut row = vec![
                Value::Int(next_key),
                Value::Int(id),
                Value::Date(first_day.min(day)),
                Value::Date(end_of_time()),
                Value::Bool(true),
            ];
            row.extend(attrs);
            self.push(row);
            return;
        };
        let changed = self
            .history_cols
            .iter()
            .any(|c| self.rows[current][*c] != attrs[*c - FIRST_ATTR]);
        if changed && self.rows[current][FROM].as_day() < Some(day) {
            self.rows[current][TO] = Value::Date(day - 1);
            self.rows[current][CURRENT] = Value::Bool(false);
            let mut row = vec![
                Value::Int(next_key),
                Value::Int(id),
                Value::Date(day),
                Value::Date(end_of_time()),
                Value::Bool(true),
            ];
            row.extend(attrs.iter().cloned());
            self.push(row);
        } else if changed {
            for &c in &self.history_cols {
                self.rows[current][c] = attrs[c - FIRST_ATTR].clone();
            }
        }
        let type1: Vec<usize> = (FIRST_ATTR..self.table.columns.len())
            .filter(|c| !self.history_cols.contains(c))
            .collect();
        for &v in self.versions.get(&id).into_iter().flatten() {
            for &c in &type1 {
                self.rows[v][c] = attrs[c - FIRST_ATTR].clone();
            }
        }
    }

    /// Surrogate key of the version of customer `id` valid on `day` (the first version for
    /// earlier days); 0 for an unknown id.
    pub fn key_at(&self, id: i64, day: i32) -> i64 {
        let Some(vs) = self.versions.get(&id) else {
            return 0;
        };
        let pick = vs
            .iter()
            .rev()
            .find(|i| self.rows[**i][FROM].as_day().is_some_and(|f| f <= day))
            .or(vs.first());
        pick.and_then(|i| self.rows[*i][KEY].as_i64()).unwrap_or(0)
    }

    /// The rows sorted by (customer id, valid_from), moved out (the build writes the
    /// dimension last, and a million customers' rows are not copied to be sorted).
    pub fn take_sorted_rows(&mut self) -> Vec<Vec<Value>> {
        let mut r = std::mem::take(&mut self.rows);
        self.versions.clear();
        r.sort_by_key(|row| (row[ID].as_i64(), row[FROM].as_day()));
        r
    }

    /// Index of attribute column `name` within the attribute list passed to [`Self::apply`].
    pub fn attr_index(&self, name: &str) -> Option<usize> {
        self.table
            .columns
            .iter()
            .position(|c| c.name == name)
            .and_then(|i| i.checked_sub(FIRST_ATTR))
    }

    /// Number of attribute columns.
    pub fn attr_len(&self) -> usize {
        self.table.columns.len() - FIRST_ATTR
    }
}

/// Calendar rows for every day of the years `first_year..=last_year`.
pub fn calendar(first_year: i32, last_year: i32) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    let (Some(start), Some(end)) = (
        chrono::NaiveDate::from_ymd_opt(first_year, 1, 1),
        chrono::NaiveDate::from_ymd_opt(last_year, 12, 31),
    ) else {
        return rows;
    };
    for d in start.iter_days().take_while(|d| *d <= end) {
        let dow = d.weekday().number_from_monday() as i64;
        rows.push(vec![
            Value::Int(
                i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day()),
            ),
            Value::Date(day_number(d)),
            Value::Int(i64::from(d.year())),
            Value::Int(i64::from((d.month() - 1) / 3 + 1)),
            Value::Int(i64::from(d.month())),
            Value::Str(d.format("%Y-%m").to_string().into()),
            Value::Str(d.format("%B").to_string().into()),
            Value::Int(i64::from(d.day())),
            Value::Int(dow),
            Value::Str(d.format("%A").to_string().into()),
            Value::Int(i64::from(d.iso_week().week())),
            Value::Bool(dow >= 6),
        ]);
    }
    rows
}

/// dim_date key of a day number.
pub fn date_key(day: i32) -> i64 {
    let d = date_of(day);
    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scd2_opens_a_version_on_history_change_only() {
        let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
        let mut d = CustomerDim::new(schema.table("dim_customer").expect("t").clone(), vec![]);
        let mut attrs = vec![Value::Null; d.attr_len()];
        let city = d.attr_index("city").expect("city");
        let name = d.attr_index("name").expect("name");
        let sys = d.attr_index("source_systems").expect("s");
        attrs[sys] = Value::Str("crm".into());
        attrs[city] = Value::Str("北京".into());
        attrs[name] = Value::Str("王伟".into());
        d.apply(7, attrs.clone(), 100, 50);
        assert_eq!(d.key_at(7, 60), 1);
        attrs[name] = Value::Str("王玮".into());
        d.apply(7, attrs.clone(), 110, 50);
        assert_eq!(d.rows.len(), 2, "a name fix is type 1: no new version");
        attrs[city] = Value::Str("上海".into());
        d.apply(7, attrs, 120, 50);
        assert_eq!(d.key_at(7, 119), 1);
        assert_eq!(d.key_at(7, 120), 2);
        let rows = d.take_sorted_rows();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1][TO], Value::Date(119));
        assert_eq!(rows[2][FROM], Value::Date(120));
        assert_eq!(
            rows[1][FIRST_ATTR + name],
            Value::Str("王玮".into()),
            "type 1 applies to old versions"
        );
    }

    #[test]
    fn calendar_covers_whole_years() {
        let c = calendar(2024, 2024);
        assert_eq!(c.len(), 366);
        assert_eq!(c[0][0], Value::Int(20240101));
        assert_eq!(
            date_key(day_number(
                chrono::NaiveDate::from_ymd_opt(2024, 2, 29).expect("d")
            )),
            20240229
        );
    }
}
