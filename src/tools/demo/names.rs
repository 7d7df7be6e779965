//! Plausible people, companies, places and numbers for the demo data. The word lists contain no
//! double quotes, backslashes or control characters, so they go into JSON as they are.

use fastrand::Rng;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "欧阳",
    "司马",
];
const GIVEN_NAME_CHARACTERS: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "文", "红", "玉", "兰", "志", "海",
    "晓", "宇", "欣", "婷", "浩", "然", "子", "涵",
];
const LATIN_FIRST_NAMES: &[&str] = &[
    "Anna", "James", "Maria", "David", "Sophie", "Lukas", "Emma", "Oliver", "Chloe", "Mateo",
    "Hannah", "Noah", "Isabel", "Pierre", "Elena", "Tomasz", "Aisha", "Kenji", "Olga", "Daniel",
];
const LATIN_LAST_NAMES: &[&str] = &[
    "Schmidt",
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Novak",
    "Johnson",
    "Tanaka",
    "Ivanova",
    "Fernandes",
    "O'Brien",
    "Jensen",
    "Kim",
    "Nguyen",
    "Silva",
    "Brown",
];
const CITY_DISTRICTS: &[(&str, &str)] = &[
    ("北京市朝阳区", "110105"),
    ("北京市海淀区", "110108"),
    ("上海市浦东新区", "310115"),
    ("广州市天河区", "440106"),
    ("深圳市南山区", "440305"),
    ("成都市武侯区", "510107"),
    ("杭州市西湖区", "330106"),
    ("武汉市洪山区", "420111"),
    ("南京市鼓楼区", "320106"),
    ("西安市雁塔区", "610113"),
];
const ROADS: &[&str] = &[
    "建国路",
    "人民路",
    "解放大道",
    "中山路",
    "长江路",
    "和平街",
    "新华路",
    "滨江大道",
    "光明路",
    "学府路",
    "幸福里",
    "青年路",
    "科技园路",
    "东风路",
    "文化街",
    "胜利路",
];
const COMPANY_WORDS: &[&str] = &[
    "华信", "鑫源", "恒通", "宏达", "金鹏", "瑞丰", "天成", "嘉禾", "远航", "博雅", "汇通", "永盛",
];
const INDUSTRIES: &[&str] = &[
    "科技",
    "餐饮管理",
    "物业管理",
    "食品",
    "酒店",
    "印染",
    "建材",
    "医药",
    "物流",
    "洗涤服务",
];
const LATIN_COMPANIES: &[&str] = &[
    "Riverside Bakery Ltd",
    "Blue Lotus Hotel Co",
    "Northwind Laundry Co",
    "Pacific Brewing Ltd",
    "Greenfield Foods Co",
    "Harbour Logistics Ltd",
];
const STATISTICAL_POINTS: &[&str] = &["片区总表", "小区总表", "消防用水", "绿化用水", "管网考核表"];
const REMARKS: &[&str] = &[
    "低保户，减免按政策执行",
    "表井在地下室，抄表需预约",
    "Prefers calls after 18:00",
    "老人独居，请耐心解释",
    "Meter behind the garden gate",
];

fn pick<'a>(rng: &mut Rng, words: &[&'a str]) -> &'a str {
    words[rng.usize(..words.len())]
}

/// 王, 欧阳 …: what a clerk types to find someone by name.
pub fn surname(rng: &mut Rng) -> &'static str {
    pick(rng, SURNAMES)
}

/// 张伟, 欧阳晓明 …
pub fn chinese_name(rng: &mut Rng) -> String {
    let mut name = pick(rng, SURNAMES).to_owned();
    for _ in 0..rng.usize(1..=2) {
        name += pick(rng, GIVEN_NAME_CHARACTERS);
    }
    name
}

pub fn latin_name(rng: &mut Rng) -> String {
    format!(
        "{} {}",
        pick(rng, LATIN_FIRST_NAMES),
        pick(rng, LATIN_LAST_NAMES)
    )
}

/// 北京市朝阳区建国路88号3单元502室, and the district's administrative code for ID numbers.
pub fn address(rng: &mut Rng) -> (String, &'static str) {
    let (district, code) = CITY_DISTRICTS[rng.usize(..CITY_DISTRICTS.len())];
    let address = format!(
        "{district}{}{}号{}单元{}{:02}室",
        pick(rng, ROADS),
        rng.u32(1..=300),
        rng.u32(1..=6),
        rng.u32(1..=30),
        rng.u32(1..=4)
    );
    (address, code)
}

/// Where a statistical meter sits, and its label: 朝阳区建国路片区总表 #12.
pub fn statistical_point(rng: &mut Rng) -> (String, String) {
    let (district, _) = CITY_DISTRICTS[rng.usize(..CITY_DISTRICTS.len())];
    let road = pick(rng, ROADS);
    let location = format!("{district}{road}{}号旁", rng.u32(1..=300));
    let label = format!(
        "{road}{} #{}",
        pick(rng, STATISTICAL_POINTS),
        rng.u32(1..=99)
    );
    (label, location)
}

pub fn company(rng: &mut Rng, latin: bool) -> String {
    if latin {
        return pick(rng, LATIN_COMPANIES).to_owned();
    }
    let (district, _) = CITY_DISTRICTS[rng.usize(..CITY_DISTRICTS.len())];
    let city = district.split('市').next().unwrap_or(district);
    format!(
        "{city}{}{}有限公司",
        pick(rng, COMPANY_WORDS),
        pick(rng, INDUSTRIES)
    )
}

/// A mainland mobile number: 1[3-9] and nine more digits.
pub fn mobile(rng: &mut Rng) -> String {
    format!("1{}{:09}", rng.u32(3..=9), rng.u32(..1_000_000_000))
}

/// An office landline, e.g. 010-65123456.
pub fn landline(rng: &mut Rng) -> String {
    format!("0{}-{}", rng.u32(10..=29), rng.u32(60_000_000..=89_999_999))
}

/// An 18-character resident ID with a correct ISO 7064 MOD 11-2 check character.
pub fn resident_id(rng: &mut Rng, district_code: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let mut id = format!(
        "{district_code}{}{:02}{:02}{:03}",
        rng.u32(1940..=2004),
        rng.u32(1..=12),
        rng.u32(1..=28),
        rng.u32(..1000)
    );
    let sum: u32 = id
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    id.push(char::from(CHECK[(sum % 11) as usize]));
    id
}

/// A unified social credit code: 18 characters, shaped like the real ones.
pub fn credit_code(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut code = String::from("91");
    code += &format!("{:06}", rng.u32(110_000..=659_999));
    code.extend((0..10).map(|_| char::from(ALPHABET[rng.usize(..ALPHABET.len())])));
    code
}

pub fn remark(rng: &mut Rng) -> &'static str {
    pick(rng, REMARKS)
}
