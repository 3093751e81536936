//! `acrm mine …` and `acrm alerts`: argument handling and printing around `acrm-mining`.

use std::path::PathBuf;

use acrm_mining::FeatureTable;
use acrm_mining::algo::kmeans::{KMeansParams, KMeansValidParams};
use acrm_mining::analysis::alerts::AlertOptions;
use acrm_mining::analysis::basket::source::{BasketQuery, BasketUnit, GroupBy, ItemLevel};
use acrm_mining::analysis::basket::{self, BasketOptions};
use acrm_mining::analysis::clv::{self, ClvOptions, HoldoutRow, Models};
use acrm_mining::analysis::dormant::{self, DormantOptions};
use acrm_mining::analysis::lifecycle::LifecycleOptions;
use acrm_mining::analysis::rfm::{self, Rfm};
use acrm_mining::analysis::segment::{self, K, SegmentOptions};
use acrm_mining::analysis::value::ValueOptions;
use acrm_mining::analysis::{alerts, features, lifecycle, value};
use acrm_olap::TableBuilder;
use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use datafusion::arrow::array::RecordBatch;

use crate::commands::publish::{Common, publish, publish_if};
use crate::output::{Format, print_batch, top};
use crate::progress;

/// The analyses.
#[derive(Subcommand, Debug)]
pub enum MineCommand {
    /// RFM scores (recency, frequency, monetary; quintiles 1-5) and named RFM segments.
    #[command(
        after_help = "Writes mart_rfm (one row per customer with purchases) unless --no-write.\nExamples:\n  acrm mine rfm\n  acrm mine rfm --as-of 2024-06-30 --format csv"
    )]
    Rfm {
        #[command(flatten)]
        common: Common,
    },
    /// k-means segmentation with segment profiles.
    #[command(
        after_help = "Writes mart_segment (customer → segment) and mart_segment_profile unless --no-write.\nExamples:\n  acrm mine segment                       (k chosen by silhouette, default features)\n  acrm mine segment --k 4 --features frequency,avg_unit_price,discount_rate\n  acrm mine segment --k 5 --sql \"SELECT customer_id, recency_days, monetary FROM mart_rfm\"\n  acrm mine segment --k 3 --input features.parquet --id-column id"
    )]
    Segment {
        /// Number of segments, or `auto` to pick 2..=--max-k by silhouette.
        #[arg(long, default_value = "auto")]
        k: String,
        /// Largest k tried by --k auto.
        #[arg(long, default_value_t = segment::DEFAULT_MAX_K)]
        max_k: usize,
        /// Comma-separated features [default: frequency, avg_order_value, lines_per_order,
        /// avg_unit_price, discount_rate: how a customer buys]
        #[arg(long, value_delimiter = ',')]
        features: Vec<String>,
        /// Segment the rows of this query instead of the built-in customer features.
        #[arg(long, conflicts_with = "input")]
        sql: Option<String>,
        /// Segment the rows of this CSV or Parquet file.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Id column of --sql / --input.
        #[arg(long, default_value = "customer_id")]
        id_column: String,
        /// Comma-separated features to log-scale [default: the skewed built-in ones]
        #[arg(long, value_delimiter = ',')]
        log: Option<Vec<String>>,
        /// Random seed (same seed and data → same segments).
        #[arg(long, default_value_t = KMeansValidParams::default().seed())]
        seed: u64,
        /// k-means restarts.
        #[arg(long, default_value_t = KMeansValidParams::default().n_init())]
        n_init: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Customer lifetime value from BG/NBD and Gamma-Gamma: P(alive), expected purchases and
    /// spend, discounted value per customer.
    #[command(
        after_help = "Writes mart_clv (one row per customer with purchases) and mart_clv_fit (the fitted\nparameters) unless --no-write. --format json prints the fit (and --holdout check); csv\nand the table print the customers, highest value first.\nModel and columns: crates/mining/src/analysis/clv.rs (also in README.md).\nExamples:\n  acrm mine clv\n  acrm mine clv --horizon-days 730 --monthly-discount 0.008 --holdout 180\n  acrm mine clv --input summaries.csv --format csv"
    )]
    Clv {
        /// Days after the as-of date that expected purchases and value cover.
        #[arg(long, default_value_t = ClvOptions::default().horizon_days)]
        horizon_days: u32,
        /// Discount rate per month of the value.
        #[arg(long, default_value_t = ClvOptions::default().monthly_discount)]
        monthly_discount: f64,
        /// Also check the models: fit as of --as-of minus DAYS, predict those DAYS, compare
        /// with the purchases made, by calibration frequency.
        #[arg(long, value_name = "DAYS", conflicts_with = "input")]
        holdout: Option<u32>,
        /// Fit and value the customers of this CSV or Parquet file instead (columns
        /// frequency, recency_days, age_days, avg_repeat_spend as in mart_clv); nothing is
        /// published.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Id column of --input.
        #[arg(long, default_value = "customer_id")]
        id_column: String,
        #[command(flatten)]
        common: Common,
    },
    /// Customer value tiers (most valuable, most growable, below zero), ABC class and CLV.
    #[command(
        after_help = "Writes mart_value_tier (one row per customer with purchases) unless --no-write.\nLifetime value from BG/NBD + Gamma-Gamma as `acrm mine clv` fits it.\nRules: crates/mining/src/analysis/value.rs (also in README.md).\nExamples:\n  acrm mine value\n  acrm mine value --cost-per-contact 80 --horizon-days 730"
    )]
    Value {
        /// Trailing window of orders and service contacts, in days.
        #[arg(long, default_value_t = ValueOptions::default().window_days)]
        window_days: u32,
        /// Cost of one service contact (warehouse currency).
        #[arg(long, default_value_t = ValueOptions::default().cost_per_contact)]
        cost_per_contact: f64,
        /// Days after the as-of date the lifetime value covers.
        #[arg(long, default_value_t = ClvOptions::default().horizon_days)]
        horizon_days: u32,
        /// Discount rate per month of the lifetime value.
        #[arg(long, default_value_t = ClvOptions::default().monthly_discount)]
        monthly_discount: f64,
        #[command(flatten)]
        common: Common,
    },
    /// Lifecycle stage per customer: prospect, new, growing, stable, declining, lost.
    #[command(
        after_help = "Writes mart_lifecycle (one row per known customer) unless --no-write.\nRules: crates/mining/src/analysis/lifecycle.rs (also in README.md).\nExample:\n  acrm mine lifecycle --as-of 2024-06-30"
    )]
    Lifecycle {
        /// Length of the recent and the previous window compared, in days.
        #[arg(long, default_value_t = LifecycleOptions::default().window_days)]
        window_days: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Dormant products: customers who bought a category regularly and stopped (for more
    /// than twice their own usual gap), still buying other things or not.
    #[command(
        after_help = "Writes mart_dormant_product (one row per dormant holding) unless --no-write.\nRule: crates/mining/src/analysis/dormant.rs (also in README.md).\nExamples:\n  acrm mine dormant\n  acrm mine dormant --level subcategory --gap-multiple 3 --format csv"
    )]
    Dormant {
        /// Product level of a holding.
        #[arg(long, value_enum, default_value = "category")]
        level: DormantLevel,
        /// Purchase days of the product that make a regular buyer (at least 2).
        #[arg(long, default_value_t = DormantOptions::default().min_purchases)]
        min_purchases: u32,
        /// Silence, in the customer's usual gaps, after which a holding is dormant.
        #[arg(long, default_value_t = DormantOptions::default().gap_multiple)]
        gap_multiple: f64,
        /// Least silence in days.
        #[arg(long, default_value_t = DormantOptions::default().min_days)]
        min_days: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Credit scoring: train, evaluate and apply decision trees (or logistic regression,
    /// forests) on credit applications; models are kept in the registry (`acrm models`).
    Credit {
        #[command(subcommand)]
        action: Box<crate::commands::models::CreditAction>,
    },
    /// Churn prediction: train and compare models on a time-based holdout, score active
    /// customers with reasons.
    Churn {
        #[command(subcommand)]
        action: Box<crate::commands::models::ChurnAction>,
    },
    /// Campaign response propensity: train on earlier campaigns' contacts (features as of
    /// each start), evaluate with lift by decile, score every customer.
    Response {
        #[command(subcommand)]
        action: Box<crate::commands::models::ResponseAction>,
    },
    /// Model stability: PSI of each champion's score and CSI of its inputs between its
    /// training rows and the population it scores now, with model_drift alerts.
    #[command(
        after_help = "Writes mart_model_monitoring unless --no-write (or --input / --sql, which are printed only).\nPopulations: credit applications of the last --window-days; churn's active customers as of --as-of.\nExamples:\n  acrm mine monitor\n  acrm mine monitor --task credit --window-days 180 --warn 0.05 --act 0.2\n  acrm mine monitor --task churn --sql \"SELECT * FROM churn_features\" --format csv"
    )]
    Monitor(Box<crate::commands::monitor::MonitorArgs>),
    /// Market-basket analysis: frequent itemsets (FP-Growth) and association rules.
    #[command(
        after_help = "Writes mart_basket_rules (every rule, items by name) unless --no-write.\nExamples:\n  acrm mine basket --level subcategory --min-support 0.005 --min-confidence 0.2\n  acrm mine basket --unit customer-day --from 2024-01-01 --as-of 2024-06-30\n  acrm mine basket --input groceries.csv --lines --min-support 0.01   (printed, not published)"
    )]
    Basket {
        /// `recommend`: cross-sell recommendations instead of the rules.
        #[command(subcommand)]
        action: Option<Box<BasketAction>>,
        #[command(flatten)]
        args: Box<BasketArgs>,
    },
}

/// Flags of `acrm mine basket` and `acrm mine basket recommend`.
#[derive(Args, Debug)]
pub struct BasketArgs {
    /// Item level of warehouse baskets.
    #[arg(long, value_enum, default_value = "subcategory")]
    level: Level,
    /// What one warehouse basket is.
    #[arg(long, value_enum, default_value = "order")]
    unit: Unit,
    /// First day of the period (the last is --as-of) [default: all history]
    #[arg(long, value_name = "DATE")]
    from: Option<NaiveDate>,
    /// Mine rules separately per customer segment (mart_segment), sales channel or
    /// customer region.
    #[arg(long, value_enum)]
    by: Option<By>,
    /// Only the customers this SQL query returns (first column: customer ids).
    #[arg(long, value_name = "SQL", conflicts_with = "input")]
    customers: Option<String>,
    /// Baskets of this file instead: basket,item pairs with a header, or with --lines
    /// one basket per line (items separated by commas).
    #[arg(long)]
    input: Option<PathBuf>,
    /// --input holds one basket per line.
    #[arg(long, requires = "input")]
    lines: bool,
    /// Also publish the rules of --input as mart_basket_rules (a file's rules are printed
    /// only, unless asked).
    #[arg(long, requires = "input", conflicts_with = "no_write")]
    publish: bool,
    /// Minimum support: a fraction of the baskets (0.01) or a basket count (25).
    #[arg(long, default_value_t = BasketOptions::DEFAULT.min_support)]
    min_support: f64,
    /// Minimum confidence of a rule.
    #[arg(long, default_value_t = BasketOptions::DEFAULT.min_confidence)]
    min_confidence: f64,
    /// Minimum lift of a rule.
    #[arg(long, default_value_t = BasketOptions::DEFAULT.min_lift)]
    min_lift: f64,
    /// Longest itemset.
    #[arg(long, default_value_t = BasketOptions::DEFAULT.max_len)]
    max_len: usize,
    /// Stop past this many frequent itemsets (thresholds too low).
    #[arg(long, default_value_t = BasketOptions::DEFAULT.max_itemsets)]
    max_itemsets: usize,
    /// Print the frequent itemsets (items, count, support) instead of the rules.
    #[arg(long)]
    itemsets: bool,
    #[command(flatten)]
    common: Common,
}

/// Sub-actions of `acrm mine basket`.
#[derive(Subcommand, Debug)]
pub enum BasketAction {
    /// Cross-sell: each customer's top products not bought yet, from the rules that fire on
    /// their purchase history, with the rule as the reason (→ mart_cross_sell).
    #[command(
        after_help = "Examples:\n  acrm mine basket recommend --customer 42 --no-write\n  acrm mine basket recommend --level product --unit customer --min-support 0.05"
    )]
    Recommend {
        /// Only this customer (printed; not published).
        #[arg(long)]
        customer: Option<i64>,
        /// Recommendations per customer.
        #[arg(long, default_value_t = BasketOptions::DEFAULT.top_n)]
        top_n: usize,
        #[command(flatten)]
        args: BasketArgs,
    },
}

/// `--level` of `acrm mine basket`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Level {
    /// Product (SKU).
    Product,
    /// Product subcategory.
    Subcategory,
    /// Product category.
    Category,
}

/// `--by` of `acrm mine basket`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum By {
    /// The customer's k-means segment.
    Segment,
    /// The sales channel.
    Channel,
    /// The customer's region.
    Region,
}

/// `--unit` of `acrm mine basket`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Unit {
    /// One order.
    Order,
    /// One customer's purchases of one day.
    CustomerDay,
    /// One customer's purchases of the whole period.
    Customer,
}

/// Runs `acrm mine …`.
pub fn run(cmd: MineCommand) -> anyhow::Result<()> {
    match cmd {
        MineCommand::Rfm { common } => rfm(common),
        MineCommand::Segment {
            k,
            max_k,
            features,
            sql,
            input,
            id_column,
            log,
            seed,
            n_init,
            common,
        } => {
            let k = match k.as_str() {
                "auto" => K::Auto { max: max_k },
                n => K::Fixed(
                    n.parse()
                        .with_context(|| format!("--k {n}: a number or 'auto'"))?,
                ),
            };
            let kmeans = KMeansParams::default().seed(seed).n_init(n_init);
            let source = match (sql, input) {
                (Some(q), _) => Source::Sql(q),
                (None, Some(path)) => Source::File(path),
                (None, None) => Source::Customers,
            };
            segment_cmd(&common, source, &id_column, features, log, k, kmeans)
        }
        MineCommand::Value {
            window_days,
            cost_per_contact,
            horizon_days,
            monthly_discount,
            common,
        } => value(
            common,
            ValueOptions {
                window_days,
                cost_per_contact,
                ..ValueOptions::default()
            },
            ClvOptions {
                horizon_days,
                monthly_discount,
            },
        ),
        MineCommand::Clv {
            horizon_days,
            monthly_discount,
            holdout,
            input,
            id_column,
            common,
        } => lifetime_value(
            common,
            ClvOptions {
                horizon_days,
                monthly_discount,
            },
            holdout,
            input.map(|path| (path, id_column)),
        ),
        MineCommand::Lifecycle {
            window_days,
            common,
        } => lifecycle(
            common,
            LifecycleOptions {
                window_days,
                ..LifecycleOptions::default()
            },
        ),
        MineCommand::Dormant {
            level,
            min_purchases,
            gap_multiple,
            min_days,
            common,
        } => dormant(
            common,
            DormantOptions {
                level: match level {
                    DormantLevel::Category => dormant::Level::Category,
                    DormantLevel::Subcategory => dormant::Level::Subcategory,
                },
                min_purchases,
                gap_multiple,
                min_days,
            },
        ),
        MineCommand::Credit { action } => crate::commands::models::credit(*action),
        MineCommand::Monitor(args) => crate::commands::monitor::run(*args),
        MineCommand::Churn { action } => crate::commands::models::churn(*action),
        MineCommand::Response { action } => crate::commands::models::response(*action),
        MineCommand::Basket { action, args } => match action.map(|a| *a) {
            None => basket(&args),
            Some(BasketAction::Recommend {
                customer,
                top_n,
                args,
            }) => recommend(&args, customer, top_n),
        },
    }
}

/// Where `acrm mine basket` takes its baskets.
enum BasketSource {
    /// Sales lines of the warehouse.
    Warehouse(BasketQuery),
    /// A file.
    File {
        /// The file.
        path: PathBuf,
        /// One basket per line.
        lines: bool,
    },
}

impl BasketArgs {
    /// Where the baskets come from.
    fn source(&self) -> BasketSource {
        match &self.input {
            Some(path) => BasketSource::File {
                path: path.clone(),
                lines: self.lines,
            },
            None => BasketSource::Warehouse(BasketQuery {
                by: self.by.map(|b| match b {
                    By::Segment => GroupBy::Segment,
                    By::Channel => GroupBy::Channel,
                    By::Region => GroupBy::Region,
                }),
                customers: self.customers.clone(),
                unit: match self.unit {
                    Unit::Order => BasketUnit::Order,
                    Unit::CustomerDay => BasketUnit::CustomerDay,
                    Unit::Customer => BasketUnit::Customer,
                },
                level: match self.level {
                    Level::Product => ItemLevel::Product,
                    Level::Subcategory => ItemLevel::Subcategory,
                    Level::Category => ItemLevel::Category,
                },
                from: self.from,
                to: self.common.as_of,
            }),
        }
    }

    /// Frequent itemsets and rules of every group of baskets (`engine` is the warehouse,
    /// needed unless the baskets come from --input).
    fn mine(
        &self,
        rt: &&'static tokio::runtime::Runtime,
        engine: Option<&acrm_olap::Engine>,
    ) -> anyhow::Result<Vec<basket::GroupResult>> {
        let groups = match (self.source(), engine) {
            (BasketSource::Warehouse(q), Some(engine)) => {
                rt.block_on(basket::source::warehouse_baskets(engine, &q))?
            }
            (BasketSource::Warehouse(_), None) => bail!("no warehouse open"),
            (BasketSource::File { path, lines }, _) => vec![(
                "all".to_string(),
                rt.block_on(basket::source::file_baskets(&path, lines))?,
            )],
        };
        let options = BasketOptions {
            min_support: self.min_support,
            min_confidence: self.min_confidence,
            min_lift: self.min_lift,
            max_len: self.max_len,
            max_itemsets: self.max_itemsets,
            ..BasketOptions::DEFAULT
        };
        Ok(options.mine(groups)?)
    }
}

fn basket(args: &BasketArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let rt = crate::context::runtime()?;
    let engine = match args.input {
        Some(_) => None,
        None => Some(common.engine.open(rt)?),
    };
    let results = {
        let _working = progress::working("mining baskets");
        args.mine(&rt, engine.as_ref())?
    };
    let schema_of = |b: &[RecordBatch]| b.first().map(|b| b.schema());
    let rules: Vec<RecordBatch> = results
        .iter()
        .map(basket::GroupResult::rules_batch)
        .collect::<Result<_, _>>()?;
    let rules = match schema_of(&rules) {
        Some(schema) => datafusion::arrow::compute::concat_batches(&schema, &rules)?,
        None => bail!("no baskets to analyse"),
    };
    match (args.itemsets, common.format) {
        (true, format) => {
            let sets: Vec<RecordBatch> = results
                .iter()
                .map(basket::GroupResult::itemsets_batch)
                .collect::<Result<_, _>>()?;
            if let Some(schema) = schema_of(&sets) {
                let all = datafusion::arrow::compute::concat_batches(&schema, &sets)?;
                print_batch(&all, format)?;
            }
        }
        (false, Format::Table) => {
            for g in &results {
                outln!(
                    "{}{} baskets, {} items; {} frequent itemsets (support ≥ {} baskets), {} rules in {:.2} s",
                    if results.len() > 1 {
                        format!("[{}] ", g.group)
                    } else {
                        String::new()
                    },
                    g.tx.len(),
                    g.tx.items.len(),
                    g.itemsets.len(),
                    g.min_count,
                    g.rules.len(),
                    g.seconds
                );
                let shown = top().unwrap_or(usize::MAX).min(g.rules.len());
                for r in &g.rules[..shown] {
                    outln!(
                        "  {{{}}} → {{{}}}  support {:.2}%  confidence {:.1}%  lift {:.2}  ({} of {} baskets)",
                        basket::names(&g.tx, &r.antecedent),
                        basket::names(&g.tx, &r.consequent),
                        100.0 * r.support,
                        100.0 * r.confidence,
                        r.lift,
                        r.count,
                        r.antecedent_count
                    );
                }
                if shown < g.rules.len() {
                    outln!(
                        "  … {} more rules (use --top N, or --format csv for all)",
                        g.rules.len() - shown
                    );
                }
            }
        }
        (false, format) => print_batch(&rules, format)?,
    }
    // A file's rules are not the warehouse's: published only when --publish asks.
    let write = !common.no_write && (args.input.is_none() || args.publish);
    publish_if(common, &basket::ANALYSIS, vec![rules], write)
}

fn recommend(args: &BasketArgs, customer: Option<i64>, top_n: usize) -> anyhow::Result<()> {
    let BasketSource::Warehouse(mut q) = args.source() else {
        bail!("recommendations need the warehouse's customers: drop --input");
    };
    if args.by.is_some() {
        bail!("recommendations use one rule set: drop --by");
    }
    let rt = crate::context::runtime()?;
    let engine = args.common.engine.open(rt)?;
    let results = args.mine(&rt, Some(&engine))?;
    let all = &results[0];
    if let Some(id) = customer {
        q.customers = Some(format!("SELECT {id}"));
    }
    let histories = rt.block_on(basket::source::customer_histories(&engine, &q))?;
    let recs = basket::recommend::recommend(&all.rules, &all.tx, &histories, top_n);
    let table = basket::recommend::recommendations_batch(&recs)?;
    if args.common.format == Format::Table {
        outln!(
            "{} recommendations for {} customers from {} rules",
            recs.len(),
            histories.len(),
            all.rules.len()
        );
    }
    print_batch(&table, args.common.format)?;
    if customer.is_some() {
        return Ok(());
    }
    publish(&args.common, &basket::recommend::ANALYSIS, vec![table])
}

/// Flags of `acrm alerts`.
#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// Pace window of the plan and purchase-drop checks, in days.
    #[arg(long, default_value_t = AlertOptions::default().window_days)]
    window_days: u32,
    /// Actual / planned revenue under which a customer is below plan.
    #[arg(long, default_value_t = AlertOptions::default().plan_ratio)]
    plan_ratio: f64,
    /// Chance of the observed silence under which a customer is at churn risk.
    #[arg(long, default_value_t = AlertOptions::default().churn_probability)]
    churn_probability: f64,
    /// Spent / budgeted over the window above which a budget line is over budget.
    #[arg(long, default_value_t = AlertOptions::default().budget_ratio)]
    budget_ratio: f64,
    #[command(flatten)]
    common: Common,
}

/// Runs `acrm alerts`.
pub fn alerts(args: AlertsArgs) -> anyhow::Result<()> {
    let AlertsArgs {
        window_days,
        plan_ratio,
        churn_probability,
        budget_ratio,
        mut common,
    } = args;
    let options = AlertOptions {
        window_days,
        plan_ratio,
        churn_probability,
        budget_ratio,
    };
    let (rt, engine, as_of) = open_at(&common)?;
    let found = {
        let _working = progress::working("checking the alert rules");
        rt.block_on(alerts::alerts(&engine, as_of, &options))?
    };
    // The chart shows the alerts over the last 12 month ends, not only today's.
    if let Some(path) = common.chart.take() {
        let history = {
            let _working = progress::working("alerts at each of the last 12 month ends");
            rt.block_on(alerts::history(&engine, as_of, 12, &options))?
        };
        let history: Vec<(String, Vec<(String, f64)>)> = history
            .into_iter()
            .map(|(date, counts)| {
                let counts = counts
                    .into_iter()
                    .map(|(k, n)| (k.to_string(), n as f64))
                    .collect();
                (date.to_string(), counts)
            })
            .collect();
        acrm_report::figures::alerts_over_time(&history).save(&path)?;
        eprintln!("chart written to {}", path.display());
    }
    let batch = found.to_batch()?;
    if common.format == Format::Table {
        let counts: Vec<String> = found
            .counts()
            .iter()
            .map(|(kind, severity, n)| format!("{kind} {severity} {n}"))
            .collect();
        outln!(
            "{} alerts as of {as_of}: {}",
            found.alerts.len(),
            if counts.is_empty() {
                "none".into()
            } else {
                counts.join(", ")
            }
        );
    }
    print_batch(&batch, common.format)?;
    publish(&common, &alerts::ANALYSIS, vec![batch])
}

fn value(common: Common, options: ValueOptions, lifetime: ClvOptions) -> anyhow::Result<()> {
    let (rt, engine, as_of) = open_at(&common)?;
    let v = {
        let _working = progress::working("valuing customers");
        let lifetime = rt.block_on(clv::clv(&engine, as_of, &lifetime))?;
        rt.block_on(value::value_tiers(&engine, &options, &lifetime))?
    };
    let summary = v.summary();
    if common.format == Format::Table {
        outln!(
            "value tiers as of {as_of}: {} customers; lifetime value of the next {} days at {}% a month (BG/NBD + Gamma-Gamma)",
            v.customer_id.len(),
            lifetime.horizon_days,
            100.0 * lifetime.monthly_discount,
        );
    }
    let table = TableBuilder::new()
        .utf8("tier", &summary.iter().map(|t| t.tier).collect::<Vec<_>>())
        .i64(
            "customers",
            summary.iter().map(|t| t.customers as i64).collect(),
        )
        .share(
            "customer_share",
            summary.iter().map(|t| t.customer_share).collect(),
        )
        .money("net_value", summary.iter().map(|t| t.net_value).collect())
        .share(
            "net_value_share",
            summary.iter().map(|t| t.net_value_share).collect(),
        )
        .share(
            "revenue_share",
            summary.iter().map(|t| t.revenue_share).collect(),
        )
        .share(
            "potential_share",
            summary.iter().map(|t| t.potential_share).collect(),
        )
        .money("mean_clv", summary.iter().map(|t| t.mean_clv).collect())
        .finish::<anyhow::Error>()?;
    print_batch(&table, common.format)?;
    publish(&common, &value::ANALYSIS, vec![v.to_batch()?])
}

/// `acrm mine clv`: fits the models on the warehouse's customers as of the date (or on a
/// file's summaries), prints the fit or the customers, and publishes both marts.
fn lifetime_value(
    common: Common,
    options: ClvOptions,
    holdout: Option<u32>,
    input: Option<(PathBuf, String)>,
) -> anyhow::Result<()> {
    let rt = crate::context::runtime()?;
    let (c, engine) = match &input {
        Some((path, id)) => {
            let table = rt.block_on(features::read_file(path, id))?;
            let as_of = common
                .as_of
                .unwrap_or_else(|| chrono::Utc::now().date_naive());
            let _working = progress::working("fitting BG/NBD and Gamma-Gamma");
            (clv::value(&table, as_of, &options)?, None)
        }
        None => {
            let (rt, engine, as_of) = open_at(&common)?;
            let _working = progress::working("fitting BG/NBD and Gamma-Gamma");
            (
                rt.block_on(clv::clv(&engine, as_of, &options))?,
                Some(engine),
            )
        }
    };
    let check = match (holdout, &engine) {
        (Some(days), Some(engine)) => {
            let _working = progress::working("checking the models on a holdout");
            Some(rt.block_on(clv::holdout(engine, c.as_of, days))?)
        }
        _ => None,
    };
    if common.format == Format::Json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&fit_json(&c, check.as_ref()))?
        );
    } else {
        if common.format == Format::Table {
            print_fit(&c)?;
            if let Some((models, rows)) = &check {
                print_holdout(models, rows, holdout.unwrap_or_default())?;
            }
            outln!("\ncustomers, highest value first:");
        }
        print_batch(&by_value(&c.customers_batch()?, &c.clv)?, common.format)?;
    }
    if input.is_some() {
        return Ok(());
    }
    publish(
        &common,
        &clv::ANALYSIS,
        vec![c.customers_batch()?, c.fit_batch()?],
    )
}

/// The rows of `batch` in descending order of `values`.
fn by_value(batch: &RecordBatch, values: &[f64]) -> anyhow::Result<RecordBatch> {
    let mut order: Vec<u32> = (0..values.len() as u32).collect();
    order.sort_by(|&a, &b| values[b as usize].total_cmp(&values[a as usize]));
    let indices = datafusion::arrow::array::UInt32Array::from(order);
    Ok(datafusion::arrow::compute::take_record_batch(
        batch, &indices,
    )?)
}

/// What `--format json` prints: the date, horizon, both fits and the holdout check.
fn fit_json(c: &clv::Clv, check: Option<&(Models, Vec<HoldoutRow>)>) -> serde_json::Value {
    let m = &c.models;
    serde_json::json!({
        "as_of": c.as_of.to_string(),
        "customers": c.customer_id.len(),
        "horizon_days": c.options.horizon_days,
        "monthly_discount": c.options.monthly_discount,
        "fit_seconds": m.fit_seconds,
        "bg_nbd": { "parameters": m.bgnbd, "fit": m.bgnbd_fit },
        "gamma_gamma": { "parameters": m.gamma_gamma, "fit": m.gamma_gamma_fit },
        "warning": m.spend_warning(),
        "total_clv": c.clv.iter().sum::<f64>(),
        "holdout": check.map(|(models, rows)| serde_json::json!({
            "bg_nbd": models.bgnbd,
            "lines": rows,
        })),
    })
}

/// The fit in words.
fn print_fit(c: &clv::Clv) -> anyhow::Result<()> {
    let m = &c.models;
    outln!(
        "lifetime value as of {}: {} customers, horizon {} days, {}% discount a month (fitted in {:.2} s)",
        c.as_of,
        c.customer_id.len(),
        c.options.horizon_days,
        100.0 * c.options.monthly_discount,
        m.fit_seconds
    );
    let b = &m.bgnbd;
    outln!(
        "BG/NBD: r {:.4}, alpha {:.4} days, a {:.4}, b {:.4} (log-likelihood {:.2}, {} customers)",
        b.r,
        b.alpha,
        b.a,
        b.b,
        m.bgnbd_fit.log_likelihood,
        m.bgnbd_fit.customers
    );
    let g = &m.gamma_gamma;
    outln!(
        "Gamma-Gamma: p {:.4}, q {:.4}, gamma {:.4} (log-likelihood {:.2}, {} customers with repeat purchases)",
        g.p,
        g.q,
        g.gamma,
        m.gamma_gamma_fit.log_likelihood,
        m.gamma_gamma_fit.customers
    );
    if let Some(warning) = m.spend_warning() {
        outln!("warning: {warning}");
    }
    let alive = c.p_alive.iter().sum::<f64>();
    outln!(
        "expected alive: {:.0} customers; expected purchase days in the horizon: {:.0}; total value {:.2}",
        alive,
        c.expected_purchases.iter().sum::<f64>(),
        c.clv.iter().sum::<f64>()
    );
    Ok(())
}

/// The holdout check as a table.
fn print_holdout(models: &Models, rows: &[HoldoutRow], days: u32) -> anyhow::Result<()> {
    outln!(
        "\nholdout: fitted {days} days earlier (r {:.4}, alpha {:.4}, a {:.4}, b {:.4}); purchase days in those {days} days by calibration frequency:",
        models.bgnbd.r,
        models.bgnbd.alpha,
        models.bgnbd.a,
        models.bgnbd.b
    );
    let table = TableBuilder::new()
        .utf8(
            "frequency",
            &rows
                .iter()
                .map(|r| r.frequency.as_str())
                .collect::<Vec<_>>(),
        )
        .i64(
            "customers",
            rows.iter().map(|r| r.customers as i64).collect(),
        )
        .f64("predicted", rows.iter().map(|r| r.predicted).collect())
        .f64("actual", rows.iter().map(|r| r.actual).collect())
        .finish::<anyhow::Error>()?;
    print_batch(&table, Format::Table)
}

fn lifecycle(common: Common, options: LifecycleOptions) -> anyhow::Result<()> {
    let (rt, engine, as_of) = open_at(&common)?;
    let l = {
        let _working = progress::working("placing customers in their lifecycle");
        rt.block_on(lifecycle::lifecycle(&engine, as_of, &options))?
    };
    let counts = l.counts();
    if common.format == Format::Table {
        outln!(
            "lifecycle stages as of {as_of}: {} customers; {}",
            l.customer_id.len(),
            match &l.model {
                Ok(_) => format!(
                    "recent purchases against BG/NBD's expectation as of {} days earlier",
                    options.window_days
                ),
                Err(why) => format!("no trends read (no BG/NBD model: {why})"),
            }
        );
    }
    let n = l.customer_id.len().max(1) as f64;
    let table = TableBuilder::new()
        .utf8("stage", &counts.iter().map(|c| c.0).collect::<Vec<_>>())
        .i64("customers", counts.iter().map(|c| c.1 as i64).collect())
        .share("share", counts.iter().map(|c| c.1 as f64 / n).collect())
        .finish::<anyhow::Error>()?;
    print_batch(&table, common.format)?;
    publish(&common, &lifecycle::ANALYSIS, vec![l.to_batch()?])
}

/// Product level of `acrm mine dormant`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum DormantLevel {
    /// dim_product.category.
    Category,
    /// dim_product.subcategory.
    Subcategory,
}

fn dormant(common: Common, options: DormantOptions) -> anyhow::Result<()> {
    let (rt, engine, as_of) = open_at(&common)?;
    let held = {
        let _working = progress::working("reading each customer's rhythm per product");
        rt.block_on(dormant::dormant(&engine, as_of, &options))?
    };
    let batch = dormant::to_batch(as_of, &held, options.level)?;
    if common.format == Format::Table {
        let still = held.iter().filter(|h| h.still_buying).count();
        outln!(
            "{} dormant holdings as of {as_of}, {} of them of customers still buying other things",
            held.len(),
            still
        );
    }
    print_batch(&batch, common.format)?;
    publish(&common, &dormant::ANALYSIS, vec![batch])
}

/// Opens the engine and resolves --as-of (default: the last sale in the warehouse).
pub(crate) fn open_at(
    common: &Common,
) -> anyhow::Result<(
    &'static tokio::runtime::Runtime,
    acrm_olap::Engine,
    NaiveDate,
)> {
    let (rt, engine) = open(common)?;
    let as_of = match common.as_of {
        Some(d) => d,
        None => rt.block_on(features::last_fact_date(&engine))?,
    };
    Ok((rt, engine, as_of))
}

/// Opens the engine.
fn open(common: &Common) -> anyhow::Result<(&'static tokio::runtime::Runtime, acrm_olap::Engine)> {
    let rt = crate::context::runtime()?;
    let engine = common.engine.open(rt)?;
    Ok((rt, engine))
}

/// The built-in features of every buyer as of --as-of (default: the last sale).
fn customer_features(common: &Common) -> anyhow::Result<(FeatureTable, NaiveDate)> {
    let (rt, engine, as_of) = open_at(common)?;
    let _working = progress::working("computing customer features");
    Ok((
        rt.block_on(features::customer_features(&engine, as_of))?,
        as_of,
    ))
}

fn rfm(common: Common) -> anyhow::Result<()> {
    let (table, as_of) = customer_features(&common)?;
    let scored = Rfm::score(&table, as_of)?;
    let summary = scored.summary();
    if common.format == Format::Table {
        outln!(
            "RFM as of {as_of}: {} customers with purchases",
            scored.customer_id.len()
        );
    }
    let column = |f: fn(&rfm::SegmentSummary) -> f64| summary.iter().map(f).collect::<Vec<_>>();
    let table = TableBuilder::new()
        .utf8(
            "segment",
            &summary.iter().map(|s| s.segment).collect::<Vec<_>>(),
        )
        .i64(
            "customers",
            summary.iter().map(|s| s.customers as i64).collect(),
        )
        .share("customer_share", column(|s| s.customer_share))
        .share("revenue_share", column(|s| s.revenue_share))
        .f64("mean_recency_days", column(|s| s.mean_recency_days))
        .f64("mean_orders", column(|s| s.mean_frequency))
        .money("mean_monetary", column(|s| s.mean_monetary))
        .finish::<anyhow::Error>()?;
    print_batch(&table, common.format)?;
    publish(&common, &rfm::ANALYSIS, vec![scored.to_batch()?])
}

/// What `acrm mine segment` clusters.
enum Source {
    /// The built-in customer features.
    Customers,
    /// The rows of a query.
    Sql(String),
    /// The rows of a CSV or Parquet file.
    File(PathBuf),
}

fn segment_cmd(
    common: &Common,
    source: Source,
    id_column: &str,
    chosen: Vec<String>,
    log: Option<Vec<String>>,
    k: K,
    kmeans: KMeansParams,
) -> anyhow::Result<()> {
    let to_strings = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // The built-in features come with a default choice and log scaling; other tables are
    // clustered on all their columns, unscaled by log unless --log says so.
    let (table, default_features, default_log) = match source {
        Source::Customers => (
            customer_features(common)?.0,
            Some(to_strings(segment::DEFAULT_FEATURES)),
            to_strings(segment::LOG_FEATURES),
        ),
        Source::Sql(q) => {
            let (rt, engine) = open(common)?;
            let (_, batches) = rt.block_on(engine.query(&q))?;
            (
                FeatureTable::from_batches(&batches, id_column)?,
                None,
                vec![],
            )
        }
        Source::File(path) => (
            crate::context::runtime()?.block_on(features::read_file(&path, id_column))?,
            None,
            vec![],
        ),
    };
    if table.is_empty() {
        bail!("no rows to segment");
    }
    let cluster_on = if chosen.is_empty() {
        default_features.unwrap_or_else(|| table.names.clone())
    } else {
        chosen
    };
    let options = SegmentOptions {
        k,
        log_features: log.unwrap_or(default_log),
        kmeans,
    };
    let s = {
        let _working = progress::working("clustering customers");
        segment::segment(&table, &cluster_on, &options)?
    };
    report_segments(common, &table, s)
}

fn report_segments(
    common: &Common,
    table: &FeatureTable,
    s: segment::Segmentation,
) -> anyhow::Result<()> {
    match common.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "features": s.features,
                "clustered_on": s.clustered_on,
                "customers": table.len(),
                "inertia": s.inertia,
                "fit_seconds": s.fit_seconds,
                "silhouette_curve": s.curve,
                "segments": s.profiles,
            }))?
        ),
        Format::Csv => {
            // Full precision, as every CSV: a mean is written as the float it is.
            outln!(
                "segment,name,size,share,revenue_share,{},distinguishing",
                s.features.join(",")
            );
            for p in &s.profiles {
                let means: Vec<String> = p.means.iter().map(f64::to_string).collect();
                outln!(
                    "{},\"{}\",{},{},{},{},\"{}\"",
                    p.segment,
                    p.name,
                    p.size,
                    p.share,
                    p.revenue_share.map(|r| r.to_string()).unwrap_or_default(),
                    means.join(","),
                    p.distinguishing.join(", ")
                );
            }
        }
        _ => {
            if !s.curve.is_empty() {
                outln!(
                    "k chosen by silhouette (higher is better separated; Calinski–Harabasz beside it, and the inertia whose elbow some read):"
                );
                for c in &s.curve {
                    outln!(
                        "  k = {:<3} silhouette {:.3}  Calinski–Harabasz {:>8.1}  inertia {:.1}",
                        c.k,
                        c.silhouette,
                        c.calinski_harabasz,
                        c.inertia
                    );
                }
            }
            outln!(
                "{} segments of {} customers on {} (inertia {:.1})",
                s.profiles.len(),
                table.len(),
                s.clustered_on.join(", "),
                s.inertia
            );
            for p in &s.profiles {
                let revenue = p
                    .revenue_share
                    .map(|r| format!(", {:.1}% of revenue", 100.0 * r))
                    .unwrap_or_default();
                outln!(
                    "segment {} «{}»: {} customers ({:.1}%{revenue}) — {}",
                    p.segment,
                    p.name,
                    p.size,
                    100.0 * p.share,
                    if p.distinguishing.is_empty() {
                        "close to the average customer".to_string()
                    } else {
                        p.distinguishing.join(", ")
                    }
                );
            }
            out!("{:<18}", "mean of");
            for p in &s.profiles {
                out!(" {:>12}", format!("segment {}", p.segment));
            }
            outln!();
            for (j, f) in s.features.iter().enumerate() {
                out!("{f:<18}");
                for p in &s.profiles {
                    out!(" {:>12.2}", p.means[j]);
                }
                outln!();
            }
        }
    }
    publish(
        common,
        &segment::ANALYSIS,
        vec![s.segment_batch()?, s.profile_batch()?],
    )
}
