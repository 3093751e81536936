//! The mapping config (`acrm.toml`) that loads the generated exports: also the worked
//! example of the config format, since every convention of the sources is mapped here.

/// The config text, with the warehouse at `warehouse_path` (relative to the config) and the
/// ledger's accounts mapped to expense types as the generator writes them.
pub fn render(warehouse_path: &str) -> String {
    let expense_types: String = crate::expenses::ACCOUNTS
        .iter()
        .map(|(ledger, code)| format!("\"{ledger}\" = \"{code}\"\n"))
        .collect();
    TEMPLATE
        .replace("{warehouse_path}", warehouse_path)
        .replace("{expense_types}", &expense_types)
}

const TEMPLATE: &str = r#"# acrm source mapping for the synthetic exports written by `acrm generate`.
# Paths are relative to this file. Reference: warehouse-schema/README.md (canonical fields)
# and README.md ("Mapping config").

[warehouse]
path = "{warehouse_path}"
keep_versions = 3

[build]
# Phones without a country code are taken as Chinese numbers.
default_country_code = "86"
# The business date of each export file is read from its name; files are loaded night by night.
batch_date_pattern = '_(\d{4}-\d{2}-\d{2})\.'
batch_date_format = "%Y-%m-%d"

[identity]
# Probabilistic matching (Fellegi-Sunter, trained on the data): records sharing any blocking
# key are compared field by field; pairs at least merge_probability likely are one customer,
# pairs from review_probability up are listed for review.
blocking = [["phone"], ["email"], ["id_number"], ["birth_date", "city"], ["name", "birth_date"], ["name", "city"], ["address"]]
merge_probability = 0.95
review_probability = 0.5

[marts]
# Analyses recomputed into every version the build publishes (as of its last sale).
refresh = ["rfm", "segment", "value", "lifecycle", "alerts", "campaign_target"]
segment_k = "auto"

[[source]]
name = "crm"
entity = "customer"
path = "exports/crm/crm_customers_*.csv"
format = "csv"
priority = 1
date_format = "%Y/%m/%d"
[source.columns]
source_id = "cust_no"
name = "full_name"
gender = "sex"
birth_date = "birthday"
phone = "mobile"
email = "email"
id_number = "id_card"
address = "address"
city = "city"
province = "province"
occupation = "occupation"
income = "annual_income"
education = "education"
marital_status = "marital"
homeowner = "home_owner"
has_savings_account = "savings_acct"
customer_type = "cust_type"
signup_date = "register_date"
credit_limit = "credit_limit"
marketing_opt_out = "no_marketing"
[source.values.gender]
"男" = "m"
"女" = "f"
[source.values.customer_type]
"个人" = "individual"
"企业" = "enterprise"

[[source]]
name = "web"
entity = "customer"
path = "exports/web/web_customers_*.jsonl"
format = "jsonl"
priority = 2
date_format = "%Y-%m-%d"
[source.columns]
source_id = "account_id"
name = "nick_name"
phone = "mobile"
email = "email"
city = "city"
birth_date = "birthday"
signup_date = "registered_at"
[source.formats]
signup_date = "%Y-%m-%dT%H:%M:%S%:z"
[source.constants]
customer_type = "individual"

[[source]]
name = "products"
entity = "product"
path = "exports/erp/products_*.csv"
format = "csv"
[source.columns]
sku = "sku"
product_name = "name"
category = "category"
subcategory = "subcategory"
brand = "brand"
unit_price = "price"
unit_cost = "cost"

[[source]]
name = "stores"
entity = "branch"
path = "exports/pos/stores_*.csv"
format = "csv"
[source.columns]
branch_code = "store_code"
branch_name = "store_name"
city = "city"
province = "province"
region = "region"

[[source]]
name = "campaigns"
entity = "campaign"
path = "exports/marketing/campaigns_*.csv"
format = "csv"
date_format = "%Y-%m-%d"
[source.columns]
campaign_code = "code"
campaign_name = "name"
channel = "channel"
start_date = "start"
end_date = "end"
budget = "budget"
target_segment = "target"

[[source]]
name = "pos"
entity = "sales_line"
path = "exports/pos/pos_sales_*.csv"
format = "csv"
customer_system = "crm"
timestamp_format = "%d.%m.%Y %H:%M"
timezone = "+08:00"
[source.columns]
order_id = "receipt_no"
line_number = "line_no"
order_time = "sale_time"
branch_code = "store_code"
customer_ref = "loyalty_card"
sku = "sku"
quantity = "qty"
unit_price = "unit_price"
discount = "discount"
[source.constants]
channel = "store"

[[source]]
name = "web_orders"
entity = "sales_line"
path = "exports/web/web_orders_*.jsonl"
format = "jsonl"
customer_system = "web"
timestamp_format = "%Y-%m-%dT%H:%M:%S%:z"
timezone = "+08:00"
[source.columns]
order_id = "orderId"
line_number = "line"
order_time = "createdAt"
customer_ref = "accountId"
sku = "sku"
quantity = "qty"
unit_price = "price"
discount = "discount"
channel = "channel"

[[source]]
name = "callcentre"
entity = "service_contact"
path = "exports/callcentre/contacts_*.csv"
format = "csv"
timestamp_format = "%m/%d/%Y %I:%M %p"
timezone = "+08:00"
[source.columns]
contact_id = "ticket_id"
customer_phone = "caller_phone"
opened_at = "opened"
channel = "channel"
contact_type = "type"
satisfaction = "satisfaction"
resolved_at = "resolved"
status = "status"
[source.values.channel]
"Phone" = "call_centre"
"E-mail" = "email"

[[source]]
name = "campaign_responses"
entity = "campaign_response"
path = "exports/marketing/campaign_responses_*.csv"
format = "csv"
customer_system = "crm"
date_format = "%Y%m%d"
[source.columns]
campaign_code = "campaign"
customer_ref = "customer_no"
contact_date = "contact_day"
control_group = "holdout"
contacted = "reached"
responded = "responded"
converted = "converted"
revenue = "revenue"

[[source]]
name = "receivables"
entity = "receivable"
path = "exports/finance/receivables_*.csv"
format = "csv"
load = "snapshot"
customer_system = "crm"
date_format = "%Y-%m-%d"
[source.columns]
invoice_id = "invoice_no"
customer_ref = "customer_no"
invoice_date = "invoice_date"
due_date = "due_date"
amount = "amount"
paid_amount = "paid"
paid_date = "paid_on"

[[source]]
name = "credit_applications"
entity = "credit_application"
path = "exports/finance/credit_applications_*.csv"
format = "csv"
customer_system = "crm"
date_format = "%Y-%m-%d"
[source.columns]
application_id = "app_id"
customer_ref = "customer_no"
application_date = "applied_on"
age = "age"
income = "income"
has_savings_account = "savings"
homeowner = "homeowner"
employment_years = "employment_years"
existing_debt = "other_debt"
requested_amount = "amount"
term_months = "term"
decision = "decision"
outcome = "outcome"

[[source]]
name = "sales_plan"
entity = "sales_plan"
path = "exports/finance/sales_plan_*.csv"
format = "csv"
load = "snapshot"
customer_system = "crm"
date_format = "%Y-%m"
[source.columns]
plan_month = "month"
customer_ref = "customer_no"
branch_code = "store"
planned_amount = "planned"

[[source]]
name = "expenses"
entity = "expense"
path = "exports/finance/expenses_*.csv"
format = "csv"
customer_system = "crm"
date_format = "%Y/%m/%d"
[source.columns]
expense_id = "voucher_no"
expense_date = "booked_on"
expense_type = "account"
amount = "amount"
branch_code = "cost_centre"
customer_ref = "customer_no"
campaign_code = "campaign"
# The ledger names its accounts; acrm's expense types are codes.
[source.values.expense_type]
{expense_types}
[[source]]
name = "expense_budget"
entity = "expense_budget"
path = "exports/finance/expense_budget_*.csv"
format = "csv"
load = "snapshot"
date_format = "%Y-%m"
[source.columns]
budget_month = "month"
branch_code = "cost_centre"
campaign_code = "campaign"
expense_type = "account"
budgeted_amount = "budget"
[source.values.expense_type]
{expense_types}"#;
