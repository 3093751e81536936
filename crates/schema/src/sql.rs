//! The SQL compiled into the binary: the semantic views and the named reports of
//! `warehouse-schema/`.

/// The semantic views of `warehouse-schema/views/` as compiled into this binary: (name, SQL).
/// Each file is one SELECT over the published tables (and earlier views), registered by the
/// OLAP layer under its file name, in this order. A column read unchanged from a table keeps
/// that table's description and PII flag in `acrm describe`; a computed one is described by
/// the `-- comment` closing the line that selects it.
pub const VIEWS: [(&str, &str); 3] = [
    (
        "sales_cube",
        include_str!("../../../warehouse-schema/views/sales_cube.sql"),
    ),
    (
        "campaign_cube",
        include_str!("../../../warehouse-schema/views/campaign_cube.sql"),
    ),
    (
        "customer_360",
        include_str!("../../../warehouse-schema/views/customer_360.sql"),
    ),
];

/// The named reports of `warehouse-schema/reports/` as compiled into this binary: (name, SQL).
/// Each file opens with a `--` comment line describing it; users add their own as `.sql`
/// files in a reports folder (see `acrm report --help`), no code needed.
pub const REPORTS: [(&str, &str); 10] = [
    (
        "sales_rollup",
        include_str!("../../../warehouse-schema/reports/sales_rollup.sql"),
    ),
    (
        "channel_cube",
        include_str!("../../../warehouse-schema/reports/channel_cube.sql"),
    ),
    (
        "top_customers",
        include_str!("../../../warehouse-schema/reports/top_customers.sql"),
    ),
    (
        "new_vs_returning",
        include_str!("../../../warehouse-schema/reports/new_vs_returning.sql"),
    ),
    (
        "campaign_response",
        include_str!("../../../warehouse-schema/reports/campaign_response.sql"),
    ),
    (
        "complaints_by_channel",
        include_str!("../../../warehouse-schema/reports/complaints_by_channel.sql"),
    ),
    (
        "receivables_ageing",
        include_str!("../../../warehouse-schema/reports/receivables_ageing.sql"),
    ),
    (
        "cohort_retention",
        include_str!("../../../warehouse-schema/reports/cohort_retention.sql"),
    ),
    (
        "expenses_vs_budget",
        include_str!("../../../warehouse-schema/reports/expenses_vs_budget.sql"),
    ),
    (
        "product_holding",
        include_str!("../../../warehouse-schema/reports/product_holding.sql"),
    ),
];
