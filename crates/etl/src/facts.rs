//! Fact loaders: turn staged rows of each fact entity into rows of its fact table, looking
//! up surrogate keys, creating inferred members where the rules allow, and rejecting rows that
//! break business rules (non-positive quantity, unknown product or campaign).

use std::collections::HashMap;

use acrm_schema::{EntityDef, EntityKind};
use chrono::Datelike as _;
use rayon::prelude::*;

use crate::config::SourceConfig;
use crate::dims::{CustomerDim, KeyedDim, date_key};
use crate::identity::IdentityStore;
use crate::stage::{Rejector, Staged};
use crate::value::FastMap;
use crate::value::{CompactString, Value};

/// Everything fact loading looks keys up in.
pub struct Lookups {
    /// Customer records and golden ids.
    pub identity: IdentityStore,
    /// dim_customer.
    pub customers: CustomerDim,
    /// dim_product.
    pub products: KeyedDim,
    /// dim_branch.
    pub branches: KeyedDim,
    /// dim_campaign.
    pub campaigns: KeyedDim,
    /// dim_channel.
    pub channels: KeyedDim,
    /// Unknown SKUs are rejected (a product master is configured) rather than inferred.
    pub strict_products: bool,
    /// Unknown campaign codes are rejected rather than inferred.
    pub strict_campaigns: bool,
    /// Source priority by customer system, for survivorship.
    pub priority: HashMap<String, u32>,
    /// Phone → golden id over all customer records (rebuilt after each batch's masters).
    pub phones: FastMap<CompactString, i64>,
    /// E-mail → golden id.
    pub emails: FastMap<CompactString, i64>,
    /// City → province learned from customer and branch records.
    pub city_province: HashMap<CompactString, CompactString>,
    /// Province → sales region learned from branch records.
    pub province_region: HashMap<CompactString, CompactString>,
    /// Customer entity definition.
    pub customer_def: EntityDef,
}

impl Lookups {
    /// Recomputes the golden record of customer `id` (survivorship) and applies it to
    /// dim_customer as of `day`.
    pub fn refresh_customer(&mut self, id: i64, day: i32) {
        let (attrs, first_day) = self.golden(id, day);
        self.customers.apply(id, attrs, day, first_day);
    }

    /// The golden record of customer `id` as of `day` (survivorship over its member
    /// records; a marketing opt-out in any of them wins): its dim_customer attributes, and its first day (the sign-up date, else
    /// `day`). Read-only, so many customers' records are computed at once.
    pub fn golden(&self, id: i64, day: i32) -> (Vec<Value>, i32) {
        let def = &self.customer_def;
        let mut members: Vec<_> = self.identity.members(id).collect();
        members.sort_by_key(|r| {
            (
                self.priority
                    .get(r.system.as_str())
                    .copied()
                    .unwrap_or(u32::MAX),
                -r.batch_day,
                -r.seq,
            )
        });
        let first = |field: &str| -> Value {
            let Some(i) = def.index_of(field) else {
                return Value::Null;
            };
            members
                .iter()
                .map(|r| &r.values[i])
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or(Value::Null)
        };
        let signup = def
            .index_of("signup_date")
            .and_then(|i| members.iter().filter_map(|r| r.values[i].as_day()).min());
        let mut systems: Vec<&str> = members.iter().map(|r| r.system.as_str()).collect();
        systems.sort_unstable();
        systems.dedup();
        let mut attrs = vec![Value::Null; self.customers.attr_len()];
        for (c, col) in self.customers.table.columns.iter().enumerate().skip(5) {
            attrs[c - 5] = match col.name.as_str() {
                "gender" => match first("gender") {
                    Value::Str(g) if g.starts_with('m') => Value::Str("M".into()),
                    Value::Str(g) if g.starts_with('f') => Value::Str("F".into()),
                    _ => Value::Null,
                },
                "signup_date" => signup.map_or(Value::Null, Value::Date),
                // Consent withdrawn in any source is withdrawn: a yes anywhere wins.
                "marketing_opt_out" => {
                    let said = def.index_of("marketing_opt_out").map(|i| {
                        members
                            .iter()
                            .any(|r| matches!(r.values[i], Value::Bool(true)))
                    });
                    match said {
                        Some(true) => Value::Bool(true),
                        _ => first("marketing_opt_out"),
                    }
                }
                "source_systems" => Value::Str(systems.join(",").into()),
                "source_records" => Value::Int(members.len() as i64),
                "province" => match (first("province"), first("city")) {
                    (Value::Null, Value::Str(city)) => self
                        .city_province
                        .get(&city)
                        .cloned()
                        .map_or(Value::Null, Value::Str),
                    (p, _) => p,
                },
                "region" => Value::Null,
                other => first(other),
            };
        }
        if let (Some(p), Some(r)) = (
            self.customers.attr_index("province"),
            self.customers.attr_index("region"),
        ) && let Value::Str(prov) = &attrs[p]
        {
            attrs[r] = self
                .province_region
                .get(prov)
                .cloned()
                .map_or(Value::Null, Value::Str);
        }
        (attrs, signup.unwrap_or(day))
    }

    /// (customer_key, customer_id) for reference `r` in `system` on `day`; unknown references
    /// become inferred customers (late-arriving master data).
    pub fn customer(&mut self, system: &str, r: &str, day: i32, batch_day: i32) -> (i64, i64) {
        let id = match self.identity.lookup(system, r) {
            Some(id) => id,
            None => {
                let n = self.customer_def.fields.len();
                let id = self
                    .identity
                    .infer(system, r, batch_day, vec![Value::Null; n]);
                self.refresh_customer(id, batch_day);
                id
            }
        };
        (self.customers.key_at(id, day), id)
    }

    /// Customer of a contact known only by phone or e-mail.
    fn customer_by_contact(
        &mut self,
        system: &str,
        phone: &Value,
        email: &Value,
        day: i32,
        batch_day: i32,
    ) -> (i64, i64) {
        let known = phone
            .as_str()
            .and_then(|p| self.phones.get(p))
            .or_else(|| email.as_str().and_then(|e| self.emails.get(e)));
        if let Some(&id) = known {
            return (self.customers.key_at(id, day), id);
        }
        let key = phone
            .as_str()
            .or(email.as_str())
            .unwrap_or_default()
            .to_string();
        if let Some(id) = self.identity.lookup(system, &key) {
            return (self.customers.key_at(id, day), id);
        }
        let mut values = vec![Value::Null; self.customer_def.fields.len()];
        for (f, v) in [("phone", phone), ("email", email)] {
            if let Some(i) = self.customer_def.index_of(f) {
                values[i] = v.clone();
            }
        }
        let id = self.identity.infer(system, &key, batch_day, values);
        self.refresh_customer(id, batch_day);
        if let Some(p) = phone.as_str() {
            self.phones.insert(p.into(), id);
        }
        if let Some(e) = email.as_str() {
            self.emails.insert(e.into(), id);
        }
        (self.customers.key_at(id, day), id)
    }

    fn channel(&mut self, v: &Value) -> i64 {
        match v.as_str() {
            None => 0,
            Some(code) => self.channels.key(code).unwrap_or_else(|| {
                self.channels.upsert(
                    code,
                    &[
                        ("channel_name", Value::Str(code.into())),
                        ("channel_type", Value::Str("unknown".into())),
                    ],
                )
            }),
        }
    }

    fn branch(&mut self, v: &Value) -> i64 {
        match v.as_str() {
            None => 0,
            Some(code) => self
                .branches
                .key(code)
                .unwrap_or_else(|| self.branches.upsert(code, &[])),
        }
    }
}

/// (unit price, line amount) of `units` units from what the source gives: the amount as is,
/// else price × units − discount; the price as is, else (amount + discount) / units.
fn line_value(price: Option<i64>, amount: Option<i64>, units: i64, discount: i64) -> (i64, i64) {
    match (price, amount) {
        (Some(p), Some(a)) => (p, a),
        (Some(p), None) => (p, p * units - discount),
        (None, Some(a)) => (((a + discount) as f64 / units as f64).round() as i64, a),
        (None, None) => (0, 0),
    }
}

/// Field positions of an entity, looked up once per chunk.
struct F<'a>(&'a EntityDef);

impl F<'_> {
    fn i(&self, name: &str) -> usize {
        self.0.index_of(name).unwrap_or(usize::MAX)
    }
}

fn get(row: &Staged, i: usize) -> &Value {
    row.values.get(i).unwrap_or(&Value::Null)
}

fn money(v: &Value) -> Option<i64> {
    match v {
        Value::Money(c) => Some(*c),
        _ => None,
    }
}

/// The day of a fact row (its `date` column, else the batch's day) and the customer its
/// reference (`cref` column) names on that day: (day, customer key valid on the day,
/// customer id).
fn dated_customer(
    lk: &mut Lookups,
    sys: &str,
    r: &Staged,
    (date, cref): (usize, usize),
    batch_day: i32,
) -> (i32, i64, i64) {
    let day = get(r, date).as_day().unwrap_or(batch_day);
    let (ck, cid) = lk.customer(
        sys,
        get(r, cref).as_str().unwrap_or_default(),
        day,
        batch_day,
    );
    (day, ck, cid)
}

/// Field positions of a sales line.
struct SalesFields {
    oid: usize,
    ln: usize,
    t: usize,
    cref: usize,
    sku: usize,
    qty: usize,
    up: usize,
    amt: usize,
    disc: usize,
    uc: usize,
    ch: usize,
    br: usize,
    orig: usize,
}

impl SalesFields {
    fn new(f: &F<'_>) -> Self {
        Self {
            oid: f.i("order_id"),
            ln: f.i("line_number"),
            t: f.i("order_time"),
            cref: f.i("customer_ref"),
            sku: f.i("sku"),
            qty: f.i("quantity"),
            up: f.i("unit_price"),
            amt: f.i("amount"),
            disc: f.i("discount"),
            uc: f.i("unit_cost"),
            ch: f.i("channel"),
            br: f.i("branch_code"),
            orig: f.i("original_order_id"),
        }
    }
}

/// The surrogate keys of a sales line.
struct SaleKeys {
    day: i32,
    product: i64,
    customer_key: i64,
    customer_id: i64,
    channel: i64,
    branch: i64,
}

/// A sales line after the parallel pass.
enum Line {
    /// Built.
    Row(Vec<Value>),
    /// Rejected for its quantity: reason code and reason.
    Reject((&'static str, String)),
    /// Needs a new member: loaded by the serial pass (its quantity checked).
    Miss(i64),
}

/// The quantity of sales line `r`, unless the line is rejected for it: zero, or negative
/// where the source does not send returns.
fn sales_quantity(
    src: &SourceConfig,
    r: &Staged,
    sf: &SalesFields,
) -> Result<i64, (&'static str, String)> {
    let q = get(r, sf.qty).as_i64().unwrap_or(0);
    if q == 0 || (q < 0 && !src.returns) {
        let hint = if q < 0 {
            " (a source that sends returns says returns = true)"
        } else {
            ""
        };
        return Err((
            "non_positive_quantity",
            format!("quantity must be > 0, found {q}{hint}"),
        ));
    }
    Ok(q)
}

impl Lookups {
    /// The keys of sales line `r` when every member it names is known; `None` when one is
    /// not (the line then goes through [`Lookups::resolve_sale`]).
    fn probe_sale(
        &self,
        sys: &str,
        r: &Staged,
        sf: &SalesFields,
        batch_day: i32,
    ) -> Option<SaleKeys> {
        let product = match get(r, sf.sku).as_str() {
            None => 0,
            Some(s) => self.products.key(s)?,
        };
        let day = get(r, sf.t).as_day().unwrap_or(batch_day);
        let id = self
            .identity
            .lookup(sys, get(r, sf.cref).as_str().unwrap_or_default())?;
        let known = |dim: &KeyedDim, v: &Value| match v.as_str() {
            None => Some(0),
            Some(code) => dim.key(code),
        };
        Some(SaleKeys {
            day,
            product,
            customer_key: self.customers.key_at(id, day),
            customer_id: id,
            channel: known(&self.channels, get(r, sf.ch))?,
            branch: known(&self.branches, get(r, sf.br))?,
        })
    }

    /// The keys of sales line `r`, adding the members it names that are new (an unknown
    /// product is rejected through `rej` where a product master is configured).
    fn resolve_sale(
        &mut self,
        sys: &str,
        r: &Staged,
        sf: &SalesFields,
        batch_day: i32,
        rej: &mut Rejector<'_>,
    ) -> Option<SaleKeys> {
        let product = match get(r, sf.sku).as_str() {
            None => 0,
            Some(s) => match self.products.key(s) {
                Some(k) => k,
                None if self.strict_products => {
                    rej.reject(
                        r,
                        Some("sku"),
                        "unknown_product",
                        format!("unknown product '{s}' (in no product source)"),
                    );
                    return None;
                }
                None => self.products.upsert(s, &[]),
            },
        };
        let (day, customer_key, customer_id) =
            dated_customer(self, sys, r, (sf.t, sf.cref), batch_day);
        Some(SaleKeys {
            day,
            product,
            customer_key,
            customer_id,
            channel: self.channel(get(r, sf.ch)),
            branch: self.branch(get(r, sf.br)),
        })
    }
}

/// The `fact_sales` row of sales line `r` (quantity `q`) with its keys `k`.
fn sales_row(
    lk: &Lookups,
    src: &SourceConfig,
    r: &Staged,
    sf: &SalesFields,
    k: SaleKeys,
    q: i64,
    file_stem: &str,
) -> Vec<Value> {
    let returned = q < 0;
    let (price, amount) = (money(get(r, sf.up)), money(get(r, sf.amt)));
    let discount = money(get(r, sf.disc)).unwrap_or(0);
    // A return is priced like the sale it undoes (whatever signs the source writes its
    // amounts with) and refunds that value: its revenue is negative.
    let (unit_price, discount, revenue) = if returned {
        let abs = |v: Option<i64>| v.map(i64::abs);
        let d = discount.abs();
        let (p, a) = line_value(abs(price), abs(amount), -q, d);
        (p, d, -a)
    } else {
        let (p, a) = line_value(price, amount, q, discount);
        (p, discount, a)
    };
    let unit_cost = money(get(r, sf.uc)).or_else(|| {
        get(r, sf.sku)
            .as_str()
            .and_then(|s| lk.products.attr(s, "unit_cost"))
            .and_then(money)
    });
    let ts = match get(r, sf.t) {
        v @ Value::Ts { .. } => v.clone(),
        _ => Value::Null,
    };
    let order_id = match get(r, sf.oid) {
        Value::Str(o) => o.clone(),
        _ => format!("{}:{file_stem}:{}", src.name, r.line).into(),
    };
    vec![
        Value::Str(order_id),
        Value::Int(get(r, sf.ln).as_i64().unwrap_or(1)),
        Value::Int(date_key(k.day)),
        Value::Date(k.day),
        ts,
        Value::Int(k.customer_key),
        Value::Int(k.customer_id),
        Value::Int(k.product),
        Value::Int(k.channel),
        Value::Int(k.branch),
        Value::Int(q),
        Value::Money(unit_price),
        Value::Money(discount),
        Value::Money(revenue),
        unit_cost.map_or(Value::Null, |c| Value::Money(c * q)),
        Value::Str(src.name.as_str().into()),
        match get(r, sf.orig) {
            Value::Str(o) if returned => Value::Str(o.clone()),
            _ => Value::Null,
        },
    ]
}

/// Loads one chunk of a fact entity; returns the fact rows (in the table's column order), each
/// with the position of the staged row it comes from.
#[allow(clippy::too_many_arguments)]
pub fn load_chunk(
    kind: EntityKind,
    lk: &mut Lookups,
    src: &SourceConfig,
    def: &EntityDef,
    rows: &[Staged],
    rej: &mut Rejector<'_>,
    batch_day: i32,
    file_stem: &str,
) -> Vec<(usize, Vec<Value>)> {
    let f = F(def);
    let mut out = Vec::with_capacity(rows.len());
    let sys = src.customer_system.as_str();
    match kind {
        EntityKind::SalesLine => {
            let sf = SalesFields::new(&f);
            // Every line is checked, looked up and built on every core against the lookups
            // as they stand. A line that needs a new member (an inferred customer, product,
            // channel or branch) is left to the serial pass below, which adds members in
            // line order: the same members with the same keys as a serial load.
            let shared: &Lookups = lk;
            let probed: Vec<Line> = rows
                .par_iter()
                .map(|r| match sales_quantity(src, r, &sf) {
                    Err(reject) => Line::Reject(reject),
                    Ok(q) => shared
                        .probe_sale(sys, r, &sf, batch_day)
                        .map_or(Line::Miss(q), |k| {
                            Line::Row(sales_row(shared, src, r, &sf, k, q, file_stem))
                        }),
                })
                .collect();
            for (n, (r, line)) in rows.iter().zip(probed).enumerate() {
                let row = match line {
                    Line::Row(row) => row,
                    Line::Reject((code, reason)) => {
                        rej.reject(r, Some("quantity"), code, reason);
                        continue;
                    }
                    Line::Miss(q) => {
                        let Some(keys) = lk.resolve_sale(sys, r, &sf, batch_day, rej) else {
                            continue;
                        };
                        sales_row(lk, src, r, &sf, keys, q, file_stem)
                    }
                };
                out.push((n, row));
            }
        }
        EntityKind::ServiceContact => {
            let (id, open, cref, phone, email, ch, ty, sat, res, st) = (
                f.i("contact_id"),
                f.i("opened_at"),
                f.i("customer_ref"),
                f.i("customer_phone"),
                f.i("customer_email"),
                f.i("channel"),
                f.i("contact_type"),
                f.i("satisfaction"),
                f.i("resolved_at"),
                f.i("status"),
            );
            for (n, r) in rows.iter().enumerate() {
                let s = get(r, sat).as_i64();
                if s.is_some_and(|s| !(1..=5).contains(&s)) {
                    rej.reject(
                        r,
                        Some("satisfaction"),
                        "bad_value",
                        format!("expected a score from 1 to 5, found {}", s.unwrap_or(0)),
                    );
                    continue;
                }
                let day = get(r, open).as_day().unwrap_or(batch_day);
                let (ck, cid) = match get(r, cref).as_str() {
                    Some(c) => lk.customer(sys, c, day, batch_day),
                    None => {
                        lk.customer_by_contact(sys, get(r, phone), get(r, email), day, batch_day)
                    }
                };
                let hours = match (get(r, open), get(r, res)) {
                    (Value::Ts { micros: a, .. }, Value::Ts { micros: b, .. }) => {
                        Value::Float((b - a) as f64 / 3.6e9)
                    }
                    _ => Value::Null,
                };
                out.push((
                    n,
                    vec![
                        get(r, id).clone(),
                        Value::Int(date_key(day)),
                        Value::Date(day),
                        get(r, open).clone(),
                        Value::Int(ck),
                        Value::Int(cid),
                        Value::Int(lk.channel(get(r, ch))),
                        get(r, ty).clone(),
                        s.map_or(Value::Null, Value::Int),
                        hours,
                        get(r, st).clone(),
                    ],
                ));
            }
        }
        EntityKind::CampaignResponse => {
            let (code, cref, d, hold, c1, c2, c3, rev) = (
                f.i("campaign_code"),
                f.i("customer_ref"),
                f.i("contact_date"),
                f.i("control_group"),
                f.i("contacted"),
                f.i("responded"),
                f.i("converted"),
                f.i("revenue"),
            );
            for (n, r) in rows.iter().enumerate() {
                let Some(campaign_key) = campaign(lk, rej, r, code) else {
                    continue;
                };
                let (day, ck, cid) = dated_customer(lk, sys, r, (d, cref), batch_day);
                let b =
                    |i: usize, default: bool| Value::Bool(get(r, i).as_bool().unwrap_or(default));
                out.push((
                    n,
                    vec![
                        Value::Int(campaign_key),
                        Value::Int(date_key(day)),
                        Value::Date(day),
                        Value::Int(ck),
                        Value::Int(cid),
                        b(hold, false),
                        b(c1, !get(r, hold).as_bool().unwrap_or(false)),
                        b(c2, false),
                        b(c3, false),
                        Value::Money(money(get(r, rev)).unwrap_or(0)),
                    ],
                ));
            }
        }
        EntityKind::Receivable => {
            let (inv, cref, idate, due, amt, paid, pdate) = (
                f.i("invoice_id"),
                f.i("customer_ref"),
                f.i("invoice_date"),
                f.i("due_date"),
                f.i("amount"),
                f.i("paid_amount"),
                f.i("paid_date"),
            );
            for (n, r) in rows.iter().enumerate() {
                let (day, ck, cid) = dated_customer(lk, sys, r, (idate, cref), batch_day);
                out.push((
                    n,
                    vec![
                        get(r, inv).clone(),
                        Value::Int(date_key(day)),
                        Value::Date(day),
                        get(r, due).clone(),
                        Value::Int(ck),
                        Value::Int(cid),
                        get(r, amt).clone(),
                        Value::Money(money(get(r, paid)).unwrap_or(0)),
                        get(r, pdate).clone(),
                    ],
                ));
            }
        }
        EntityKind::CreditApplication => {
            let names = [
                "age",
                "income",
                "has_savings_account",
                "homeowner",
                "employment_years",
                "existing_debt",
                "requested_amount",
                "term_months",
                "decision",
                "outcome",
            ];
            let idx: Vec<usize> = names.iter().map(|n| f.i(n)).collect();
            let (app, cref, d) = (
                f.i("application_id"),
                f.i("customer_ref"),
                f.i("application_date"),
            );
            for (n, r) in rows.iter().enumerate() {
                let (day, ck, cid) = dated_customer(lk, sys, r, (d, cref), batch_day);
                let mut row = vec![
                    get(r, app).clone(),
                    Value::Int(date_key(day)),
                    Value::Date(day),
                    Value::Int(ck),
                    Value::Int(cid),
                ];
                row.extend(idx.iter().map(|i| get(r, *i).clone()));
                out.push((n, row));
            }
        }
        EntityKind::SalesPlan => {
            let (m, cref, br, amt) = (
                f.i("plan_month"),
                f.i("customer_ref"),
                f.i("branch_code"),
                f.i("planned_amount"),
            );
            for (n, r) in rows.iter().enumerate() {
                let first = month_start(get(r, m).as_day().unwrap_or(batch_day));
                let (ck, cid) = match get(r, cref).as_str() {
                    Some(c) => lk.customer(sys, c, first, batch_day),
                    None => (0, 0),
                };
                out.push((
                    n,
                    vec![
                        Value::Date(first),
                        Value::Int(ck),
                        Value::Int(cid),
                        Value::Int(lk.branch(get(r, br))),
                        get(r, amt).clone(),
                    ],
                ));
            }
        }
        EntityKind::Expense => {
            let (id, d, ty, amt, br, cref, code) = (
                f.i("expense_id"),
                f.i("expense_date"),
                f.i("expense_type"),
                f.i("amount"),
                f.i("branch_code"),
                f.i("customer_ref"),
                f.i("campaign_code"),
            );
            for (n, r) in rows.iter().enumerate() {
                let Some(campaign_key) = campaign(lk, rej, r, code) else {
                    continue;
                };
                let day = get(r, d).as_day().unwrap_or(batch_day);
                let (ck, cid) = match get(r, cref).as_str() {
                    Some(c) => lk.customer(sys, c, day, batch_day),
                    None => (0, 0),
                };
                out.push((
                    n,
                    vec![
                        get(r, id).clone(),
                        Value::Int(date_key(day)),
                        Value::Date(day),
                        get(r, ty).clone(),
                        Value::Int(lk.branch(get(r, br))),
                        Value::Int(ck),
                        Value::Int(cid),
                        Value::Int(campaign_key),
                        get(r, amt).clone(),
                    ],
                ));
            }
        }
        EntityKind::ExpenseBudget => {
            let (m, ty, br, code, amt) = (
                f.i("budget_month"),
                f.i("expense_type"),
                f.i("branch_code"),
                f.i("campaign_code"),
                f.i("budgeted_amount"),
            );
            for (n, r) in rows.iter().enumerate() {
                let Some(campaign_key) = campaign(lk, rej, r, code) else {
                    continue;
                };
                out.push((
                    n,
                    vec![
                        Value::Date(month_start(get(r, m).as_day().unwrap_or(batch_day))),
                        get(r, ty).clone(),
                        Value::Int(lk.branch(get(r, br))),
                        Value::Int(campaign_key),
                        get(r, amt).clone(),
                    ],
                ));
            }
        }
        EntityKind::Customer | EntityKind::Product | EntityKind::Branch | EntityKind::Campaign => {}
    }
    out
}

/// The first day of the month of `day`.
fn month_start(day: i32) -> i32 {
    crate::value::date_of(day)
        .with_day0(0)
        .map_or(day, crate::value::day_number)
}

/// The dim_campaign key of the campaign row `r` names in field `code`: 0 when it names none,
/// an inferred member for an unknown code, or `None` (the row is rejected as
/// `unknown_campaign`) when a campaign master is configured and does not know it.
fn campaign(lk: &mut Lookups, rej: &mut Rejector<'_>, r: &Staged, code: usize) -> Option<i64> {
    let Some(cc) = get(r, code).as_str() else {
        return Some(0);
    };
    match lk.campaigns.key(cc) {
        Some(k) => Some(k),
        None if lk.strict_campaigns => {
            rej.reject(
                r,
                Some("campaign_code"),
                "unknown_campaign",
                format!("unknown campaign '{cc}'"),
            );
            None
        }
        None => Some(lk.campaigns.upsert(cc, &[])),
    }
}
