//! The loader of one fact file: each chunk's lines are looked up against the dimensions
//! ([`crate::facts::load_chunk`]), checked by natural key where the source has one
//! ([`crate::keys`]), and streamed to the batch's parts ([`crate::sink`]); the lines whose
//! key had to be checked on disk follow when the file ends.

use acrm_schema::{EntityDef, EntityKind, TableDef};
use chrono::Datelike;

use crate::Result;
use crate::config::{LoadMode, SourceConfig};
use crate::facts::{Lookups, load_chunk};
use crate::keys::{BatchKeys, KeyIndex};
use crate::sink::PartSink;
use crate::stage::{Loader, Rejector, Staged};
use crate::value::{Value, date_of, day_range, rows_to_batch};

/// Loads the lines of one fact file of source `src` into `table`.
pub struct FactLoader<'a, 'd> {
    /// The fact entity.
    pub kind: EntityKind,
    /// The source's canonical fields.
    pub def: &'a EntityDef,
    /// The source.
    pub src: &'a SourceConfig,
    /// The fact table.
    pub table: TableDef,
    /// The dimensions the lines are looked up in.
    pub lookups: &'a mut Lookups,
    /// The batch's parts.
    pub sink: &'a mut PartSink<'d>,
    /// File stem of the part names of the source in this batch.
    pub prefix: &'a str,
    /// The file's stem (a line's document reference where the source has none).
    pub stem: &'a str,
    /// The batch's business day.
    pub batch_day: i32,
    /// First and last year of any fact date so far (the calendar's span).
    pub years: &'a mut Option<(i32, i32)>,
    /// The natural-key index and the batch's replaced keys, for a source checked by key.
    pub keys: Option<(&'a mut KeyIndex, &'a mut BatchKeys)>,
}

impl FactLoader<'_, '_> {
    /// Writes `lines` to the batch's parts; returns how many.
    fn emit(&mut self, lines: Vec<Vec<Value>>) -> Result<u64> {
        let batch = rows_to_batch(&self.table, &lines)?;
        // The calendar spans the years of the facts' dates.
        if let Some((a, b)) = day_range(&batch) {
            let (a, b) = (date_of(a).year(), date_of(b).year());
            *self.years = Some(self.years.map_or((a, b), |(y0, y1)| (y0.min(a), y1.max(b))));
        }
        let snapshot = self.src.load == LoadMode::Snapshot;
        self.sink
            .push(&self.table, &self.src.name, snapshot, self.prefix, batch)?;
        Ok(lines.len() as u64)
    }
}

impl Loader for FactLoader<'_, '_> {
    fn load(&mut self, rows: Vec<Staged>, rej: &mut Rejector<'_>) -> Result<u64> {
        let loaded = load_chunk(
            self.kind,
            self.lookups,
            self.src,
            self.def,
            &rows,
            rej,
            self.batch_day,
            self.stem,
        );
        let lines = match &mut self.keys {
            Some((index, _)) => index.admit(&self.table, loaded, &rows)?,
            None => loaded.into_iter().map(|(_, r)| r).collect(),
        };
        // Even without lines: a snapshot source's first push clears its earlier parts.
        self.emit(lines)
    }

    fn finish(&mut self, rej: &mut Rejector<'_>) -> Result<u64> {
        let Some((index, batch)) = &mut self.keys else {
            return Ok(0);
        };
        let lines = index.settle(&self.table, self.src, &self.def.key[0], rej, batch)?;
        if lines.is_empty() {
            return Ok(0);
        }
        self.emit(lines)
    }
}
