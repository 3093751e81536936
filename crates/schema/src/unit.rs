//! What a number measures, for how people read it: a share prints as a percentage, money
//! to the cent. Declared per column in `warehouse-schema/tables.toml` (`unit = "share"`) and
//! carried in the Arrow field's metadata, so a mart column keeps it through SQL that selects
//! it as it is, and a computed column (whose meaning SQL cannot know) falls back to plain.

use std::collections::HashMap;

use datafusion::arrow::datatypes::Field;
use serde::Deserialize;

/// The Arrow field metadata key holding a column's [`Unit`].
pub const UNIT_KEY: &str = "acrm.unit";

/// What a float column measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A fraction of a whole (0.373 is 37.3%): shares, rates, probabilities, supports.
    Share,
    /// An amount of money kept as a float (mart measures): two decimals.
    Money,
}

impl Unit {
    /// The name stored in the field metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Share => "share",
            Unit::Money => "money",
        }
    }

    /// The unit `field` carries in its metadata, if any.
    pub fn of(field: &Field) -> Option<Unit> {
        match field.metadata().get(UNIT_KEY).map(String::as_str) {
            Some("share") => Some(Unit::Share),
            Some("money") => Some(Unit::Money),
            _ => None,
        }
    }

    /// `field` carrying this unit in its metadata.
    pub fn tag(self, field: Field) -> Field {
        field.with_metadata(HashMap::from([(
            UNIT_KEY.to_string(),
            self.as_str().into(),
        )]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;

    #[test]
    fn a_tagged_field_reads_back_its_unit_and_an_untagged_one_none() {
        let plain = Field::new("share", DataType::Float64, false);
        assert_eq!(Unit::of(&plain), None);
        assert_eq!(Unit::of(&Unit::Share.tag(plain.clone())), Some(Unit::Share));
        assert_eq!(Unit::of(&Unit::Money.tag(plain)), Some(Unit::Money));
    }
}
