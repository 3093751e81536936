//! Sales and marketing expenses and their monthly budgets, written on night 1 as a finance
//! ledger export (one row per voucher, accounts named as the ledger names them, money with
//! thousands separators) and a budget export, with the overspends planted in them.
//!
//! Budget lines are store × account, campaign × account and one company-wide advertising
//! line. Most lines spend 72–99% of their budget in a month, a tenth of the months a third
//! more (a one-off purchase). Planted on store lines, in fixed numbers so the truth does not
//! depend on the seed's luck:
//! - `over`: each of the last three months spends 112–160% of the budget (must alert);
//! - `rising`: the last three months spend about 86%, 100%, 115% — within budget over the
//!   quarter, but rising past it (must alert, by the trend check alone);
//! - `past_overspend`: months 6–8 before the end overspent, the last quarter is normal
//!   (hard negative: old news);
//! - `reversed`: a voucher booked twice last month and reversed by a credit note (hard
//!   negative: the net is within budget).
//!
//! On campaign lines, the latest campaign's advertising overspends (must alert) and an older
//! campaign's contact costs overspent half a year ago (must not). Some entertainment vouchers
//! name the key customer they were spent on. The truth is `truth/night-1/expenses.csv`.

use chrono::{Datelike, Months, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::activity::{add_days, campaign_start, cents_grouped};
use crate::catalog::Catalog;
use crate::exports::{Export, ExportSet};
use crate::population::{Group, Person, history_start};
use crate::{GenerateOptions, Result, history_end};

/// An expense account: the ledger's name for it (what the export writes) and acrm's
/// expense type (what the config's value map turns it into).
type Account = (&'static str, &'static str);

const PROMOTION: Account = ("促销费", "promotion");
const ADVERTISING: Account = ("广告费", "advertising");
const TRAVEL: Account = ("差旅费", "travel");
const ENTERTAINMENT: Account = ("招待费", "entertainment");
const CONTACT: Account = ("外呼短信费", "contact");

/// Every account the ledger writes: the config's value map of `expense_type` is made from it.
pub(crate) const ACCOUNTS: [Account; 5] = [PROMOTION, ADVERTISING, TRAVEL, ENTERTAINMENT, CONTACT];

/// Store accounts and their base monthly budget in yuan.
const STORE_ACCOUNTS: [(Account, i64); 4] = [
    (PROMOTION, 12_000),
    (ADVERTISING, 20_000),
    (TRAVEL, 6_000),
    (ENTERTAINMENT, 8_000),
];

/// Company-wide brand advertising, yuan a month.
const COMPANY_ADVERTISING: i64 = 150_000;

/// Planted store lines of each kind (of 28 stores × 4 accounts = 112).
const PLANTED_OVER: usize = 14;
const PLANTED_RISING: usize = 6;
const PLANTED_PAST: usize = 8;
const PLANTED_REVERSED: usize = 6;

/// Probability that a voucher is followed by a bad row.
const BAD_ROW_RATE: f64 = 0.01;

/// What was planted on a budget line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planted {
    Normal,
    Over,
    Rising,
    PastOverspend,
    Reversed,
}

impl Planted {
    fn name(self) -> &'static str {
        match self {
            Planted::Normal => "normal",
            Planted::Over => "over",
            Planted::Rising => "rising",
            Planted::PastOverspend => "past_overspend",
            Planted::Reversed => "reversed",
        }
    }

    /// An expense-over-budget alert on the last day of history is right.
    fn alerts(self) -> bool {
        matches!(self, Planted::Over | Planted::Rising)
    }
}

/// One budget line and what it spends.
struct Line {
    account: Account,
    store: Option<String>,
    campaign: Option<&'static str>,
    planted: Planted,
    /// Days a voucher may be booked on: the line's campaign days, else every day.
    days: Option<(NaiveDate, NaiveDate)>,
    /// Budget and planned spend per month of history, in cents.
    months: Vec<(i64, i64)>,
}

/// First days of every month of the history, oldest first.
fn history_months(opts: &GenerateOptions) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut m = history_start(opts)
        .with_day(1)
        .unwrap_or(history_start(opts));
    while m <= history_end() {
        out.push(m);
        m = m
            .checked_add_months(Months::new(1))
            .unwrap_or(NaiveDate::MAX);
    }
    out
}

fn month_end(first: NaiveDate) -> NaiveDate {
    add_days(
        first.checked_add_months(Months::new(1)).unwrap_or(first),
        -1,
    )
}

/// Spend / budget of month `m` (of `n`) for a line with `planted`, around its usual `level`:
/// ±6% from month to month, and one month in ten a one-off purchase of a third of the
/// month's budget on top (a normal quarter may then come close to 110%).
fn spend_factor(rng: &mut ChaCha8Rng, planted: Planted, level: f64, m: usize, n: usize) -> f64 {
    let spike = if rng.random_bool(0.1) { 0.33 } else { 0.0 };
    let usual = (level + rng.random_range(-0.06..0.06)).min(0.99) + spike;
    let back = n - 1 - m;
    match planted {
        Planted::Over if back < 3 => rng.random_range(1.12..1.6),
        Planted::Rising if back < 3 => [1.15, 1.0, 0.86][back] + rng.random_range(-0.02..0.02),
        Planted::PastOverspend if (6..=8).contains(&back) => rng.random_range(1.4..1.7),
        _ => usual,
    }
}

/// The store lines: every store × account, with the planted kinds dealt out.
fn store_lines(rng: &mut ChaCha8Rng, catalog: &Catalog, months: &[NaiveDate]) -> Vec<Line> {
    let n = catalog.stores.len() * STORE_ACCOUNTS.len();
    let mut planted = vec![Planted::Normal; n];
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let kinds = [
        (Planted::Over, PLANTED_OVER),
        (Planted::Rising, PLANTED_RISING),
        (Planted::PastOverspend, PLANTED_PAST),
        (Planted::Reversed, PLANTED_REVERSED),
    ];
    let mut next = order.into_iter();
    for (kind, count) in kinds {
        for i in next.by_ref().take(count) {
            planted[i] = kind;
        }
    }
    let mut lines = Vec::with_capacity(n);
    for (s, store) in catalog.stores.iter().enumerate() {
        let size = rng.random_range(0.6..1.6);
        for (a, (account, base)) in STORE_ACCOUNTS.iter().enumerate() {
            let planted = planted[s * STORE_ACCOUNTS.len() + a];
            let level = rng.random_range(0.72..0.95);
            let months = months
                .iter()
                .enumerate()
                .map(|(m, first)| {
                    let season = match first.month() {
                        11 | 12 => 1.25,
                        2 => 0.8,
                        _ => 1.0,
                    };
                    let budget = (*base as f64 * size * season / 100.0).round() as i64 * 100 * 100;
                    let f = spend_factor(rng, planted, level, m, months.len());
                    (budget, (budget as f64 * f).round() as i64)
                })
                .collect();
            lines.push(Line {
                account: *account,
                store: Some(store.code.clone()),
                campaign: None,
                planted,
                days: None,
                months,
            });
        }
    }
    lines
}

/// Campaign lines: advertising (70% of the campaign's budget) and contact costs (30%),
/// budgeted by the share of the campaign's days in each month.
fn campaign_lines(rng: &mut ChaCha8Rng, catalog: &Catalog, months: &[NaiveDate]) -> Vec<Line> {
    let latest = catalog
        .campaigns
        .iter()
        .min_by_key(|c| c.start_days_before_end)
        .map(|c| c.code);
    let mut lines = Vec::new();
    for c in &catalog.campaigns {
        let start = campaign_start(c);
        let end = add_days(start, c.length_days as i64 - 1);
        for (account, share) in [(ADVERTISING, 0.7), (CONTACT, 0.3)] {
            let planted = match (c.code, account) {
                (code, ADVERTISING) if Some(code) == latest => Planted::Over,
                ("CMP-WINBACK", CONTACT) => Planted::PastOverspend,
                _ => Planted::Normal,
            };
            let f = match planted {
                Planted::Over => 1.45,
                Planted::PastOverspend => 1.6,
                _ => rng.random_range(0.8..0.98),
            };
            let months = months
                .iter()
                .map(|first| {
                    let (from, to) = ((*first).max(start), month_end(*first).min(end));
                    let days = ((to - from).num_days() + 1).max(0) as f64;
                    let budget = (c.budget_yuan as f64 * share * days / c.length_days as f64)
                        .round() as i64
                        * 100;
                    (budget, (budget as f64 * f).round() as i64)
                })
                .collect();
            lines.push(Line {
                account,
                store: None,
                campaign: Some(c.code),
                planted,
                days: Some((start, end)),
                months,
            });
        }
    }
    lines
}

/// One voucher of the ledger.
struct Voucher {
    day: NaiveDate,
    line: usize,
    cents: i64,
    customer: Option<String>,
}

/// Splits each line's monthly spend into 2–6 vouchers on random days of the month (of the
/// campaign, for campaign lines), plus the double booking and its reversal on `reversed`
/// lines.
fn vouchers(
    rng: &mut ChaCha8Rng,
    lines: &[Line],
    months: &[NaiveDate],
    key_accounts: &[Vec<(NaiveDate, String)>],
    store_city: impl Fn(&str) -> usize,
) -> Vec<Voucher> {
    let mut out = Vec::new();
    for (l, line) in lines.iter().enumerate() {
        for (m, first) in months.iter().enumerate() {
            let (budget, spend) = line.months[m];
            let (from, to) = match line.days {
                Some((s, e)) => ((*first).max(s), month_end(*first).min(e)),
                None => (*first, month_end(*first).min(history_end())),
            };
            if spend <= 0 || from > to {
                continue;
            }
            let span = (to - from).num_days() + 1;
            let weights: Vec<f64> = (0..rng.random_range(2..=6))
                .map(|_| rng.random_range(0.5..1.5))
                .collect();
            let total: f64 = weights.iter().sum();
            let mut left = spend;
            for (k, w) in weights.iter().enumerate() {
                let cents = if k + 1 == weights.len() {
                    left
                } else {
                    (spend as f64 * w / total).round() as i64
                };
                left -= cents;
                let day = add_days(from, rng.random_range(0..span));
                let customer = match &line.store {
                    Some(store) if line.account == ENTERTAINMENT && rng.random_bool(0.4) => {
                        let known: Vec<&String> = key_accounts[store_city(store)]
                            .iter()
                            .filter(|(signup, _)| *signup <= day)
                            .map(|(_, crm)| crm)
                            .collect();
                        (!known.is_empty()).then(|| known[rng.random_range(0..known.len())].clone())
                    }
                    _ => None,
                };
                out.push(Voucher {
                    day,
                    line: l,
                    cents,
                    customer,
                });
            }
            if line.planted == Planted::Reversed && m + 2 == months.len() {
                let twice = (budget as f64 * 0.6).round() as i64;
                let day = add_days(from, rng.random_range(0..span.min(20)));
                for (cents, day) in [(twice, day), (-twice, add_days(day, 5))] {
                    out.push(Voucher {
                        day,
                        line: l,
                        cents,
                        customer: None,
                    });
                }
            }
        }
    }
    out.sort_by_key(|v| (v.day, v.line));
    out
}

/// Writes the expense ledger, the budget and the truth of night 1.
pub fn write(
    opts: &GenerateOptions,
    catalog: &Catalog,
    persons: &[&Person],
    out: &mut ExportSet,
) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xE5);
    let months = history_months(opts);
    let mut lines = store_lines(&mut rng, catalog, &months);
    lines.extend(campaign_lines(&mut rng, catalog, &months));
    lines.push(Line {
        account: ADVERTISING,
        store: None,
        campaign: None,
        planted: Planted::Normal,
        days: None,
        months: months
            .iter()
            .map(|_| {
                let budget = COMPANY_ADVERTISING * 100;
                (
                    budget,
                    (budget as f64 * rng.random_range(0.85..0.97)).round() as i64,
                )
            })
            .collect(),
    });
    // Key accounts per city: VIP and enterprise customers known to the CRM.
    let mut key_accounts = vec![Vec::new(); crate::catalog::CITIES.len()];
    for p in persons {
        if let (Some(crm), true) = (&p.crm_id, p.group == Group::Vip || p.enterprise) {
            key_accounts[p.city].push((p.signup, crm.clone()));
        }
    }
    let store_city = |code: &str| {
        catalog
            .stores
            .iter()
            .find(|s| s.code == code)
            .map_or(0, |s| s.city)
    };
    let ledger = vouchers(&mut rng, &lines, &months, &key_accounts, store_city);
    write_ledger(&mut rng, &lines, &ledger, out)?;
    write_budget(&lines, &months, out)?;
    write_truth(&lines, &months, out)
}

fn write_ledger(
    rng: &mut ChaCha8Rng,
    lines: &[Line],
    ledger: &[Voucher],
    out: &mut ExportSet,
) -> Result<()> {
    let mut f = out.csv(
        "finance",
        "expenses",
        &[
            "voucher_no",
            "booked_on",
            "account",
            "amount",
            "cost_centre",
            "customer_no",
            "campaign",
        ],
    )?;
    for (n, v) in ledger.iter().enumerate() {
        let line = &lines[v.line];
        let row = vec![
            format!("PZ{:07}", n + 1),
            v.day.format("%Y/%m/%d").to_string(),
            line.account.0.to_string(),
            cents_grouped(v.cents),
            line.store.clone().unwrap_or_default(),
            v.customer.clone().unwrap_or_default(),
            line.campaign.unwrap_or_default().to_string(),
        ];
        f.row(&row)?;
        if rng.random_bool(BAD_ROW_RATE) {
            write_bad(rng, &mut f, row, n)?;
        }
    }
    out.close(f)
}

/// A bad copy of voucher row `row` (the `n`th): a day that does not exist, no account, a
/// campaign nobody knows (each under a voucher number of its own), or an exact repeat.
fn write_bad(rng: &mut ChaCha8Rng, f: &mut Export, mut row: Vec<String>, n: usize) -> Result<()> {
    let reason = match rng.random_range(0..4) {
        0 => {
            row[1] = format!("{}/13/05", &row[1][..4]);
            "bad_value"
        }
        1 => {
            row[2] = String::new();
            "missing_value"
        }
        2 => {
            row[6] = "CMP-NOT-IN-MASTER".into();
            "unknown_campaign"
        }
        _ => "duplicate_row",
    };
    if reason != "duplicate_row" {
        row[0] = format!("PZX{:06}", n + 1);
    }
    f.bad_row(&row, reason)
}

fn write_budget(lines: &[Line], months: &[NaiveDate], out: &mut ExportSet) -> Result<()> {
    let mut f = out.csv(
        "finance",
        "expense_budget",
        &["month", "cost_centre", "campaign", "account", "budget"],
    )?;
    for (m, first) in months.iter().enumerate() {
        for line in lines {
            let (budget, _) = line.months[m];
            if budget <= 0 {
                continue;
            }
            f.row(&[
                first.format("%Y-%m").to_string(),
                line.store.clone().unwrap_or_default(),
                line.campaign.unwrap_or_default().to_string(),
                line.account.0.to_string(),
                cents_grouped(budget),
            ])?;
        }
    }
    out.close(f)
}

/// `truth/night-1/expenses.csv`: every budget line, what was planted on it, its budget and
/// planned spend over the last three months, and whether an alert on the last day is right.
fn write_truth(lines: &[Line], months: &[NaiveDate], out: &mut ExportSet) -> Result<()> {
    let mut t = out.truth(
        "expenses",
        &[
            "expense_type",
            "store",
            "campaign",
            "planted",
            "budget_last_3_months",
            "spend_last_3_months",
            "alert",
        ],
    )?;
    let recent = months.len().saturating_sub(3);
    for line in lines {
        let (budget, spend) = line.months[recent..]
            .iter()
            .fold((0, 0), |(b, s), (mb, ms)| (b + mb, s + ms));
        t.row(&[
            line.account.1.to_string(),
            line.store.clone().unwrap_or_default(),
            line.campaign.unwrap_or_default().to_string(),
            line.planted.name().to_string(),
            cents_grouped(budget),
            cents_grouped(spend),
            line.planted.alerts().to_string(),
        ])?;
    }
    t.finish()
}
