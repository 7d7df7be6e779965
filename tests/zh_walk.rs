//! Chinese all the way (issue 13 item 7): every screen walked in `zh` against a database with
//! the demo data, each state drawn at 80×24 and checked for what a Chinese desk must never
//! show: a catalogue key shown raw, a placeholder left unfilled, or an English sentence (see
//! [`english_sentences`]). The data is made Chinese first (the demo's bilingual names keep
//! their Chinese half), so any English left on screen is the desk's own.
//!
//! To walk a new screen, add a line to [`WALKS`]: its name and the steps from the customer
//! table that reach it (a customer found by a query, keys, text, a `:` command). Every state
//! on the way is checked, then the screen's help (F1), then home (Ctrl-G).

mod support;

use crossterm::event::KeyCode::{self, *};
use meterdesk::i18n::Lang;
use meterdesk::screens::table::CustomerTable;
use meterdesk::tools::demo;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::desk::Desk;
use support::pg::{TEST_PASSWORD, fresh_db};

/// One step of a walk from the customer table.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Finds the customer whose number the query gives and selects their row.
    Customer(&'static str),
    Key(KeyCode),
    Text(&'static str),
    /// `:name` on the command line.
    Command(&'static str),
}

use Step::{Command, Customer, Key, Text};

/// An active personal customer without unpaid bills.
const PERSONAL: &str = "SELECT c.customer_no FROM customer c
    WHERE c.nature = 'personal' AND c.status = 'active' AND NOT EXISTS (
        SELECT 1 FROM account a JOIN bill b ON b.account_id = a.id
        WHERE a.customer_id = c.id AND b.status = 'unpaid')
    ORDER BY c.customer_no LIMIT 1";
/// A customer with unpaid bills.
const OWING: &str = "SELECT c.customer_no FROM customer c
    JOIN account a ON a.customer_id = c.id JOIN bill b ON b.account_id = a.id
    WHERE b.status = 'unpaid' AND c.status = 'active' ORDER BY c.customer_no LIMIT 1";
/// A card-meter customer with a card.
const CARD: &str = "SELECT c.customer_no FROM customer c JOIN card k ON k.customer_id = c.id
    WHERE k.state = 'active' AND c.status = 'active' ORDER BY c.customer_no LIMIT 1";

/// Every screen, and the steps from the customer table that reach it.
const WALKS: &[(&str, &[Step])] = &[
    ("customer table", &[]),
    ("command line", &[Key(Char(':')), Text("me")]),
    ("search", &[Key(Char('/')), Text("张")]),
    ("sign-out question", &[Key(F(3))]),
    ("messages", &[Command("messages")]),
    ("overview", &[Command("overview")]),
    ("details", &[Customer(PERSONAL), Key(Enter)]),
    (
        "details of a customer who owes",
        &[Customer(OWING), Key(Enter)],
    ),
    (
        "open account",
        &[
            Key(Char('o')),
            Key(Enter),
            Key(PageDown),
            Key(PageDown),
            Text("王小明"),
            Key(Tab),
            Key(Tab),
            Text("13912345678"),
            Key(Tab),
            Text("西城区金融街7号"),
            Key(PageDown),
            Key(Enter),
        ],
    ),
    ("modify", &[Customer(PERSONAL), Key(Char('m')), Key(F(2))]),
    (
        "transfer",
        &[Customer(PERSONAL), Key(Char('t')), Key(F(2)), Text("李四")],
    ),
    (
        "transfer refused for bills",
        &[Customer(OWING), Key(Char('t')), Key(F(2))],
    ),
    ("account", &[Customer(PERSONAL), Key(Char('$'))]),
    ("bills", &[Customer(OWING), Key(Char('b'))]),
    ("reading", &[Customer(OWING), Key(Char('g')), Key(F(2))]),
    ("card", &[Command("card")]),
    ("recharge a card", &[Customer(CARD), Key(Char('r'))]),
    ("meters", &[Command("meters")]),
    ("meter types", &[Command("metertypes"), Key(Enter)]),
    ("price schemes", &[Command("schemes"), Key(Enter)]),
    ("customer types", &[Command("custtypes"), Key(Enter)]),
    ("audit", &[Command("audit"), Key(Enter)]),
    ("reading import", &[Command("readings")]),
    (
        "reading import of a missing file",
        &[
            Command("readings"),
            Text("/nonexistent/readings.csv"),
            Key(F(2)),
        ],
    ),
    (
        "reading import of a file that is not UTF-8",
        &[Command("readings"), Text(NOT_UTF8_FILE), Key(F(2))],
    ),
    (
        "meter import of a missing file",
        &[
            Command("meters"),
            Key(Char('i')),
            Text("/nonexistent/meters.csv"),
            Key(F(2)),
        ],
    ),
    ("operators", &[Command("operators"), Key(Enter)]),
    ("departments", &[Command("departments")]),
    ("roles", &[Command("roles")]),
    ("shift", &[Command("shift")]),
    ("arrears", &[Command("arrears")]),
    ("reports", &[Command("reports")]),
    ("password", &[Command("password"), Key(F(2))]),
    (
        "close account",
        &[Customer(OWING), Key(Char('C')), Key(F(2)), Key(F(2))],
    ),
    (
        "close account of a clear customer",
        &[Customer(PERSONAL), Command("close-account")],
    ),
    ("system card", &[Command("system-card"), Key(F(2))]),
    (
        "every report",
        &[
            Command("reports"),
            Key(Tab),
            Key(Tab),
            Key(Tab),
            Key(Tab),
            Key(Tab),
        ],
    ),
    (
        "every report of last month",
        &[
            Command("reports"),
            Key(Char('L')),
            Key(Tab),
            Key(Tab),
            Key(Tab),
            Key(Tab),
            Key(Tab),
        ],
    ),
    (
        "the reports' days refused",
        &[
            Command("reports"),
            Key(Char('/')),
            Text("2099-01-01"),
            Key(F(2)),
        ],
    ),
];

/// A reading file in GBK, as a spreadsheet saved in the wrong encoding writes it.
const NOT_UTF8_FILE: &str = "/tmp/meterdesk-zh-walk-gbk.csv";

/// Makes the walk's data Chinese: runs of two or more English words in any stored text
/// (names, addresses, remarks, the audit's details) become 某某. The desk's own codes —
/// roles, permissions, payment methods by code — are left as they are: the screens name them
/// from the catalogue.
const CHINESE_DATA: &str = r#"
    SET session_replication_role = replica;
    DO $$
    DECLARE col record;
    BEGIN
        FOR col IN
            SELECT c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
              AND c.data_type IN ('text', 'jsonb', 'character varying')
              AND c.is_generated = 'NEVER'
              AND c.table_name NOT IN ('role', 'permission', 'role_permission',
                                       'payment_method', 'refinery_schema_history')
        LOOP
            EXECUTE format(
                'UPDATE %I SET %I = regexp_replace(%I::text, %L, %L, %L)::%s WHERE %I::text ~ %L',
                col.table_name, col.column_name, col.column_name,
                '[A-Za-z]{2,}([ ,]+[A-Za-z]{2,})+', '某某', 'g', col.data_type,
                col.column_name, '[A-Za-z]{2,}[ ,]+[A-Za-z]{2,}');
        END LOOP;
    END $$;
    UPDATE department SET name = '柜台' WHERE name = 'Counter';
    UPDATE operator SET full_name = '巡查员' WHERE login = 'walker';
"#;

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_in_chinese() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    demo::load(&db.pool, 80, |_| {}).await.unwrap();
    db.create_operator("walker", &["administrator", "supervisor", "clerk"])
        .await;
    db.execute_as_superuser(CHINESE_DATA).await;
    // "表号" in GBK: not UTF-8.
    std::fs::write(NOT_UTF8_FILE, b"\xb1\xed\xba\xc5\r\n").unwrap();

    let mut desk = Desk::new(&db.conn_str, Lang::Zh);
    let mut findings = check("sign-in", &desk);
    desk.sign_in("walker", TEST_PASSWORD).await;
    for (walk, steps) in WALKS {
        findings.extend(check(walk, &desk));
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Customer(query) => {
                    let number: i64 = client.query_one(query, &[]).await.unwrap().get(0);
                    desk.key(Char('/')).await;
                    for _ in 0..12 {
                        desk.key(Backspace).await;
                    }
                    desk.text(&format!("{number:08}")).await;
                    desk.key(Enter).await;
                }
                Key(code) => desk.key(code).await,
                Text(text) => desk.text(text).await,
                Command(name) => desk.command(name).await,
            }
            findings.extend(check(&format!("{walk}, step {}", n + 1), &desk));
        }
        desk.key(F(1)).await;
        findings.extend(check(&format!("{walk}, help"), &desk));
        desk.key(Esc).await;
        // Home; asked once over unsaved typing.
        desk.ctrl('g').await;
        if !desk.app.screen.is::<CustomerTable>() {
            desk.ctrl('g').await;
        }
        // Out of the search box, to the rows.
        desk.key(Esc).await;
        assert!(
            desk.app.screen.is::<CustomerTable>(),
            "{walk}: home again\n{}",
            desk.screen()
        );
    }
    assert!(findings.is_empty(), "{}", findings.join("\n\n"));
}

/// What is wrong on the screen the desk shows now, each with the state's name and the screen.
fn check(state: &str, desk: &Desk) -> Vec<String> {
    let lines = screen_lines(desk);
    let mut found: Vec<String> = lines
        .iter()
        .flat_map(|line| {
            let mut wrong = raw_keys(line);
            wrong.extend(english_sentences(line));
            wrong.extend(unfilled_placeholders(line));
            wrong.extend(half_width_punctuation(line));
            wrong
        })
        .collect();
    found.dedup();
    if found.is_empty() {
        return Vec::new();
    }
    vec![format!("{state}: {found:?}\n{}", lines.join("\n"))]
}

/// The screen at 80×24 as lines of text, a wide character once.
fn screen_lines(desk: &Desk) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| meterdesk::ui::draw(frame, &desk.app))
        .unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            let mut line = String::new();
            let mut x = 0;
            while x < buffer.area.width {
                let symbol = buffer[(x, y)].symbol();
                line.push_str(symbol);
                x += 1;
                // The cell a wide character covers is blank, unless a popup's border was
                // drawn there: that border is kept, so it is not read as the character's
                // neighbour.
                if unicode_width::UnicodeWidthStr::width(symbol) == 2
                    && buffer.cell((x, y)).is_some_and(|cell| cell.symbol() == " ")
                {
                    x += 1;
                }
            }
            line
        })
        .collect()
}

/// Codes a Chinese screen shows as they are: key names, abbreviations, the product's name.
const CODES: &[&str] = &[
    "F",
    "ID",
    "IC",
    "CSV",
    "VAT",
    "PIN",
    "DB",
    "OK",
    "COPY",
    "MAC",
    "UTC",
    "UTF",
    "Enter",
    "Esc",
    "Tab",
    "PgUp",
    "PgDn",
    "Home",
    "End",
    "Ctrl",
    "Shift",
    "Backspace",
    "Delete",
    "Del",
    "Up",
    "Down",
    "Left",
    "Right",
    "meterdesk",
];

/// English sentences on a line: two or more English words (two or more ASCII letters, not part
/// of a code such as `DN15`, an e-mail or a file name, and not in [`CODES`]) separated only by
/// spaces and at most one punctuation mark (`Saved. Press`, `name: Zhang`).
fn english_sentences(line: &str) -> Vec<String> {
    // A command for the shell (`meterdesk readings template > readings.csv`) is code.
    let command = line
        .match_indices("meterdesk ")
        .map(|(at, _)| at)
        .find(|&at| line[at + 10..].starts_with(|c: char| c.is_ascii_lowercase()));
    let line = &line[..command.unwrap_or(line.len())];
    let chars: Vec<char> = line.chars().collect();
    let part_of_code =
        |c: Option<&char>| c.is_some_and(|c| c.is_ascii_digit() || "_@/\\.{}=-".contains(*c));
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let before = start.checked_sub(1).and_then(|b| chars.get(b));
            // `:save` is a command's name on the command line.
            let embedded = (part_of_code(before) && before != Some(&'.'))
                || before == Some(&':')
                || (part_of_code(chars.get(i)) && chars.get(i) != Some(&'.'))
                || (chars.get(i) == Some(&'.')
                    && chars.get(i + 1).is_some_and(char::is_ascii_alphanumeric))
                || (before == Some(&'.') && start >= 2 && chars[start - 2].is_ascii_alphanumeric());
            if word.len() >= 2 && !embedded && !CODES.contains(&word.as_str()) {
                words.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    let mut sentences = Vec::new();
    let mut run: Vec<(usize, usize)> = Vec::new();
    for word in words {
        let joined = run.last().is_some_and(|&(_, end)| {
            let gap: String = chars[end..word.0].iter().collect();
            let marks = gap.chars().filter(|c| ",.:;!?'()".contains(*c)).count();
            marks <= 1
                && gap.chars().all(|c| c == ' ' || ",.:;!?'()".contains(c))
                && gap.chars().filter(|c| *c == ' ').count() <= 2
        });
        if !joined {
            if run.len() >= 2 {
                sentences.push(chars[run[0].0..run[run.len() - 1].1].iter().collect());
            }
            run.clear();
        }
        run.push(word);
    }
    if run.len() >= 2 {
        sentences.push(chars[run[0].0..run[run.len() - 1].1].iter().collect());
    }
    sentences
}

/// What a file name ends with.
const FILE_TYPES: &[&str] = &["csv", "txt", "toml", "json", "log"];

/// Catalogue keys and codes of their shape shown as they are (`open.step_meter`,
/// `login.succeeded`, `card.read`): a text missing from the catalogue, or a code shown instead
/// of its name. A file name (`readings.csv`) or an e-mail's domain is not one.
fn raw_keys(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(|c: char| c.is_ascii_lowercase()) {
        let token_end = rest[start..]
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_' || c == '.'))
            .map_or(rest.len(), |end| start + end);
        let token = rest[start..token_end].trim_end_matches('.');
        let before = rest[..start].chars().next_back();
        let is_code = token.split_once('.').is_some_and(|(section, name)| {
            section.len() >= 2
                && name.len() >= 2
                && !name.contains('.')
                && !FILE_TYPES.contains(&name)
        });
        if is_code && !matches!(before, Some('@' | '/' | '\\' | '-')) {
            found.push(token.to_owned());
        }
        rest = &rest[token_end..];
    }
    found
}

/// Half-width punctuation that Chinese writes full-width: `,:;!?` or a parenthesis right after
/// a Chinese character, or an opening one right before it (`类型: 居民 (个人)`, `收费员, 主管`).
fn half_width_punctuation(line: &str) -> Vec<String> {
    let han = |c: char| matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}');
    let chars: Vec<char> = line.chars().collect();
    chars
        .windows(2)
        .filter(|pair| match *pair {
            [before, mark] if han(*before) && ",:;!?()".contains(*mark) => true,
            [open, after] => *open == '(' && han(*after),
            _ => false,
        })
        .map(|pair| pair.iter().collect())
        .collect()
}

/// `{name}` or `{key:command}` left in a text.
fn unfilled_placeholders(line: &str) -> Vec<String> {
    line.match_indices('{')
        .filter_map(|(start, _)| {
            let end = line[start..].find('}')? + start;
            let inside = &line[start + 1..end];
            (!inside.is_empty()
                && inside
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || "_:-".contains(c)))
            .then(|| line[start..=end].to_owned())
        })
        .collect()
}

#[test]
fn the_checks_find_what_they_look_for() {
    assert_eq!(english_sentences("Press F2 to save"), ["to save"]);
    assert!(english_sentences(" 水表：M00030001（Card DN15），光标所在 · Enter 选定").is_empty());
    assert_eq!(
        english_sentences("保存 · Saved. Press 开户"),
        ["Saved. Press"]
    );
    assert!(
        english_sentences("li@example.cn 读 meters.csv 写 F2 保存 Shift-Tab 上一项").is_empty()
    );
    assert_eq!(raw_keys("开户 open.step_meter 水表"), ["open.step_meter"]);
    assert_eq!(
        half_width_punctuation("类型: 居民 (个人) 收费员, 主管 F2 保存，余额 1.00"),
        ["型:", "(个", "人)", "员,"]
    );
    assert!(raw_keys("li@example.cn 模板 readings.csv").is_empty());
    assert!(english_sentences(" 模板：meterdesk readings template > readings.csv").is_empty());
    assert_eq!(
        unfilled_placeholders("按 {key:save} 保存 {count} 张"),
        ["{key:save}", "{count}"]
    );
}
