//! The persons behind the customer records, their records in each source system, and the
//! changes later nights bring (moves, new phones, new customers, web accounts opened with a
//! new phone and e-mail).

use chrono::{Datelike, Days, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::{CITIES, Catalog, GIVEN, OCCUPATIONS, STREETS, SURNAMES};
use crate::{GenerateOptions, history_end};

/// Planted behaviour groups (what segmentation should recover).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Loyal, frequent, low-value buyers.
    Stream,
    /// Rare, high-value buyers.
    Meteor,
    /// Frequent, high-value buyers.
    Vip,
    /// Discount hunters.
    Bargain,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Stream => "stream",
            Group::Meteor => "meteor",
            Group::Vip => "vip",
            Group::Bargain => "bargain",
        }
    }
}

/// One real person.
pub struct Person {
    pub id: u32,
    pub surname: usize,
    pub given: Vec<usize>,
    pub female: bool,
    pub birth: NaiveDate,
    pub city: usize,
    pub address: String,
    pub phone: u64,
    /// The CRM clerk typed the shop's placeholder number instead of the phone.
    pub placeholder_phone: bool,
    pub email: String,
    pub id_number: String,
    pub occupation: usize,
    /// Yearly income in yuan.
    pub income: i64,
    pub education: &'static str,
    pub marital: &'static str,
    pub homeowner: bool,
    pub savings: bool,
    pub enterprise: bool,
    pub signup: NaiveDate,
    /// Credit limit in yuan.
    pub credit_limit: i64,
    pub group: Group,
    pub young_father: bool,
    pub churn_date: Option<NaiveDate>,
    pub crm_id: Option<String>,
    /// A second CRM record of the same person (a data-entry duplicate).
    pub crm_dup_id: Option<String>,
    pub web_id: Option<String>,
    /// The web account's name has a homophone typo.
    pub web_name_typo: bool,
    /// The web account shares neither e-mail nor phone with the CRM: only fuzzy matching finds it.
    pub web_fuzzy_only: bool,
    /// Night the web account is opened (the person's first night, or later for a customer
    /// who registers online afterwards).
    pub web_night: u32,
    /// Phone and e-mail the web account gives instead of the person's own (a customer who
    /// changed them before registering online; the CRM keeps the old ones).
    pub web_contact: Option<(u64, String)>,
    /// Planted: open receivables above the credit limit.
    pub over_limit: bool,
    /// Planted: has a sales plan it falls far below.
    pub below_plan: bool,
    /// Has a sales plan at all.
    pub planned: bool,
    /// Has invoices (buys on credit).
    pub on_credit: bool,
    /// Night the person first appears in the exports.
    pub first_night: u32,
}

impl Person {
    pub fn name(&self) -> String {
        let mut s = SURNAMES[self.surname].0.to_string();
        for g in &self.given {
            s.push_str(GIVEN[*g].0);
        }
        s
    }

    /// The name with one given-name character replaced by a homophone.
    pub fn name_with_typo(&self) -> String {
        let mut s = SURNAMES[self.surname].0.to_string();
        for (i, g) in self.given.iter().enumerate() {
            s.push_str(if i + 1 == self.given.len() {
                GIVEN[*g].2
            } else {
                GIVEN[*g].0
            });
        }
        s
    }

    pub fn age_at(&self, day: NaiveDate) -> i32 {
        day.years_since(self.birth).map_or(0, |y| y as i32)
    }
}

/// Every person plus the id counters that later nights continue.
pub struct Population {
    pub persons: Vec<Person>,
    /// Planted look-alike persons `(kind, person id, person id)`: `household` or `namesake`.
    pub lookalikes: Vec<(&'static str, u32, u32)>,
    next_crm: u32,
    next_web: u32,
}

/// One attribute change applied on a night.
pub struct Change {
    pub person: usize,
    pub attribute: &'static str,
    pub old: String,
    pub new: String,
}

fn rng_for(opts: &GenerateOptions, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream)
}

/// Start of night 1's history.
pub fn history_start(opts: &GenerateOptions) -> NaiveDate {
    let end = history_end();
    NaiveDate::from_ymd_opt(end.year() - opts.years as i32 + 1, 1, 1).unwrap_or(end)
}

fn days_between(a: NaiveDate, b: NaiveDate) -> u64 {
    (b - a).num_days().max(0) as u64
}

fn add_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(d)
}

impl Population {
    /// The population of night 1, a pure function of the options.
    pub fn generate(opts: &GenerateOptions, _catalog: &Catalog) -> Self {
        let mut rng = rng_for(opts, 1);
        let mut pop = Population {
            persons: Vec::with_capacity(opts.customers),
            lookalikes: Vec::new(),
            next_crm: 100_001,
            next_web: 5_000_001,
        };
        // CRM ids are handed out in a shuffled order so they say nothing about the person id.
        let mut order: Vec<usize> = (0..opts.customers).collect();
        order.shuffle(&mut rng);
        let mut persons: Vec<Person> = (0..opts.customers)
            .map(|i| new_person(&mut rng, opts, i as u32 + 1, 1))
            .collect();
        for i in order {
            pop.assign_ids(&mut rng, &mut persons[i]);
        }
        pop.lookalikes = plant_lookalikes(&mut rng_for(opts, 2), &mut persons);
        pop.persons = persons;
        pop
    }

    fn assign_ids(&mut self, rng: &mut ChaCha8Rng, p: &mut Person) {
        let has_crm = rng.random_bool(0.9);
        let has_web = !has_crm || rng.random_bool(0.45);
        if has_crm {
            p.crm_id = Some(format!("C{:07}", self.next_crm));
            self.next_crm += 1;
            if rng.random_bool(0.03) {
                p.crm_dup_id = Some(format!("C{:07}", self.next_crm));
                self.next_crm += 1;
            }
        }
        if has_web {
            p.web_id = Some(format!("W{:08}", self.next_web));
            self.next_web += 1;
            p.web_name_typo = rng.random_bool(0.1);
            p.web_fuzzy_only = has_crm && rng.random_bool(0.05);
        }
    }

    /// Applies night `night`'s changes (moves, new phones, new customers, web accounts of
    /// known customers with new contact details) and returns them.
    pub fn apply_night_changes(&mut self, opts: &GenerateOptions, night: u32) -> Vec<Change> {
        let mut rng = rng_for(opts, 1000 + u64::from(night));
        let mut changes = Vec::new();
        let n = self.persons.len();
        let movers = (n / 100).max(2);
        for _ in 0..movers {
            let i = rng.random_range(0..n);
            let p = &mut self.persons[i];
            if p.crm_id.is_none() || p.churn_date.is_some() {
                continue;
            }
            if rng.random_bool(0.5) {
                let city = (p.city + 1 + rng.random_range(0..CITIES.len() - 1)) % CITIES.len();
                let address = random_address(&mut rng);
                changes.push(Change {
                    person: i,
                    attribute: "city",
                    old: CITIES[p.city].name.into(),
                    new: CITIES[city].name.into(),
                });
                p.city = city;
                p.address = address;
            } else {
                let phone = random_phone(&mut rng, p.id + 7_000_000 * night);
                changes.push(Change {
                    person: i,
                    attribute: "phone",
                    old: p.phone.to_string(),
                    new: phone.to_string(),
                });
                p.phone = phone;
            }
        }
        let newcomers = (n / 400).max(2);
        for _ in 0..newcomers {
            let id = self.persons.len() as u32 + 1;
            let mut p = new_person(&mut rng, opts, id, night);
            p.signup = crate::batch_date(night);
            p.churn_date = None;
            self.assign_ids(&mut rng, &mut p);
            changes.push(Change {
                person: self.persons.len(),
                attribute: "new_customer",
                old: String::new(),
                new: p.name(),
            });
            self.persons.push(p);
        }
        // CRM customers who open a web account with a new phone and e-mail: the CRM keeps
        // the old ones, so only the name, birth date and city tie the account to them.
        let openers = (n / 100).max(4);
        for _ in 0..openers {
            let i = rng.random_range(0..n);
            let p = &self.persons[i];
            if p.crm_id.is_none() || p.web_id.is_some() || p.churn_date.is_some() {
                continue;
            }
            let phone = random_phone(&mut rng, p.id + 9_000_000 * night);
            let email = email_of(&mut rng, p.surname, &p.given, p.id + 1_000_000 * night);
            let web_id = format!("W{:08}", self.next_web);
            self.next_web += 1;
            changes.push(Change {
                person: i,
                attribute: "web_account",
                old: String::new(),
                new: web_id.clone(),
            });
            let p = &mut self.persons[i];
            p.web_id = Some(web_id);
            p.web_night = night;
            p.web_contact = Some((phone, email));
        }
        changes
    }
}

/// Planted hard negatives for identity resolution: households (a person living with the one
/// before, sharing the address and the landline, half of them the surname too), namesakes
/// (the same name, birth date and city as the person before, but otherwise another person),
/// and customers whose clerk typed the shop's placeholder phone. Returns the households and
/// namesakes planted.
fn plant_lookalikes(rng: &mut ChaCha8Rng, persons: &mut [Person]) -> Vec<(&'static str, u32, u32)> {
    let mut planted = Vec::new();
    for i in 1..persons.len() {
        let (before, rest) = persons.split_at_mut(i);
        let (a, b) = (&before[i - 1], &mut rest[0]);
        match rng.random_range(0..1000) {
            0..60 => {
                b.city = a.city;
                b.address = a.address.clone();
                b.phone = a.phone;
                if rng.random_bool(0.5) {
                    b.surname = a.surname;
                }
                b.email = email_of(rng, b.surname, &b.given, b.id);
                planted.push(("household", a.id, b.id));
            }
            60..68 => {
                b.surname = a.surname;
                b.given = a.given.clone();
                b.birth = a.birth;
                b.city = a.city;
                b.email = email_of(rng, b.surname, &b.given, b.id);
                b.id_number = id_number_of(rng, b.city, b.birth, b.id);
                planted.push(("namesake", a.id, b.id));
            }
            68..78 => b.placeholder_phone = true,
            _ => {}
        }
    }
    planted
}

/// The number a till clerk types when the customer gives none.
pub const PLACEHOLDER_PHONE: u64 = 13_800_000_000;

fn email_of(rng: &mut ChaCha8Rng, surname: usize, given: &[usize], id: u32) -> String {
    let given_pinyin: String = given.iter().map(|g| GIVEN[*g].1).collect();
    let domain = ["163.com", "qq.com", "126.com", "sina.com", "gmail.com"][rng.random_range(0..5)];
    format!("{}{}{}@{domain}", SURNAMES[surname].1, given_pinyin, id)
}

fn id_number_of(rng: &mut ChaCha8Rng, city: usize, birth: NaiveDate, id: u32) -> String {
    format!(
        "{:06}{}{:04}",
        110_000 + city * 1000 + rng.random_range(0..999),
        birth.format("%Y%m%d"),
        id % 10_000
    )
}

fn random_phone(rng: &mut ChaCha8Rng, salt: u32) -> u64 {
    // 1[3-9]x-xxxx-xxxx with the salt in the low digits keeps numbers unique per person.
    let prefix = [
        130u64, 133, 135, 136, 138, 139, 150, 151, 158, 177, 186, 189,
    ][rng.random_range(0..12)];
    prefix * 100_000_000 + (u64::from(salt) * 7919 + rng.random_range(0..7919)) % 100_000_000
}

fn random_address(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{}{}号{}室",
        STREETS[rng.random_range(0..STREETS.len())],
        rng.random_range(1..300),
        rng.random_range(101..2500)
    )
}

fn new_person(rng: &mut ChaCha8Rng, opts: &GenerateOptions, id: u32, first_night: u32) -> Person {
    let end = history_end();
    let start = history_start(opts);
    let female = rng.random_bool(0.5);
    let age = rng.random_range(20..70u64);
    let birth = add_days(
        NaiveDate::from_ymd_opt(1955, 1, 1).unwrap_or(end),
        (70 - age) * 365 + rng.random_range(0..365),
    );
    let surname = rng.random_range(0..SURNAMES.len());
    let given = (0..rng.random_range(1..=2))
        .map(|_| rng.random_range(0..GIVEN.len()))
        .collect::<Vec<_>>();
    let city = rng.random_range(0..CITIES.len());
    let occupation = rng.random_range(0..OCCUPATIONS.len());
    let z: f64 = rng.sample(rand_distr::StandardNormal);
    let income = ((11.3 + 0.5 * z + occupation as f64 * 0.03).exp() / 1000.0).round() as i64 * 1000;
    let enterprise = rng.random_bool(0.05);
    let group = match rng.random_range(0..100) {
        0..40 => Group::Stream,
        40..60 => Group::Meteor,
        60..65 => Group::Vip,
        _ => Group::Bargain,
    };
    let married = age > 26 && rng.random_bool(0.65);
    let young_father = !female && married && (25..=38).contains(&age) && rng.random_bool(0.6);
    let window = days_between(start, end);
    let signup = if rng.random_bool(0.8) {
        add_days(start, 0)
            .checked_sub_days(Days::new(rng.random_range(1..1100)))
            .unwrap_or(start)
    } else {
        add_days(
            start,
            rng.random_range(0..window.saturating_sub(120).max(1)),
        )
    };
    let churn_date = (rng.random_bool(0.12) && first_night == 1)
        .then(|| add_days(end, 0) - Days::new(rng.random_range(60..180)));
    let credit_limit = if enterprise {
        (income * 3 / 10_000) * 10_000
    } else {
        (income / 5 / 1000) * 1000
    };
    let on_credit = enterprise || rng.random_bool(0.06);
    let planned = enterprise || group == Group::Vip;
    // Drawn in this order (e-mail domain, address, phone, id number) so that the persons of
    // a seed stay the ones earlier versions generated.
    let email = email_of(rng, surname, &given, id);
    let address = random_address(rng);
    let phone = random_phone(rng, id);
    let id_number = id_number_of(rng, city, birth, id);
    Person {
        id,
        surname,
        female,
        birth,
        city,
        address,
        phone,
        placeholder_phone: false,
        email,
        id_number,
        occupation,
        income,
        education: [
            "high_school",
            "bachelor",
            "master",
            "doctorate",
            "vocational",
        ][rng.random_range(0..5)],
        marital: if married {
            "married"
        } else {
            ["single", "divorced", "widowed"][rng.random_range(0..3usize).min(if age > 60 {
                2
            } else {
                1
            })]
        },
        homeowner: rng.random_bool(0.55),
        savings: rng.random_bool(0.6),
        enterprise,
        signup,
        credit_limit: credit_limit.max(5_000),
        group,
        young_father,
        churn_date,
        crm_id: None,
        crm_dup_id: None,
        web_id: None,
        web_name_typo: false,
        web_fuzzy_only: false,
        web_night: first_night,
        web_contact: None,
        over_limit: on_credit && rng.random_bool(0.25),
        below_plan: planned && rng.random_bool(0.3),
        planned,
        on_credit,
        first_night,
        given,
    }
}

/// Formats a phone number the way a careless system might.
pub fn format_phone(rng: &mut ChaCha8Rng, phone: u64) -> String {
    let s = phone.to_string();
    match rng.random_range(0..7) {
        0 => s,
        1 => format!("{}-{}-{}", &s[..3], &s[3..7], &s[7..]),
        2 => format!("+86 {} {} {}", &s[..3], &s[3..7], &s[7..]),
        3 => format!("(+86){s}"),
        4 => format!("0086 {s}"),
        5 => format!("{} {} {}", &s[..3], &s[3..7], &s[7..]),
        // Full-width digits, as typed with a Chinese input method.
        _ => s
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c))
            .collect(),
    }
}
