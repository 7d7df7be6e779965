//! What every screen shares: the help overlay, the command line and the form framework.

use crate::support::*;

#[test]
fn help_is_generated_from_the_live_keymap() {
    let mut app = signed_in(Lang::En);
    app.keymap = KeyMap::new(&[("quit".to_owned(), vec!["Ctrl-q".to_owned()])].into()).unwrap();
    press(&mut app, KeyCode::F(1));
    let screen = render(&app);
    assert!(screen.contains("Ctrl-q"), "{screen}");
    assert!(!screen.contains("F10"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// Esc and the next key typed ahead over a slow link arrive as one Alt+key: taken as both.
#[test]
fn esc_and_a_key_that_arrive_together_are_both_typed() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::F(1));
    assert!(render(&app).contains("Help"));
    let alt = |c| Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT));
    update(&mut app, alt('/'));
    type_text(&mut app, "wang");
    let screen = render(&app);
    assert!(!screen.contains("Help —"), "Esc closed the help: {screen}");
    assert!(
        screen.contains("Search: wang"),
        "/ opened the search: {screen}"
    );

    // An Alt+key the desk binds stays that key.
    let mut app = signed_in(Lang::En);
    app.keymap = KeyMap::new(&[("quit".to_owned(), vec!["Alt-x".to_owned()])].into()).unwrap();
    update(&mut app, alt('x'));
    assert!(app.quit);
}

/// At 80×20 the customer table's help is taller than the screen: it scrolls to its end (the
/// last commands and how to close it), no further, and back (17 rows since the table's help has
/// no line on fields, s35-m); at 80×24 (since its command-line
/// words are only those that run there, s35-k) and on a tall terminal it all fits.
#[test]
fn help_taller_than_the_screen_scrolls_to_its_end_and_back() {
    let size = (80, 20);
    let mut app = signed_in_at(Lang::Zh, size);
    press(&mut app, KeyCode::F(1));
    let top = render_at(&app, size);
    assert!(top.contains("第 1–15 行，共 17 行"), "{top}");
    assert!(!top.contains("关闭帮助"), "{top}");

    press(&mut app, KeyCode::End);
    let end = render_at(&app, size);
    assert!(end.contains(":lang :messages"), "{end}");
    assert!(end.contains("关闭帮助"), "{end}");
    assert!(end.contains("第 3–17 行，共 17 行"), "{end}");
    for _ in 0..6 {
        press(&mut app, KeyCode::Down);
    }
    assert_eq!(render_at(&app, size), end, "↓ at the end shows nothing new");
    press(&mut app, KeyCode::Up);
    assert!(
        render_at(&app, size).contains("第 2–16 行"),
        "one ↑ after the end moves one row"
    );
    press(&mut app, KeyCode::PageUp);
    assert_eq!(render_at(&app, size), top, "PgUp goes back to the top");
    press(&mut app, KeyCode::PageDown);
    assert!(
        render_at(&app, size).contains("第 3–17 行"),
        "PgDn stops at the end"
    );
    insta::assert_snapshot!(end);

    for size in [(80, 24), (80, 40)] {
        let mut tall = signed_in_at(Lang::Zh, size);
        press(&mut tall, KeyCode::F(1));
        let whole = render_at(&tall, size);
        assert!(
            whole.contains(":lang :messages") && whole.contains("关闭帮助"),
            "{whole}"
        );
        assert!(!whole.contains("PgUp PgDn 滚动"), "{whole}");
    }
}

#[test]
fn command_line_completes_and_runs_commands() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "ref");
    press(&mut app, KeyCode::Tab);
    let screen = render(&app);
    assert!(screen.contains(":refresh"), "{screen}");
    let sent = press(&mut app, KeyCode::Enter);
    assert!(matches!(sent.as_slice(), [(_, request)] if request.of::<Fetch>().is_some()));
    // Keys typed before the refreshed page arrives wait for it (type-ahead).
    press(&mut app, KeyCode::Char(':'));
    assert!(app.overlay.is_none(), "the ':' waits for the page");
    answer(&mut app, &sent, Reply::screen(sample_page(19)));
    assert!(app.overlay.is_some(), "…and is applied when it comes");
    press(&mut app, KeyCode::Esc);

    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "fly");
    press(&mut app, KeyCode::Enter);
    let screen = render(&app);
    assert!(screen.contains("Unknown command: fly"), "{screen}");

    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "lang zh");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.lang, Lang::Zh);

    press(&mut app, KeyCode::F(3));
    assert!(app.session.is_some(), "F3 on the table asks first");
    press(&mut app, KeyCode::F(2));
    assert!(app.screen.is::<SignIn>(), "F2 on the question signs out");
    assert!(app.session.is_none());
}

/// The form framework on its own at 80×24: labels, a required mark, a right-aligned amount, a
/// stored value with an escape sequence drawn inert, errors next to the fields after F2, then
/// the F4 lookup over a choice field.
#[test]
fn form_with_errors_and_a_lookup() {
    use meterdesk::app::Command;
    use meterdesk::app::form::{Choice, Field, FieldKind, Form};
    let mut form = Form::new(vec![
        Field::new("details.address", FieldKind::Text { max: 200 }, true),
        Field::new("details.phone", FieldKind::Digits { len: 11 }, true),
        Field::new(
            "details.balance",
            FieldKind::Amount {
                max: Decimal::new(100_000, 0),
            },
            false,
        ),
        Field::new(
            "details.type",
            FieldKind::Choice(vec![
                Choice {
                    key: "1".into(),
                    label: "居民卡表".into(),
                },
                Choice {
                    key: "2".into(),
                    label: "Commercial postpaid".into(),
                },
            ]),
            true,
        ),
        Field::new("details.opened", FieldKind::Date, false),
    ]);
    form.set(0, "Evil\x1b[31m road");
    form.focus = 2;
    let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
    for c in "1234.5".chars() {
        form.on_key(key(KeyCode::Char(c)), None, Lang::En);
    }
    form.on_key(key(KeyCode::Tab), Some(Command::NextField), Lang::En);
    form.on_key(key(KeyCode::Tab), Some(Command::NextField), Lang::En);
    for c in "2026-02-30".chars() {
        form.on_key(key(KeyCode::Char(c)), None, Lang::En);
    }
    form.on_key(key(KeyCode::F(2)), Some(Command::Save), Lang::En);
    let draw = |form: &Form| {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal
            .draw(|frame| {
                let theme = ui::theme::Theme::new(Default::default());
                ui::form::draw(frame, frame.area(), form, Lang::En, &theme)
            })
            .unwrap();
        terminal.backend().to_string()
    };
    insta::assert_snapshot!("form_errors_next_to_fields", draw(&form));
    form.focus = 3;
    form.on_key(key(KeyCode::F(4)), Some(Command::Lookup), Lang::En);
    form.on_key(key(KeyCode::Char('c')), None, Lang::En);
    insta::assert_snapshot!("form_lookup_list", draw(&form));
}

/// The legend and the help offer only what the signed-in operator's roles allow, with the keys
/// of the live keymap: the clerk is offered no card replacement nor the supervisor's card
/// commands, the supervisor is; an administrator none of a customer's changes or card writes.
#[test]
fn the_legend_and_the_help_offer_only_what_the_roles_allow() {
    let as_roles = |permissions: &[&str]| {
        let mut app = signed_in(Lang::En);
        app.keymap =
            KeyMap::new(&[("replace-card".to_owned(), vec!["F11".to_owned()])].into()).unwrap();
        if !permissions.is_empty() {
            app.session.as_mut().unwrap().permissions =
                permissions.iter().map(|p| (*p).to_owned()).collect();
        }
        // The second row, a card meter's: the table offers the card's keys there.
        press(&mut app, KeyCode::Down);
        app
    };
    let legend = |app: &App| render(app).lines().last().unwrap().to_owned();
    let help = |app: &mut App| {
        press(app, KeyCode::F(1));
        let screen = render(app);
        press(app, KeyCode::F(1));
        screen
    };

    let mut clerk = as_roles(&[]);
    assert_eq!(
        legend(&clerk),
        "\"F1 Help  / Search  Enter Details  o Open account  m Modify  t Transfer          \""
    );
    let shown = help(&mut clerk);
    for offered in ["Open card", "Recharge", ":recharge"] {
        assert!(shown.contains(offered), "{offered}: {shown}");
    }
    for withheld in [
        "F11",
        "Replace card",
        ":replace-card",
        ":card-refund",
        ":operators",
    ] {
        assert!(!shown.contains(withheld), "{withheld}: {shown}");
    }

    let mut supervisor = as_roles(&[
        "customer.view",
        "customer.open",
        "customer.modify",
        "customer.transfer",
        "card.open",
        "card.replace",
        "card.recharge",
        "card.refund",
        "card.resolve",
    ]);
    let shown = help(&mut supervisor);
    // A card's refund is the card screen's (`:card`), not the table's: not among its words.
    for offered in ["F11", "Replace card", ":replace-card"] {
        assert!(shown.contains(offered), "{offered}: {shown}");
    }
    assert!(!shown.contains(":operators"), "{shown}");

    let mut administrator = as_roles(&["customer.view", "card.read", "operator.maintain"]);
    assert_eq!(
        legend(&administrator),
        "\"F1 Help  / Search  Enter Details  $ Account  b Bills  F5 Refresh  PgDn Next page\""
    );
    let shown = help(&mut administrator);
    for withheld in [
        "Open account",
        "Modify",
        "Transfer",
        "Open card",
        "Recharge",
        // Nor its command-line words, though `:modify` needs no permission of its own: the
        // customer table's does.
        ":modify",
    ] {
        assert!(!shown.contains(withheld), "{withheld}: {shown}");
    }
    assert!(shown.contains(":operators"), "{shown}");
}

/// Runs `typed` on the command line.
fn command(app: &mut App, typed: &str) {
    press(app, KeyCode::Char(':'));
    type_text(app, typed);
    press(app, KeyCode::Enter);
}

/// A message longer than the line is cut there, and `:messages` shows it whole with its time,
/// the newest last; Up shows older ones, F12 closes.
#[test]
fn messages_longer_than_the_line_can_be_read_whole() {
    let mut app = signed_in(Lang::En);
    // Past the three rows a message may take (`chrome::SPILL_ROWS`).
    let long = format!("{}END", "x".repeat(250));
    command(&mut app, &long);
    let screen = render(&app);
    assert!(!screen.contains("END"), "the line cuts it: {screen}");
    command(&mut app, "messages");
    let screen = render(&app);
    let whole: String = screen
        .lines()
        .map(|line| line.trim_matches(|c| c == '"' || c == ' ' || c == '│'))
        .collect();
    assert!(whole.contains(&long), "{screen}");
    assert!(
        screen.contains("Welcome, 王芳."),
        "older ones too: {screen}"
    );
    let time = app.said.back().unwrap().at.with_timezone(&app.zone);
    assert!(
        screen.contains(&time.format("%H:%M:%S").to_string()),
        "{screen}"
    );
    press(&mut app, KeyCode::Up);
    assert!(!render(&app).contains("END"), "Up leaves the newest out");
    press(&mut app, KeyCode::Down);
    let noon = chrono::DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z").unwrap();
    for said in app.said.iter_mut() {
        said.at = noon.to_utc();
    }
    app.zone = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    insta::assert_snapshot!("messages_at_80x24", render(&app));
    let sent = update(&mut app, Msg::Resize(60, 20)).requests;
    answer(&mut app, &sent, Reply::screen(sample_page(14)));
    insta::assert_snapshot!("messages_at_60x20", render_at(&app, (60, 20)));

    press(&mut app, KeyCode::F(12));
    assert!(app.overlay.is_none());
}

/// A message said on one screen is gone on the next one, and in another language.
#[test]
fn messages_of_a_previous_screen_or_language_do_not_linger() {
    let mut app = signed_in(Lang::En);
    assert!(render(&app).contains("Welcome, 王芳."));
    press(&mut app, KeyCode::Enter);
    assert!(
        !render(&app).contains("Welcome"),
        "Details has its own line"
    );
    press(&mut app, KeyCode::F(3));
    command(&mut app, "nosuch");
    assert!(render(&app).contains("Unknown command"));
    command(&mut app, "lang zh");
    let screen = render(&app);
    assert!(!screen.contains("Unknown command"), "{screen}");
    command(&mut app, "messages");
    assert!(
        render(&app).contains("Unknown command"),
        ":messages keeps it"
    );
}

/// Session 32, by hand: the top line cut the office ("李晓明 Li Xiaoming@营业…") even at 100
/// columns, where it has the room. At 80 the office gives way, from its end, and the
/// breadcrumbs stay whole (the unit tests of `ui::chrome` go deeper); the database and reader
/// states stay whole, and no wide character is halved.
#[test]
fn the_top_line_gives_the_operator_and_office_the_room_it_has() {
    let mut app = signed_in_at(Lang::Zh, (100, 30));
    let session = app.session.as_mut().unwrap();
    session.full_name = "李晓明 Li Xiaoming".into();
    session.department = "营业一厅 Counter Hall 1".into();
    let top = render_at(&app, (100, 30))
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        top.contains("李晓明 Li Xiaoming@营业一厅 Counter Hall 1 │ 数据库：正常"),
        "{top}"
    );
    // At 80 the breadcrumbs stay whole: the office gives way, from its end.
    update(&mut app, Msg::Resize(80, 24));
    let top = render_at(&app, (80, 24)).lines().next().unwrap().to_owned();
    assert!(top.contains(" meterdesk › 客户 "), "{top}");
    assert!(top.contains("李晓明 Li Xiaoming@营业一厅 Count"), "{top}");
    assert!(top.contains("… │ 数据库：正常 │ 卡：无卡"), "{top}");
}

/// s35-h/s35-c, found: every help listed every command's name among the command line's words
/// — ":next-field", ":prev-field", ":save", ":cancel", ":command-line", and the card screen's
/// ":card-refund" on the customer table — which typed there did nothing or said "… is not
/// available here". The words are now those `:` runs on the screen (`App::typed_commands`):
/// each one listed, typed on the line, is no "not available" and no "Unknown command"; at
/// 80×24 the customer table's help, in either language, fits without scrolling.
#[test]
fn the_helps_command_line_words_are_those_that_run_there() {
    for lang in [Lang::En, Lang::Zh] {
        let mut app = signed_in_at(lang, (80, 24));
        press(&mut app, KeyCode::F(1));
        let screen = render_at(&app, (80, 24));
        for key_only in [
            ":next-field",
            ":prev-field",
            ":save",
            ":cancel",
            ":command-line",
            ":card-refund",
            ":lookup",
        ] {
            assert!(!screen.contains(key_only), "{lang:?} {key_only}: {screen}");
        }
        // The customer word with what it takes, whole on one line (":c" alone is refused).
        let customer_word = if lang == Lang::En {
            ":c\u{a0}<customer\u{a0}no.>"
        } else {
            ":c\u{a0}<客户号>"
        };
        assert!(
            screen.contains(":overview")
                && screen.contains(":meters")
                && screen.contains(customer_word),
            "{lang:?}: {screen}"
        );
        insta::assert_snapshot!(format!("table_help_{lang:?}").to_lowercase(), screen);
    }

    // Every word listed runs: on the customer table and on a customer's bills.
    let on_the_table = || signed_in(Lang::En);
    let on_the_bills = || {
        let mut app = signed_in(Lang::En);
        let sent = press(&mut app, KeyCode::Char('b'));
        answer(
            &mut app,
            &sent,
            Reply::screen(Some(crate::readings::bills())),
        );
        app
    };
    for (screen, open) in [
        ("table", &on_the_table as &dyn Fn() -> App),
        ("bills", &on_the_bills),
    ] {
        let listed: Vec<&str> = open()
            .typed_commands()
            .into_iter()
            .map(|command| command.name())
            .collect();
        assert!(!listed.is_empty(), "{screen}");
        for word in listed {
            let mut app = open();
            press(&mut app, KeyCode::Char(':'));
            type_text(&mut app, word);
            press(&mut app, KeyCode::Enter);
            let shown = render(&app);
            assert!(
                !shown.contains("not available here") && !shown.contains("Unknown command"),
                "{screen} :{word}: {shown}"
            );
        }
    }
    assert!(
        !on_the_bills()
            .typed_commands()
            .contains(&meterdesk::app::Command::Cancel),
        "Esc is the bills' way back, F3's word `:leave`"
    );

    // Tab completes only those words: `:ne` has none on the table, `:ov` is `:overview`.
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "ne");
    press(&mut app, KeyCode::Tab);
    assert!(!render(&app).contains(":next-field"), "{}", render(&app));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "ov");
    press(&mut app, KeyCode::Tab);
    assert!(render(&app).contains(":overview"), "{}", render(&app));
}

/// s35-k, found: every help said "Tab / Shift-Tab: next / previous field · Enter: next field;
/// on the last, confirm", also on screens with no field (the customer table, the bills). The
/// line is now shown only where the screen on top has fields (`Screen::has_fields`): not on
/// the customer table nor the bills, still on an account's recharge form; en and zh, 80×24.
#[test]
fn the_help_says_how_to_move_between_fields_only_where_there_are_fields() {
    for (lang, line) in [
        (Lang::En, "next / previous field"),
        (Lang::Zh, "下一栏 / 上一栏"),
    ] {
        let mut app = signed_in_at(lang, (80, 24));
        press(&mut app, KeyCode::F(1));
        let screen = render_at(&app, (80, 24));
        assert!(!screen.contains(line), "{lang:?} table: {screen}");
        insta::assert_snapshot!(
            format!("table_help_no_fields_{lang:?}").to_lowercase(),
            screen
        );
        press(&mut app, KeyCode::Esc);

        let sent = press(&mut app, KeyCode::Char('b'));
        answer(
            &mut app,
            &sent,
            Reply::screen(Some(crate::readings::bills())),
        );
        press(&mut app, KeyCode::F(1));
        let screen = render_at(&app, (80, 24));
        assert!(
            screen.contains("Space"),
            "{lang:?} the bills' help: {screen}"
        );
        assert!(!screen.contains(line), "{lang:?} bills: {screen}");
        insta::assert_snapshot!(
            format!("bills_help_no_fields_{lang:?}").to_lowercase(),
            screen
        );
        press(&mut app, KeyCode::Esc);

        let mut app = signed_in_at(lang, (80, 24));
        crate::account::open_account(&mut app, "system_prepaid", KeyCode::Char('r'));
        press(&mut app, KeyCode::F(1));
        let screen = render_at(&app, (80, 24));
        assert!(screen.contains(line), "{lang:?} recharge form: {screen}");
    }
}
