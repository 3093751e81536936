//! One JSON-lines record read straight into the cells of a source's mapped fields. Building
//! a `serde_json::Value` for every line (a map of owned keys and owned strings) and copying
//! the wanted values out of it cost more than the rest of reading; here the object is walked
//! once, keys that no field maps are skipped without being stored, and a string without
//! escapes is borrowed from the line instead of copied. A cell reads as it did from a
//! `Value`: strings as they are, numbers as serde_json prints them, booleans as
//! `true`/`false`, nested arrays and objects as compact JSON, `null` as a missing cell; of
//! repeated keys the last counts.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize as _;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::config::{FieldSource, SourceConfig};

/// The cells of one line, in the entity's field order.
pub(crate) type Cells<'a> = Vec<Option<Cow<'a, str>>>;

/// Which canonical fields each JSON key fills.
pub(crate) struct JsonFields<'s> {
    /// (key, field index), one entry per mapped field.
    columns: Vec<(&'s str, usize)>,
    /// The cells a line starts from: constants filled in, the rest missing.
    start: Vec<Option<&'s str>>,
}

impl<'s> JsonFields<'s> {
    /// The fields of `src`.
    pub(crate) fn new(src: &'s SourceConfig) -> Self {
        let columns = src
            .fields
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                FieldSource::Column(name) => Some((name.as_str(), i)),
                _ => None,
            })
            .collect();
        let start = src
            .fields
            .iter()
            .map(|f| match f {
                FieldSource::Constant(c) => Some(c.as_str()),
                _ => None,
            })
            .collect();
        Self { columns, start }
    }

    /// The cells of JSON text `text`: `Ok(None)` when it is valid JSON but not an object.
    pub(crate) fn cells<'a>(&'a self, text: &'a str) -> serde_json::Result<Option<Cells<'a>>> {
        let mut de = serde_json::Deserializer::from_str(text);
        let cells = (&mut de).deserialize_any(Line { fields: self })?;
        de.end()?;
        Ok(cells)
    }
}

/// Visits the top-level value of a line.
struct Line<'f, 's> {
    fields: &'f JsonFields<'s>,
}

impl<'de: 'f, 'f, 's: 'f> Visitor<'de> for Line<'f, 's> {
    type Value = Option<Cells<'f>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut cells: Cells<'f> = self
            .fields
            .start
            .iter()
            .map(|c| c.map(Cow::Borrowed))
            .collect();
        while let Some(key) = map.next_key_seed(Text)? {
            let key = key.unwrap_or_default();
            let mut targets = self
                .fields
                .columns
                .iter()
                .filter(|(name, _)| *name == key.as_ref())
                .map(|(_, i)| *i);
            match targets.next() {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(first) => {
                    let cell = map.next_value_seed(Text)?;
                    for i in targets {
                        cells[i] = cell.clone();
                    }
                    cells[first] = cell;
                }
            }
        }
        Ok(Some(cells))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Reads any JSON value as the text of a cell (borrowed where the line holds it as is).
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // As a `serde_json::Number` prints it (shortest round-trip form).
        Ok(Some(Cow::Owned(
            serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
        )))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(if v { "true" } else { "false" })))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Some(Cow::Owned(v.to_string())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Some(Cow::Owned(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SourceConfig {
        let text = "[[source]]\nname = \"w\"\nentity = \"product\"\npath = \"p.jsonl\"\n[source.columns]\nsku = \"sku\"\nproduct_name = \"name\"\ncategory = \"cat\"\n[source.constants]\nbrand = \"acme\"\n";
        crate::BuildConfig::parse(std::path::Path::new("/x/acrm.toml"), text)
            .expect("config")
            .sources
            .remove(0)
    }

    /// The cells as a `serde_json::Value` gave them before.
    fn via_value(src: &SourceConfig, text: &str) -> Option<Vec<Option<String>>> {
        let serde_json::Value::Object(obj) = serde_json::from_str(text).ok()? else {
            return None;
        };
        Some(
            src.fields
                .iter()
                .map(|f| match f {
                    FieldSource::Missing => None,
                    FieldSource::Constant(c) => Some(c.clone()),
                    FieldSource::Column(name) => obj.get(name).and_then(|v| match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    }),
                })
                .collect(),
        )
    }

    #[test]
    fn cells_read_as_from_a_json_value() {
        let src = source();
        let fields = JsonFields::new(&src);
        for text in [
            r#"{"sku":"A1","name":"Beer","cat":"drinks","other":[1,{"x":2}]}"#,
            r#"{"sku":7,"name":"Tab\tbed \"q\" \u00e9","cat":null}"#,
            r#"{"sku":-3,"name":2.50,"cat":1e3}"#,
            r#"{"sku":true,"name":{"b":[1, 2.0],"a":null},"cat":[false]}"#,
            r#"{"sku":"first","sku":"last"}"#,
            r#"{"sku":"x","sku":null}"#,
            r#"{}"#,
        ] {
            let got: Vec<Option<String>> = fields
                .cells(text)
                .expect("valid")
                .expect("object")
                .into_iter()
                .map(|c| c.map(Cow::into_owned))
                .collect();
            assert_eq!(Some(got), via_value(&src, text), "{text}");
        }
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let src = source();
        let fields = JsonFields::new(&src);
        let cells = fields
            .cells(r#"{"sku":"A1","name":"a\"b"}"#)
            .expect("valid")
            .expect("object");
        let sku = src
            .fields
            .iter()
            .position(|f| matches!(f, FieldSource::Column(c) if c == "sku"))
            .expect("sku");
        assert!(matches!(cells[sku], Some(Cow::Borrowed("A1"))));
    }

    #[test]
    fn other_values_and_bad_json_are_told_apart() {
        let src = source();
        let fields = JsonFields::new(&src);
        for text in ["[1,2]", "3", "\"s\"", "null", "true"] {
            assert!(fields.cells(text).expect("valid").is_none(), "{text}");
        }
        for text in ["{\"sku\":", "{\"sku\":1} x", "{'a':1}"] {
            let e = fields.cells(text).expect_err("invalid");
            let want = serde_json::from_str::<serde_json::Value>(text).expect_err("invalid");
            assert_eq!(e.to_string(), want.to_string(), "{text}");
        }
    }
}
