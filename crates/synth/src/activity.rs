//! Everything persons do, written as exports: master data, orders (till and web), service
//! contacts, campaign responses, receivables, credit applications and the sales plan,
//! with bad rows injected at known lines and the planted truth written beside them.

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Timelike, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::catalog::{CITIES, Catalog, OCCUPATIONS};
use crate::exports::{Export, ExportSet};
use crate::noise;
use crate::population::{
    Change, Group, PLACEHOLDER_PHONE, Person, Population, format_phone, history_start,
};
use crate::{GenerateOptions, Result, history_end};

/// Probability that a good fact row is followed by an injected bad row.
const BAD_ROW_RATE: f64 = 0.004;

fn cents(c: i64) -> String {
    format!(
        "{}{}.{:02}",
        if c < 0 { "-" } else { "" },
        c.abs() / 100,
        c.abs() % 100
    )
}

/// Money the way a finance export writes it: thousands separators.
pub(crate) fn cents_grouped(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    let c = c.abs();
    let yuan = (c / 100).to_string();
    let mut out = String::new();
    for (i, ch) in yuan.chars().enumerate() {
        if i > 0 && (yuan.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}.{:02}", c % 100)
}

fn yn(b: bool) -> String {
    if b { "Y" } else { "N" }.to_string()
}

fn person_rng(opts: &GenerateOptions, person: u32, night: u32, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(
        opts.seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
            ^ (u64::from(person) << 20)
            ^ (u64::from(night) << 8)
            ^ stream,
    )
}

pub(crate) fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d.checked_add_days(Days::new(n as u64))
    } else {
        d.checked_sub_days(Days::new((-n) as u64))
    }
    .unwrap_or(d)
}

/// Writes night 1: master data, the full history of facts, and the truth files.
pub fn write_history(
    opts: &GenerateOptions,
    catalog: &Catalog,
    pop: &Population,
    out: &mut ExportSet,
) -> Result<()> {
    let persons: Vec<&Person> = pop.persons.iter().collect();
    write_customers(opts, &persons, out, 1)?;
    write_products(catalog, out)?;
    write_stores(catalog, out)?;
    write_campaigns(catalog, out)?;
    let spend = write_orders(
        opts,
        catalog,
        &persons,
        out,
        history_start(opts),
        history_end(),
        true,
    )?;
    write_contacts(opts, &persons, out, history_start(opts), history_end())?;
    write_campaign_responses(opts, catalog, &persons, out)?;
    write_receivables(opts, &persons, out)?;
    write_credit_applications(opts, &persons, out)?;
    write_sales_plan(&persons, &spend, out)?;
    write_lookalike_truth(pop, out)?;
    write_person_truth(opts, &persons, out)
}

/// Writes a later night: changed and new customers, that day's facts, the receivables snapshot.
pub fn write_night(
    opts: &GenerateOptions,
    catalog: &Catalog,
    pop: &Population,
    changes: &[Change],
    out: &mut ExportSet,
) -> Result<()> {
    let mut touched: Vec<&Person> = changes.iter().map(|c| &pop.persons[c.person]).collect();
    touched.dedup_by_key(|p| p.id);
    write_customers(opts, &touched, out, opts.night)?;
    let mut t = out.truth(
        "changes",
        &["person_id", "crm_id", "attribute", "old", "new"],
    )?;
    for c in changes {
        let p = &pop.persons[c.person];
        t.row(&[
            p.id.to_string(),
            p.crm_id.clone().unwrap_or_default(),
            c.attribute.into(),
            c.old.clone(),
            c.new.clone(),
        ])?;
    }
    t.finish()?;
    let day = out.date;
    let persons: Vec<&Person> = pop.persons.iter().collect();
    write_orders(opts, catalog, &persons, out, day, day, false)?;
    write_contacts(opts, &persons, out, day, day)?;
    write_receivables(opts, &persons, out)?;
    let new: Vec<&Person> = touched
        .into_iter()
        .filter(|p| p.first_night == opts.night)
        .collect();
    write_person_truth(opts, &new, out)
}

/// CRM master rows (and data-entry duplicates) and web-shop accounts of `persons`.
fn write_customers(
    opts: &GenerateOptions,
    persons: &[&Person],
    out: &mut ExportSet,
    night: u32,
) -> Result<()> {
    let mut crm = out.csv(
        "crm",
        "crm_customers",
        &[
            "cust_no",
            "full_name",
            "sex",
            "birthday",
            "mobile",
            "email",
            "id_card",
            "address",
            "city",
            "province",
            "occupation",
            "annual_income",
            "education",
            "marital",
            "home_owner",
            "savings_acct",
            "cust_type",
            "register_date",
            "credit_limit",
            "updated_at",
            "no_marketing",
        ],
    )?;
    let mut web = out.jsonl("web", "web_customers")?;
    let mut identity = out.truth("identity", &["system", "source_id", "person_id"])?;
    for p in persons {
        let mut rng = person_rng(opts, p.id, night, 1);
        let city = &CITIES[p.city];
        let updated = out.date.format("%Y-%m-%d 02:00:00").to_string();
        // Typed by a clerk: the fields one record got wrong (rates per record kind).
        let base = |rng: &mut ChaCha8Rng,
                    id: &str,
                    name: String,
                    phone: String,
                    email: String,
                    id_card: String,
                    slips: f64,
                    no_marketing: &str| {
            let birth = if rng.random_bool(slips) {
                noise::date_typo(rng, p.birth)
            } else {
                p.birth
            };
            let address = if rng.random_bool(slips) {
                noise::address_variant(rng, &p.address)
            } else {
                p.address.clone()
            };
            let id_card = if !id_card.is_empty() && rng.random_bool(slips) {
                noise::digit_typo(rng, &id_card)
            } else {
                id_card
            };
            vec![
                id.to_string(),
                name,
                if p.female { "女" } else { "男" }.to_string(),
                birth.format("%Y/%m/%d").to_string(),
                phone,
                email,
                id_card,
                address,
                city.name.to_string(),
                if rng.random_bool(0.9) {
                    city.province.to_string()
                } else {
                    String::new()
                },
                OCCUPATIONS[p.occupation].to_string(),
                cents_grouped(p.income * 100),
                p.education.to_string(),
                p.marital.to_string(),
                yn(p.homeowner),
                if p.savings { "1" } else { "0" }.to_string(),
                if p.enterprise { "企业" } else { "个人" }.to_string(),
                p.signup.format("%Y/%m/%d").to_string(),
                p.credit_limit.to_string(),
                updated.clone(),
                no_marketing.to_string(),
            ]
        };
        // Consent from its own stream, so nothing else a record holds changes.
        let opted_out = marketing_opt_out(opts, p);
        let mut consent = person_rng(opts, p.id, 1, 43);
        if let Some(id) = &p.crm_id {
            let phone = if p.placeholder_phone {
                PLACEHOLDER_PHONE.to_string()
            } else if rng.random_bool(0.96) {
                format_phone(&mut rng, p.phone)
            } else {
                String::new()
            };
            let email = if rng.random_bool(0.85) {
                p.email.clone()
            } else {
                String::new()
            };
            let name = if rng.random_bool(0.02) {
                noise::name_typo(&mut rng, &p.name())
            } else {
                p.name()
            };
            let no_marketing = if opted_out { "是" } else { "否" };
            let row = base(
                &mut rng,
                id,
                name,
                phone,
                email,
                p.id_number.clone(),
                0.02,
                no_marketing,
            );
            crm.row(&row)?;
            identity.row(&["crm".into(), id.clone(), p.id.to_string()])?;
        }
        if let (Some(dup), true) = (&p.crm_dup_id, night == p.first_night) {
            // A second record typed in by another clerk: a space in the name, a homophone or
            // another typo, the phone in another format or missing, no e-mail, the id card
            // only half the time, and more slips in the birth date, address and id card.
            let name = match rng.random_range(0..10) {
                0..4 => p.name_with_typo(),
                4..7 => p
                    .name()
                    .chars()
                    .flat_map(|c| [c, ' '])
                    .collect::<String>()
                    .trim()
                    .to_string(),
                7..9 => noise::name_typo(&mut rng, &p.name()),
                _ => p.name(),
            };
            let phone = if rng.random_bool(0.8) {
                format_phone(&mut rng, p.phone)
            } else {
                String::new()
            };
            let id_card = if rng.random_bool(0.5) {
                p.id_number.clone()
            } else {
                String::new()
            };
            // The second clerk rarely asks: no answer, or for half the customers who opted out
            // a "否" that must not override their opt-out (any source's "no" wins).
            let no_marketing = if opted_out && consent.random_bool(0.5) {
                "否"
            } else {
                ""
            };
            let row = base(
                &mut rng,
                dup,
                name,
                phone,
                String::new(),
                id_card,
                0.15,
                no_marketing,
            );
            crm.row(&row)?;
            identity.row(&["crm".into(), dup.clone(), p.id.to_string()])?;
        }
        if let (Some(id), true) = (&p.web_id, night == p.web_night) {
            let name = if p.web_name_typo {
                p.name_with_typo()
            } else if rng.random_bool(0.05) {
                noise::name_typo(&mut rng, &p.name())
            } else {
                p.name()
            };
            let (mobile, email) = if p.web_fuzzy_only {
                (
                    serde_json::Value::Null,
                    json!(format!("u{}{}@foxmail.com", p.id, rng.random_range(10..99))),
                )
            } else if let Some((phone, email)) = &p.web_contact {
                (json!(format_phone(&mut rng, *phone)), json!(email))
            } else {
                let e = match rng.random_range(0..3) {
                    0 => p.email.to_uppercase(),
                    1 => format!(" {} ", p.email),
                    _ => p.email.clone(),
                };
                (json!(format_phone(&mut rng, p.phone)), json!(e))
            };
            let birthday = if p.web_fuzzy_only || p.web_contact.is_some() || rng.random_bool(0.7) {
                let birth = if rng.random_bool(0.04) {
                    noise::date_typo(&mut rng, p.birth)
                } else {
                    p.birth
                };
                json!(birth.format("%Y-%m-%d").to_string())
            } else {
                serde_json::Value::Null
            };
            let registered = p.signup.and_time(
                NaiveTime::from_hms_opt(rng.random_range(8..23), rng.random_range(0..60), 0)
                    .unwrap_or_default(),
            );
            web.json(&json!({
                "account_id": id,
                "nick_name": name,
                "mobile": mobile,
                "email": email,
                "city": city.name,
                "birthday": birthday,
                "registered_at": format!("{}+08:00", registered.format("%Y-%m-%dT%H:%M:%S")),
            }))?;
            identity.row(&["web".into(), id.clone(), p.id.to_string()])?;
        }
    }
    out.close(crm)?;
    out.close(web)?;
    identity.finish()
}

fn write_products(catalog: &Catalog, out: &mut ExportSet) -> Result<()> {
    let mut f = out.csv(
        "erp",
        "products",
        &[
            "sku",
            "name",
            "category",
            "subcategory",
            "brand",
            "price",
            "cost",
        ],
    )?;
    for p in &catalog.products {
        f.row(&[
            p.sku.clone(),
            p.name.clone(),
            p.category.into(),
            p.subcategory.into(),
            p.brand.into(),
            cents_grouped(p.price),
            cents(p.cost),
        ])?;
    }
    out.close(f)
}

fn write_stores(catalog: &Catalog, out: &mut ExportSet) -> Result<()> {
    let mut f = out.csv(
        "pos",
        "stores",
        &["store_code", "store_name", "city", "province", "region"],
    )?;
    for s in &catalog.stores {
        let c = &CITIES[s.city];
        f.row(&[
            s.code.clone(),
            s.name.clone(),
            c.name.into(),
            c.province.into(),
            c.region.into(),
        ])?;
    }
    out.close(f)
}

pub(crate) fn campaign_start(c: &crate::catalog::Campaign) -> NaiveDate {
    add_days(history_end(), -(c.start_days_before_end as i64))
}

fn write_campaigns(catalog: &Catalog, out: &mut ExportSet) -> Result<()> {
    let mut f = out.csv(
        "marketing",
        "campaigns",
        &[
            "code", "name", "channel", "start", "end", "budget", "target",
        ],
    )?;
    for c in &catalog.campaigns {
        let start = campaign_start(c);
        let end = add_days(start, c.length_days as i64 - 1);
        f.row(&[
            c.code.into(),
            c.name.into(),
            c.channel.into(),
            start.to_string(),
            end.to_string(),
            c.budget_yuan.to_string(),
            c.target.into(),
        ])?;
    }
    out.close(f)
}

/// Orders per day by behaviour group.
fn order_rate(g: Group) -> f64 {
    match g {
        Group::Stream => 1.0 / 45.0,
        Group::Meteor => 1.0 / 200.0,
        Group::Vip => 1.0 / 30.0,
        Group::Bargain => 1.0 / 80.0,
    }
}

struct Line {
    product: usize,
    qty: i64,
    discount: i64,
}

/// Counts behind the planted diapers → beer rule, from the baskets actually written.
#[derive(Default)]
struct BasketTruth {
    baskets: u64,
    diapers: u64,
    beer: u64,
    both: u64,
    father_baskets: u64,
    father_diapers: u64,
    father_both: u64,
}

/// Writes orders dated `from..=to`; returns each person's spend (cents) in the last 90 days.
fn write_orders(
    opts: &GenerateOptions,
    catalog: &Catalog,
    persons: &[&Person],
    out: &mut ExportSet,
    from: NaiveDate,
    to: NaiveDate,
    history: bool,
) -> Result<Vec<i64>> {
    let mut pos = out.csv(
        "pos",
        "pos_sales",
        &[
            "receipt_no",
            "line_no",
            "sale_time",
            "store_code",
            "loyalty_card",
            "sku",
            "qty",
            "unit_price",
            "discount",
        ],
    )?;
    let mut web = out.jsonl("web", "web_orders")?;
    let night = if history { 1 } else { opts.night };
    let mut seq: u64 = 0;
    let mut truth = BasketTruth::default();
    let mut spend = vec![0i64; persons.len()];
    let recent = add_days(to, -89);
    let lapses: Vec<Option<NaiveDate>> = persons.iter().map(|p| diapers_lapse(opts, p)).collect();
    for (pi, p) in persons.iter().enumerate() {
        let mut rng = person_rng(opts, p.id, night, 2);
        let start = from.max(p.signup);
        let stop = p.churn_date.map_or(to, |c| c.min(to));
        if start > stop {
            continue;
        }
        // Exponential gaps between orders (at least one day); churners buy at under half
        // pace in their last 90 days.
        let mut day = add_days(start, -1);
        loop {
            let slowing = p.churn_date.is_some_and(|c| (c - day).num_days() < 90);
            let rate = order_rate(p.group) * if slowing { 0.4 } else { 1.0 };
            let u: f64 = rng.random::<f64>().max(1e-12);
            day = add_days(day, 1 + (-u.ln() / rate).floor() as i64);
            if day > stop {
                break;
            }
            let lapsed = lapses.get(pi).copied().flatten().is_some_and(|l| day >= l);
            let (lines, when) = make_basket(&mut rng, catalog, p, day, lapsed);
            truth.record(catalog, p, &lines);
            seq += 1;
            let order_spend: i64 = lines
                .iter()
                .map(|l| l.qty * catalog.products[l.product].price - l.discount)
                .sum();
            if day >= recent {
                spend[pi] += order_spend;
            }
            let online = match (&p.crm_id, &p.web_id) {
                (None, Some(_)) => true,
                (Some(_), None) => false,
                _ => match p.group {
                    Group::Meteor => rng.random_bool(0.8),
                    Group::Bargain => rng.random_bool(0.6),
                    _ => rng.random_bool(0.25),
                },
            };
            if online {
                let account = p.web_id.clone().unwrap_or_default();
                let channel = if p.group == Group::Bargain && rng.random_bool(0.7) {
                    "APP"
                } else {
                    "WEB"
                };
                let order_id = format!("O{night}{seq:09}");
                for (i, l) in lines.iter().enumerate() {
                    let pr = &catalog.products[l.product];
                    let row = json!({
                        "orderId": order_id, "line": i + 1,
                        "createdAt": format!("{}+08:00", when.format("%Y-%m-%dT%H:%M:%S")),
                        "accountId": account, "sku": pr.sku, "qty": l.qty,
                        "price": pr.price as f64 / 100.0, "discount": l.discount as f64 / 100.0, "channel": channel,
                    });
                    web.json(&row)?;
                    if rng.random_bool(BAD_ROW_RATE) {
                        let mut bad = row.clone();
                        let reason = match rng.random_range(0..5) {
                            0 => {
                                bad["createdAt"] =
                                    json!(format!("{}-02-30T10:00:00+08:00", when.year()));
                                "bad_value"
                            }
                            1 => {
                                bad["qty"] = json!(-l.qty);
                                "non_positive_quantity"
                            }
                            2 => {
                                bad["sku"] = json!(format!("ZZ99-{:03}", rng.random_range(0..999)));
                                "unknown_product"
                            }
                            3 => {
                                bad["accountId"] = json!("");
                                "missing_value"
                            }
                            _ => "duplicate_row",
                        };
                        web.bad_json(&bad, reason)?;
                    }
                }
            } else {
                let store = &catalog.stores[p.city * 2 + rng.random_range(0..2usize)];
                let receipt = format!("R{}{night}{seq:08}", store.code);
                let card = p.crm_id.clone().unwrap_or_default();
                for (i, l) in lines.iter().enumerate() {
                    let pr = &catalog.products[l.product];
                    let row = vec![
                        receipt.clone(),
                        (i + 1).to_string(),
                        when.format("%d.%m.%Y %H:%M").to_string(),
                        store.code.clone(),
                        card.clone(),
                        pr.sku.clone(),
                        l.qty.to_string(),
                        cents(pr.price),
                        cents(l.discount),
                    ];
                    pos.row(&row)?;
                    if rng.random_bool(BAD_ROW_RATE) {
                        let mut bad = row.clone();
                        let reason = match rng.random_range(0..5) {
                            0 => {
                                bad[2] = format!("31.02.{} 10:00", when.year());
                                "bad_value"
                            }
                            1 => {
                                bad[6] = format!("-{}", l.qty);
                                "non_positive_quantity"
                            }
                            2 => {
                                bad[5] = format!("ZZ99-{:03}", rng.random_range(0..999));
                                "unknown_product"
                            }
                            3 => {
                                bad[4] = String::new();
                                "missing_value"
                            }
                            _ => "duplicate_row",
                        };
                        pos.bad_row(&bad, reason)?;
                    }
                }
            }
        }
    }
    out.close(pos)?;
    out.close(web)?;
    if history {
        let mut t = out.truth(
            "basket",
            &[
                "baskets",
                "diapers",
                "beer",
                "diapers_and_beer",
                "father_baskets",
                "father_diapers",
                "father_diapers_and_beer",
            ],
        )?;
        t.row(
            &[
                truth.baskets,
                truth.diapers,
                truth.beer,
                truth.both,
                truth.father_baskets,
                truth.father_diapers,
                truth.father_both,
            ]
            .map(|n| n.to_string()),
        )?;
        t.finish()?;
    }
    Ok(spend)
}

impl BasketTruth {
    fn record(&mut self, catalog: &Catalog, p: &Person, lines: &[Line]) {
        let has = |set: &[usize]| lines.iter().any(|l| set.contains(&l.product));
        let (d, b) = (has(&catalog.diapers), has(&catalog.beer));
        self.baskets += 1;
        self.diapers += u64::from(d);
        self.beer += u64::from(b);
        self.both += u64::from(d && b);
        if p.young_father {
            self.father_baskets += 1;
            self.father_diapers += u64::from(d);
            self.father_both += u64::from(d && b);
        }
    }
}

/// Whether the person has opted out of marketing (6% of those with a CRM record, the only
/// source that asks; from its own random stream): no campaign target list may contact them.
pub(crate) fn marketing_opt_out(opts: &GenerateOptions, p: &Person) -> bool {
    p.crm_id.is_some() && person_rng(opts, p.id, 1, 42).random_bool(0.06)
}

/// P(a reached customer responds to a campaign) by behaviour group, and P(converting
/// without the campaign): what a response model can learn at best.
fn response_rates(group: Group) -> (f64, f64) {
    match group {
        Group::Bargain => (0.35, 0.10),
        Group::Vip => (0.25, 0.12),
        Group::Stream => (0.12, 0.07),
        Group::Meteor => (0.06, 0.03),
    }
}

/// The lines and time of one order; young fathers buy diapers, and beer with them on weekday evenings.
/// The day half of the young fathers stop buying diapers (their child grew out of them),
/// 250–450 days before the end of history: planted dormant holdings of the Baby category.
/// From its own random stream, so nothing else a person does changes.
pub(crate) fn diapers_lapse(opts: &GenerateOptions, p: &Person) -> Option<NaiveDate> {
    let mut rng = person_rng(opts, p.id, 1, 40);
    (p.young_father && rng.random_bool(0.5))
        .then(|| add_days(history_end(), -rng.random_range(250..=450)))
}

/// One order's lines and time. A `lapsed` young father no longer buys diapers: every random
/// draw is made as before (the rest of the basket stays the same), the diapers line is left
/// out.
fn make_basket(
    rng: &mut ChaCha8Rng,
    catalog: &Catalog,
    p: &Person,
    day: NaiveDate,
    lapsed: bool,
) -> (Vec<Line>, chrono::NaiveDateTime) {
    let pick = |rng: &mut ChaCha8Rng, set: &[usize]| set[rng.random_range(0..set.len())];
    let mut lines = Vec::new();
    let (n, pool, disc): (usize, &[usize], f64) = match p.group {
        Group::Stream => (rng.random_range(1..=3), &catalog.everyday, 0.0),
        Group::Meteor => (rng.random_range(1..=2), &catalog.premium, 0.0),
        Group::Vip => (rng.random_range(2..=5), &catalog.premium, 0.0),
        Group::Bargain => (
            rng.random_range(2..=4),
            &catalog.cheap,
            rng.random_range(0.25..0.4),
        ),
    };
    for i in 0..n {
        let product = if p.group == Group::Vip && i > 0 {
            pick(rng, &catalog.everyday)
        } else {
            pick(rng, pool)
        };
        let qty = if catalog.products[product].price > 40_000 {
            1
        } else {
            rng.random_range(1..=3)
        };
        lines.push(Line {
            product,
            qty,
            discount: 0,
        });
    }
    let weekday = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let mut hour = rng.random_range(9..22);
    let diapers = if p.young_father {
        rng.random_bool(0.45)
    } else {
        rng.random_bool(0.02)
    };
    if diapers {
        let line = Line {
            product: pick(rng, &catalog.diapers),
            qty: rng.random_range(1..=2),
            discount: 0,
        };
        if !lapsed {
            lines.push(line);
        }
        if p.young_father && weekday && rng.random_bool(0.7) {
            hour = rng.random_range(18..22);
        }
    }
    let evening = weekday && (18..22).contains(&hour);
    let beer_p = if diapers && !lapsed && p.young_father && evening {
        0.75
    } else {
        0.05
    };
    if rng.random_bool(beer_p) && !lines.iter().any(|l| catalog.beer.contains(&l.product)) {
        lines.push(Line {
            product: pick(rng, &catalog.beer),
            qty: rng.random_range(1..=6),
            discount: 0,
        });
    }
    for l in &mut lines {
        l.discount = ((l.qty * catalog.products[l.product].price) as f64 * disc).round() as i64;
    }
    let when =
        day.and_time(NaiveTime::from_hms_opt(hour, rng.random_range(0..60), 0).unwrap_or_default());
    (lines, when.with_second(0).unwrap_or(when))
}

fn write_contacts(
    opts: &GenerateOptions,
    persons: &[&Person],
    out: &mut ExportSet,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<()> {
    let mut f = out.csv(
        "callcentre",
        "contacts",
        &[
            "ticket_id",
            "caller_phone",
            "opened",
            "channel",
            "type",
            "satisfaction",
            "resolved",
            "status",
        ],
    )?;
    let night = if from == to { opts.night } else { 1 };
    let days = (to - from).num_days() + 1;
    let mut seq = 0u64;
    let mut emit = |rng: &mut ChaCha8Rng,
                    f: &mut Export,
                    phone: String,
                    when: chrono::NaiveDateTime,
                    kind: &str,
                    sat: Option<i64>|
     -> Result<()> {
        seq += 1;
        let resolved = rng.random_bool(0.85);
        let hours = rng.random_range(1..96);
        let row = vec![
            format!("T{night}{seq:08}"),
            phone,
            when.format("%m/%d/%Y %I:%M %p").to_string(),
            ["Phone", "Chat", "E-mail"][rng.random_range(0..3)].to_string(),
            kind.to_string(),
            sat.map(|s| s.to_string()).unwrap_or_default(),
            if resolved {
                (when + chrono::Duration::hours(hours))
                    .format("%m/%d/%Y %I:%M %p")
                    .to_string()
            } else {
                String::new()
            },
            if resolved {
                "Resolved"
            } else if kind == "Complaint" {
                "Escalated"
            } else {
                "Open"
            }
            .to_string(),
        ];
        f.row(&row)?;
        if rng.random_bool(BAD_ROW_RATE * 3.0) {
            let mut bad = row.clone();
            let reason = match rng.random_range(0..3) {
                0 => {
                    bad[2] = "13/45/2024 10:00 AM".into();
                    "bad_value"
                }
                1 => {
                    bad[4] = String::new();
                    "missing_value"
                }
                _ => "duplicate_row",
            };
            f.bad_row(&bad, reason)?;
        }
        Ok(())
    };
    for p in persons {
        let mut rng = person_rng(opts, p.id, night, 3);
        let active_to = p.churn_date.map_or(to, |c| c.min(to));
        let start = from.max(p.signup);
        if start > active_to {
            continue;
        }
        let expected = (active_to - start).num_days() as f64 / 300.0;
        let n = (expected + rng.random::<f64>()).floor() as i64;
        for _ in 0..n {
            let day = add_days(start, rng.random_range(0..=(active_to - start).num_days()));
            let when = day.and_time(
                NaiveTime::from_hms_opt(rng.random_range(8..20), rng.random_range(0..60), 0)
                    .unwrap_or_default(),
            );
            let kind =
                ["Inquiry", "Inquiry", "Inquiry", "Complaint", "Repair"][rng.random_range(0..5)];
            let sat = rng.random_bool(0.7).then(|| rng.random_range(3..=5));
            let phone = format_phone(&mut rng, p.phone);
            emit(&mut rng, &mut f, phone, when, kind, sat)?;
        }
        // Churners complain, and are unhappy, before they leave.
        if let Some(c) = p.churn_date {
            for k in 0..2 {
                let day = add_days(c, -rng.random_range(5..60) - k * 3);
                if day < from || day > to {
                    continue;
                }
                let when = day.and_time(
                    NaiveTime::from_hms_opt(rng.random_range(8..20), 0, 0).unwrap_or_default(),
                );
                let phone = format_phone(&mut rng, p.phone);
                let sat = Some(rng.random_range(1..=2));
                emit(&mut rng, &mut f, phone, when, "Complaint", sat)?;
            }
        }
    }
    // Callers who are not (yet) customers: prospects, found by no source record.
    let mut rng = person_rng(opts, 0, night, 4);
    for i in 0..(persons.len() as i64 * days / 20_000).max(1) {
        let day = add_days(from, rng.random_range(0..days));
        let when = day.and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default());
        let phone = format!("1990{:07}", 1_000_000 + i * 13 + i64::from(night) * 100_000);
        emit(&mut rng, &mut f, phone, when, "Inquiry", None)?;
    }
    out.close(f)
}

/// Campaign contacts: of each campaign's target group, 30% are selected; a random
/// `control_share` of them is held out (exported with `holdout = Y`, never contacted). A
/// selected customer converts (buys within the campaign, as the campaign tool tracks it) with
/// a base chance by behaviour group, plus the campaign's planted uplift / 0.9 when reached
/// (90% are): the contacted group's conversion rate exceeds the control's by `uplift`. The
/// truth is `truth/night-1/campaigns.csv`.
fn write_campaign_responses(
    opts: &GenerateOptions,
    catalog: &Catalog,
    persons: &[&Person],
    out: &mut ExportSet,
) -> Result<()> {
    let mut f = out.csv(
        "marketing",
        "campaign_responses",
        &[
            "campaign",
            "customer_no",
            "contact_day",
            "holdout",
            "reached",
            "responded",
            "converted",
            "revenue",
        ],
    )?;
    let mut truth = out.truth(
        "campaigns",
        &["campaign", "target", "uplift", "control_share"],
    )?;
    for (ci, c) in catalog.campaigns.iter().enumerate() {
        truth.row(&[
            c.code.into(),
            c.target.into(),
            c.uplift.to_string(),
            c.control_share.to_string(),
        ])?;
        let start = campaign_start(c);
        for p in persons {
            let Some(crm) = &p.crm_id else { continue };
            let mut rng = person_rng(opts, p.id, 1, 10 + ci as u64);
            let targeted = match c.target {
                "bargain" => p.group == Group::Bargain,
                "vip" => p.group == Group::Vip,
                "young_parents" => p.young_father || rng.random_bool(0.05),
                "lapsed" => p.churn_date.is_some_and(|d| d < start),
                _ => true,
            };
            if !targeted || !rng.random_bool(0.3) || p.signup > start {
                continue;
            }
            let control = rng.random_bool(c.control_share);
            let reached = !control && rng.random_bool(0.9);
            let (p_resp, base) = response_rates(p.group);
            let responded = reached && rng.random_bool(p_resp);
            let p_convert = if reached { base + c.uplift / 0.9 } else { base };
            let converted = rng.random_bool(p_convert);
            let revenue = if converted {
                rng.random_range(3_000..80_000)
            } else {
                0
            };
            let day = add_days(start, rng.random_range(0..c.length_days as i64));
            f.row(&[
                c.code.into(),
                crm.clone(),
                day.format("%Y%m%d").to_string(),
                yn(control),
                yn(reached),
                yn(responded),
                yn(converted),
                cents(revenue),
            ])?;
        }
    }
    truth.finish()?;
    out.close(f)
}

/// Receivables snapshot as of the night's date. Invoices depend only on the person and the
/// month, so every night's snapshot shows the same invoices with their payment state then.
fn write_receivables(
    opts: &GenerateOptions,
    persons: &[&Person],
    out: &mut ExportSet,
) -> Result<()> {
    let mut f = out.csv(
        "finance",
        "receivables",
        &[
            "invoice_no",
            "customer_no",
            "invoice_date",
            "due_date",
            "amount",
            "paid",
            "paid_on",
        ],
    )?;
    let asof = out.date;
    let mut truth = out.truth(
        "receivables",
        &[
            "person_id",
            "crm_id",
            "credit_limit",
            "open_balance",
            "over_limit",
        ],
    )?;
    let end = history_end();
    for p in persons {
        let (Some(crm), true) = (&p.crm_id, p.on_credit) else {
            continue;
        };
        let mut rng = person_rng(opts, p.id, 1, 20);
        let mut open = 0i64;
        for m in 0..12 {
            let month_start = NaiveDate::from_ymd_opt(end.year(), end.month(), 1).unwrap_or(end);
            let inv_date = month_start
                .checked_sub_months(chrono::Months::new(11 - m))
                .unwrap_or(month_start);
            let inv_date = add_days(inv_date, rng.random_range(0..25));
            let big = p.over_limit && m >= 8;
            let share = if big {
                rng.random_range(0.3..0.4)
            } else {
                rng.random_range(0.03..0.1)
            };
            let amount = (p.credit_limit as f64 * 100.0 * share).round() as i64;
            let lag = rng.random_range(10..45);
            let pays = !big && rng.random_bool(0.93);
            let paid_on = add_days(inv_date, lag);
            let paid = pays && paid_on <= asof;
            if !paid {
                open += amount;
            }
            f.row(&[
                format!("INV{}{:02}", &crm[1..], m + 1),
                crm.clone(),
                inv_date.to_string(),
                add_days(inv_date, 30).to_string(),
                cents(amount),
                cents(if paid { amount } else { 0 }),
                if paid {
                    paid_on.to_string()
                } else {
                    String::new()
                },
            ])?;
        }
        let over = open > p.credit_limit * 100;
        truth.row(&[
            p.id.to_string(),
            crm.clone(),
            p.credit_limit.to_string(),
            cents(open),
            over.to_string(),
        ])?;
    }
    truth.finish()?;
    out.close(f)
}

fn write_credit_applications(
    opts: &GenerateOptions,
    persons: &[&Person],
    out: &mut ExportSet,
) -> Result<()> {
    let mut f = out.csv(
        "finance",
        "credit_applications",
        &[
            "app_id",
            "customer_no",
            "applied_on",
            "age",
            "income",
            "savings",
            "homeowner",
            "employment_years",
            "other_debt",
            "amount",
            "term",
            "decision",
            "outcome",
        ],
    )?;
    let mut truth = out.truth("credit", &["app_id", "person_id", "p_bad", "outcome"])?;
    let (start, end) = (history_start(opts), history_end());
    let span = (end - start).num_days();
    for p in persons {
        let Some(crm) = &p.crm_id else { continue };
        let mut rng = person_rng(opts, p.id, 1, 30);
        if !rng.random_bool(0.8) {
            continue;
        }
        let day = add_days(start, rng.random_range(0..span));
        let z = ((p.income as f64).ln() - 11.4) / 0.5;
        let noise: f64 = rng.sample::<f64, _>(rand_distr::StandardNormal) * 0.4;
        let logit = -1.3 - 2.4 * z
            + 2.0 * f64::from(u8::from(!p.savings))
            + 1.6 * f64::from(u8::from(!p.homeowner))
            + noise;
        let p_bad = 1.0 / (1.0 + (-logit).exp());
        let approved = rng.random_bool(0.85);
        let outcome = if approved {
            if rng.random_bool(p_bad) {
                "bad"
            } else {
                "good"
            }
        } else {
            ""
        };
        let id = format!("APP{}", &crm[1..]);
        f.row(&[
            id.clone(),
            crm.clone(),
            day.to_string(),
            p.age_at(day).to_string(),
            cents(p.income * 100),
            yn(p.savings),
            yn(p.homeowner),
            rng.random_range(0..30).to_string(),
            cents(rng.random_range(0..p.income * 50)),
            cents(rng.random_range(10..200) * 100_000),
            [12, 24, 36, 60][rng.random_range(0..4)].to_string(),
            if approved { "APPROVED" } else { "REJECTED" }.into(),
            outcome.into(),
        ])?;
        truth.row(&[id, p.id.to_string(), format!("{p_bad:.4}"), outcome.into()])?;
    }
    truth.finish()?;
    out.close(f)
}

/// Monthly plans for enterprise and VIP customers: 0.8× their recent pace, or 2.5× for the
/// planted below-plan ones.
fn write_sales_plan(persons: &[&Person], recent_spend: &[i64], out: &mut ExportSet) -> Result<()> {
    let mut f = out.csv(
        "finance",
        "sales_plan",
        &["month", "customer_no", "store", "planned"],
    )?;
    let mut truth = out.truth(
        "sales_plan",
        &[
            "person_id",
            "crm_id",
            "planned_last_3_months",
            "actual_last_90_days",
            "below_plan",
        ],
    )?;
    let end = history_end();
    let first = NaiveDate::from_ymd_opt(end.year(), end.month(), 1).unwrap_or(end);
    for (p, spend) in persons.iter().zip(recent_spend) {
        let (Some(crm), true) = (&p.crm_id, p.planned) else {
            continue;
        };
        let monthly_pace = (spend / 3).max(50_000);
        let factor = if p.below_plan { 2.5 } else { 0.8 };
        let planned = (monthly_pace as f64 * factor) as i64 / 100 * 100;
        for back in (0..6).rev() {
            let month = first
                .checked_sub_months(chrono::Months::new(back))
                .unwrap_or(first);
            f.row(&[
                month.format("%Y-%m").to_string(),
                crm.clone(),
                String::new(),
                cents(planned),
            ])?;
        }
        let below = (*spend as f64) < 0.5 * (planned * 3) as f64;
        truth.row(&[
            p.id.to_string(),
            crm.clone(),
            cents(planned * 3),
            cents(*spend),
            below.to_string(),
        ])?;
    }
    truth.finish()?;
    out.close(f)
}

/// `truth/night-1/lookalikes.csv`: the households and namesakes planted, pairs of different
/// persons that identity resolution must keep apart.
fn write_lookalike_truth(pop: &Population, out: &mut ExportSet) -> Result<()> {
    let mut t = out.truth("lookalikes", &["kind", "person_a", "person_b"])?;
    for (kind, a, b) in &pop.lookalikes {
        t.row(&[kind.to_string(), a.to_string(), b.to_string()])?;
    }
    t.finish()
}

fn write_person_truth(
    opts: &GenerateOptions,
    persons: &[&Person],
    out: &mut ExportSet,
) -> Result<()> {
    let mut t = out.truth(
        "persons",
        &[
            "person_id",
            "group",
            "young_father",
            "churn_date",
            "crm_id",
            "crm_dup_id",
            "web_id",
            "on_credit",
            "over_limit_planted",
            "planned",
            "below_plan_planted",
            "first_night",
            "diapers_lapsed_on",
            "marketing_opt_out",
            "response_rate",
        ],
    )?;
    for p in persons {
        t.row(&[
            p.id.to_string(),
            p.group.name().into(),
            p.young_father.to_string(),
            p.churn_date.map(|d| d.to_string()).unwrap_or_default(),
            p.crm_id.clone().unwrap_or_default(),
            p.crm_dup_id.clone().unwrap_or_default(),
            p.web_id.clone().unwrap_or_default(),
            p.on_credit.to_string(),
            p.over_limit.to_string(),
            p.planned.to_string(),
            p.below_plan.to_string(),
            p.first_night.to_string(),
            diapers_lapse(opts, p)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            marketing_opt_out(opts, p).to_string(),
            response_rates(p.group).0.to_string(),
        ])?;
    }
    t.finish()
}
