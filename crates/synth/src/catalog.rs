//! Fixed reference data: cities, stores, products, campaigns and the name pools.

/// A city with its province and sales region.
pub struct City {
    pub name: &'static str,
    pub province: &'static str,
    pub region: &'static str,
}

/// Cities customers live in and stores stand in.
pub const CITIES: [City; 14] = [
    City {
        name: "北京",
        province: "北京",
        region: "华北",
    },
    City {
        name: "天津",
        province: "天津",
        region: "华北",
    },
    City {
        name: "上海",
        province: "上海",
        region: "华东",
    },
    City {
        name: "杭州",
        province: "浙江",
        region: "华东",
    },
    City {
        name: "南京",
        province: "江苏",
        region: "华东",
    },
    City {
        name: "苏州",
        province: "江苏",
        region: "华东",
    },
    City {
        name: "广州",
        province: "广东",
        region: "华南",
    },
    City {
        name: "深圳",
        province: "广东",
        region: "华南",
    },
    City {
        name: "成都",
        province: "四川",
        region: "西南",
    },
    City {
        name: "重庆",
        province: "重庆",
        region: "西南",
    },
    City {
        name: "武汉",
        province: "湖北",
        region: "华中",
    },
    City {
        name: "长沙",
        province: "湖南",
        region: "华中",
    },
    City {
        name: "西安",
        province: "陕西",
        region: "西北",
    },
    City {
        name: "沈阳",
        province: "辽宁",
        region: "东北",
    },
];

/// Surnames with their pinyin (used for e-mail addresses).
pub const SURNAMES: [(&str, &str); 20] = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
];

/// Given-name characters: (character, pinyin, a homophone used for typos).
pub const GIVEN: [(&str, &str, &str); 24] = [
    ("伟", "wei", "玮"),
    ("芳", "fang", "方"),
    ("静", "jing", "婧"),
    ("丽", "li", "莉"),
    ("磊", "lei", "蕾"),
    ("军", "jun", "君"),
    ("杰", "jie", "洁"),
    ("涛", "tao", "韬"),
    ("明", "ming", "铭"),
    ("霞", "xia", "侠"),
    ("平", "ping", "萍"),
    ("刚", "gang", "钢"),
    ("敏", "min", "民"),
    ("英", "ying", "瑛"),
    ("洋", "yang", "阳"),
    ("勇", "yong", "永"),
    ("艳", "yan", "燕"),
    ("娟", "juan", "鹃"),
    ("华", "hua", "桦"),
    ("强", "qiang", "蔷"),
    ("超", "chao", "朝"),
    ("秀", "xiu", "琇"),
    ("俊", "jun", "峻"),
    ("宇", "yu", "雨"),
];

/// Street names for addresses.
pub const STREETS: [&str; 10] = [
    "建国路",
    "人民路",
    "解放路",
    "中山路",
    "长江路",
    "和平路",
    "文化路",
    "青年路",
    "南京路",
    "黄河路",
];

/// Occupations.
pub const OCCUPATIONS: [&str; 8] = [
    "工程师",
    "教师",
    "医生",
    "销售",
    "公务员",
    "个体经营",
    "会计",
    "学生",
];

/// A product of the catalogue.
pub struct Product {
    pub sku: String,
    pub name: String,
    pub category: &'static str,
    pub subcategory: &'static str,
    pub brand: &'static str,
    /// Price in cents.
    pub price: i64,
    /// Cost in cents.
    pub cost: i64,
}

/// A product family: (category, subcategory, brand pool, price range in yuan, count).
type Family = (
    &'static str,
    &'static str,
    [&'static str; 3],
    (i64, i64),
    usize,
);

/// The product families of the catalogue.
const FAMILIES: [Family; 16] = [
    (
        "Grocery",
        "Rice & Noodles",
        ["金龙鱼", "福临门", "五得利"],
        (8, 60),
        10,
    ),
    (
        "Grocery",
        "Snacks",
        ["三只松鼠", "良品铺子", "旺旺"],
        (5, 40),
        12,
    ),
    ("Grocery", "Dairy", ["伊利", "蒙牛", "光明"], (4, 30), 10),
    ("Beverages", "Beer", ["青岛", "雪花", "燕京"], (4, 15), 6),
    (
        "Beverages",
        "Soft Drinks",
        ["农夫山泉", "康师傅", "可口可乐"],
        (2, 10),
        8,
    ),
    (
        "Beverages",
        "Tea & Coffee",
        ["立顿", "雀巢", "西湖"],
        (20, 200),
        6,
    ),
    ("Baby", "Diapers", ["帮宝适", "好奇", "花王"], (60, 180), 5),
    ("Baby", "Formula", ["美赞臣", "惠氏", "飞鹤"], (150, 400), 5),
    (
        "Beauty",
        "Skin Care",
        ["百雀羚", "自然堂", "欧莱雅"],
        (50, 500),
        8,
    ),
    ("Home", "Kitchen", ["苏泊尔", "九阳", "美的"], (80, 900), 8),
    (
        "Home",
        "Cleaning",
        ["蓝月亮", "立白", "威露士"],
        (10, 60),
        8,
    ),
    (
        "Apparel",
        "Clothing",
        ["李宁", "安踏", "优衣库"],
        (80, 800),
        10,
    ),
    ("Apparel", "Shoes", ["李宁", "安踏", "特步"], (200, 1200), 6),
    (
        "Electronics",
        "Phones",
        ["华为", "小米", "OPPO"],
        (1500, 7000),
        6,
    ),
    (
        "Electronics",
        "Appliances",
        ["海尔", "格力", "美的"],
        (1200, 9000),
        6,
    ),
    (
        "Electronics",
        "Accessories",
        ["小米", "倍思", "绿联"],
        (30, 300),
        8,
    ),
];

/// Indices into the product list by role, for behaviour-driven baskets.
pub struct Catalog {
    pub products: Vec<Product>,
    pub cheap: Vec<usize>,
    pub premium: Vec<usize>,
    pub everyday: Vec<usize>,
    pub diapers: Vec<usize>,
    pub beer: Vec<usize>,
    pub stores: Vec<Store>,
    pub campaigns: Vec<Campaign>,
}

/// A store (branch).
pub struct Store {
    pub code: String,
    pub name: String,
    pub city: usize,
}

/// A marketing campaign.
pub struct Campaign {
    pub code: &'static str,
    pub name: &'static str,
    pub channel: &'static str,
    /// Days before the end of history the campaign starts.
    pub start_days_before_end: u64,
    pub length_days: u64,
    pub budget_yuan: i64,
    pub target: &'static str,
    /// Planted effect: conversion rate of the contacted group minus that of the control
    /// group (intention to treat: the unreached count as contacted).
    pub uplift: f64,
    /// Share of the selected customers held out as the control group (not contacted).
    pub control_share: f64,
}

const CAMPAIGNS: [Campaign; 8] = [
    Campaign {
        code: "CMP-SPRING",
        name: "春季焕新",
        channel: "sms",
        start_days_before_end: 640,
        length_days: 30,
        budget_yuan: 80_000,
        uplift: 0.0,
        control_share: 0.3,
        target: "all",
    },
    Campaign {
        code: "CMP-618",
        name: "618大促",
        channel: "app",
        start_days_before_end: 560,
        length_days: 20,
        budget_yuan: 200_000,
        uplift: 0.06,
        control_share: 0.1,
        target: "bargain",
    },
    Campaign {
        code: "CMP-VIP-DAY",
        name: "会员日",
        channel: "email",
        start_days_before_end: 480,
        length_days: 7,
        budget_yuan: 50_000,
        uplift: 0.05,
        control_share: 0.1,
        target: "vip",
    },
    Campaign {
        code: "CMP-1111",
        name: "双十一",
        channel: "web",
        start_days_before_end: 420,
        length_days: 15,
        budget_yuan: 300_000,
        uplift: 0.08,
        control_share: 0.2,
        target: "all",
    },
    Campaign {
        code: "CMP-BABY",
        name: "母婴节",
        channel: "sms",
        start_days_before_end: 300,
        length_days: 14,
        budget_yuan: 60_000,
        uplift: 0.04,
        control_share: 0.1,
        target: "young_parents",
    },
    Campaign {
        code: "CMP-WINBACK",
        name: "老客召回",
        channel: "call_centre",
        start_days_before_end: 200,
        length_days: 30,
        budget_yuan: 40_000,
        uplift: 0.02,
        control_share: 0.1,
        target: "lapsed",
    },
    Campaign {
        code: "CMP-618-B",
        name: "618大促(二)",
        channel: "app",
        start_days_before_end: 195,
        length_days: 20,
        budget_yuan: 220_000,
        uplift: 0.06,
        control_share: 0.1,
        target: "bargain",
    },
    Campaign {
        code: "CMP-1111-B",
        name: "双十一(二)",
        channel: "web",
        start_days_before_end: 55,
        length_days: 15,
        budget_yuan: 320_000,
        uplift: 0.1,
        control_share: 0.3,
        target: "all",
    },
];

impl Catalog {
    /// The fixed catalogue (no randomness: prices follow from the position in the list).
    pub fn new() -> Self {
        let mut products = Vec::new();
        let (mut cheap, mut premium, mut everyday, mut diapers, mut beer) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (f, (cat, sub, brands, (lo, hi), n)) in FAMILIES.iter().enumerate() {
            for i in 0..*n {
                let brand = brands[i % brands.len()];
                let span = hi - lo;
                let price_yuan = lo + span * (i as i64) / (*n as i64).max(1);
                let price = price_yuan * 100 + 90 * ((i % 2) as i64);
                let cost = price * (55 + (i as i64 * 7) % 25) / 100;
                let idx = products.len();
                if price_yuan <= 40 {
                    cheap.push(idx);
                }
                if price_yuan >= 400 {
                    premium.push(idx);
                }
                if matches!(*cat, "Grocery" | "Beverages" | "Home") && price_yuan < 100 {
                    everyday.push(idx);
                }
                if *sub == "Diapers" {
                    diapers.push(idx);
                }
                if *sub == "Beer" {
                    beer.push(idx);
                }
                products.push(Product {
                    sku: format!("{}{:02}-{:03}", &cat[..2].to_uppercase(), f, i + 1),
                    name: format!("{brand} {sub} {}", i + 1),
                    category: cat,
                    subcategory: sub,
                    brand,
                    price,
                    cost,
                });
            }
        }
        let stores = CITIES
            .iter()
            .enumerate()
            .flat_map(|(c, city)| {
                (1..=2).map(move |n| Store {
                    code: format!("S{:02}{n}", c + 1),
                    name: format!("{}{n}号店", city.name),
                    city: c,
                })
            })
            .collect();
        Self {
            products,
            cheap,
            premium,
            everyday,
            diapers,
            beer,
            stores,
            campaigns: CAMPAIGNS.into_iter().collect(),
        }
    }
}
