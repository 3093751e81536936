//! Canonical fields of each entity kind a source export can feed.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Error, Result};

/// Text of `warehouse-schema/sources.toml` as compiled into this binary.
pub const SOURCES_TOML: &str = include_str!("../../../warehouse-schema/sources.toml");

/// The kinds of operational data acrm loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// Customer master records.
    Customer,
    /// Product catalogue.
    Product,
    /// Branch hierarchy.
    Branch,
    /// Marketing campaigns.
    Campaign,
    /// Order lines.
    SalesLine,
    /// Service contacts.
    ServiceContact,
    /// Campaign contacts and responses.
    CampaignResponse,
    /// Invoices.
    Receivable,
    /// Credit applications.
    CreditApplication,
    /// Sales plan lines.
    SalesPlan,
    /// Booked sales and marketing expenses.
    Expense,
    /// Monthly expense budget lines.
    ExpenseBudget,
}

impl EntityKind {
    /// Every kind, in the order a build loads them (dimensions before the facts that use them).
    pub const ALL: [EntityKind; 12] = [
        EntityKind::Customer,
        EntityKind::Product,
        EntityKind::Branch,
        EntityKind::Campaign,
        EntityKind::SalesLine,
        EntityKind::ServiceContact,
        EntityKind::CampaignResponse,
        EntityKind::Receivable,
        EntityKind::CreditApplication,
        EntityKind::SalesPlan,
        EntityKind::Expense,
        EntityKind::ExpenseBudget,
    ];

    /// The snake_case name used in config files.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Customer => "customer",
            EntityKind::Product => "product",
            EntityKind::Branch => "branch",
            EntityKind::Campaign => "campaign",
            EntityKind::SalesLine => "sales_line",
            EntityKind::ServiceContact => "service_contact",
            EntityKind::CampaignResponse => "campaign_response",
            EntityKind::Receivable => "receivable",
            EntityKind::CreditApplication => "credit_application",
            EntityKind::SalesPlan => "sales_plan",
            EntityKind::Expense => "expense",
            EntityKind::ExpenseBudget => "expense_budget",
        }
    }

    /// The fact table this entity loads into; `None` for master data (dimensions).
    pub fn fact_table(self) -> Option<&'static str> {
        Some(match self {
            EntityKind::SalesLine => "fact_sales",
            EntityKind::ServiceContact => "fact_service",
            EntityKind::CampaignResponse => "fact_campaign_response",
            EntityKind::Receivable => "fact_receivable",
            EntityKind::CreditApplication => "fact_credit_application",
            EntityKind::SalesPlan => "fact_sales_plan",
            EntityKind::Expense => "fact_expense",
            EntityKind::ExpenseBudget => "fact_expense_budget",
            EntityKind::Customer
            | EntityKind::Product
            | EntityKind::Branch
            | EntityKind::Campaign => {
                return None;
            }
        })
    }
}

/// How a canonical field's raw text is parsed and cleansed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Trimmed text kept as is.
    Id,
    /// NFKC-normalised text with white space collapsed.
    Text,
    /// Text mapped through the source's value map and lower-cased.
    Code,
    /// Phone number, normalised to E.164.
    Phone,
    /// E-mail address, lower-cased and checked.
    Email,
    /// Calendar day.
    Date,
    /// Date and time.
    Timestamp,
    /// Money with up to two decimals.
    Decimal,
    /// Whole number.
    Int,
    /// Yes/no.
    Bool,
}

/// One canonical field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// Canonical name, used as key in a source's column mapping.
    pub name: String,
    /// Parsing rule.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Rows without it are quarantined.
    #[serde(default)]
    pub required: bool,
    /// Personal data: messages about a bad value never repeat it.
    #[serde(default)]
    pub pii: bool,
    /// What it means.
    pub description: String,
}

/// The canonical fields of one entity kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityDef {
    /// What the entity is.
    pub description: String,
    /// Canonical fields in a fixed order.
    pub fields: Vec<FieldDef>,
    /// Groups of fields of which at least one must be present.
    #[serde(default)]
    pub one_of: Vec<Vec<String>>,
    /// The natural key: fields that name one record of the source system (an order line, a
    /// ticket, a customer). A source that maps the first of them has a natural key, so an
    /// exact repeat of a row is a duplicate and a key already loaded follows the source's
    /// `on_existing_key`; a source without one (a transactions-only export) keeps identical
    /// lines, which are real repeat purchases.
    pub key: Vec<String>,
}

impl EntityDef {
    /// Position of the field named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// A default member of `dim_channel`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDef {
    /// Canonical code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// physical, digital or assisted.
    #[serde(rename = "type")]
    pub channel_type: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesFile {
    entity: BTreeMap<EntityKind, EntityDef>,
    channel: Vec<ChannelDef>,
}

/// All entity kinds with their canonical fields, plus the default channels.
#[derive(Debug, Clone)]
pub struct SourceCatalog {
    entities: BTreeMap<EntityKind, EntityDef>,
    channels: Vec<ChannelDef>,
}

impl SourceCatalog {
    /// The catalogue compiled into this binary (`warehouse-schema/sources.toml`).
    pub fn builtin() -> Result<Self> {
        const FILE: &str = "warehouse-schema/sources.toml";
        let file: SourcesFile =
            toml::from_str(SOURCES_TOML).map_err(|source| Error::Parse { file: FILE, source })?;
        for kind in EntityKind::ALL {
            let def = file.entity.get(&kind).ok_or_else(|| Error::Invalid {
                file: FILE,
                message: format!("entity '{}' is not declared", kind.name()),
            })?;
            if def.key.is_empty() {
                return Err(Error::Invalid {
                    file: FILE,
                    message: format!("entity '{}' declares no key", kind.name()),
                });
            }
            for group in def.one_of.iter().chain([&def.key]) {
                if let Some(f) = group.iter().find(|f| def.index_of(f).is_none()) {
                    return Err(Error::Invalid {
                        file: FILE,
                        message: format!(
                            "entity '{}': one_of or key names unknown field '{f}'",
                            kind.name()
                        ),
                    });
                }
            }
        }
        Ok(Self {
            entities: file.entity,
            channels: file.channel,
        })
    }

    /// The definition of `kind` (every kind is present once loaded).
    pub fn entity(&self, kind: EntityKind) -> &EntityDef {
        // `builtin` checked that every kind is declared.
        &self.entities[&kind]
    }

    /// Default members of `dim_channel`.
    pub fn channels(&self) -> &[ChannelDef] {
        &self.channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entity_kind_is_declared() {
        let c = SourceCatalog::builtin().expect("catalog");
        let sales = c.entity(EntityKind::SalesLine);
        assert!(
            sales
                .fields
                .iter()
                .any(|f| f.name == "order_time" && f.required)
        );
        assert!(c.channels().iter().any(|ch| ch.code == "web"));
    }
}
