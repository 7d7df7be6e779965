//! The overview screen.

use crate::support::*;
use meterdesk::domain::money::Money;

#[test]
fn overview_screen() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "overview");
    let sent = press(&mut app, KeyCode::Enter);
    let overview = Overview {
        customers: 1_000_000,
        card_customers: 333_334,
        uninstalled_meters: 5_000,
        active_cards: 250_001,
        today: Some(Takings {
            payments: 17,
            takings: Money::from_cents(1_234_550),
        }),
    };
    answer(&mut app, &sent, Reply::screen(overview));
    insta::assert_snapshot!(render(&app));
    press(&mut app, KeyCode::F(3));
    assert!(
        app.screen.is::<CustomerTable>(),
        "F3 goes back to the table"
    );
}

/// s45-b: an operator whose roles serve no customer is refused the day's money by the database
/// (sql/V254) and reads no customer's row: the overview says so in words, at 80x24 in both
/// languages, and shows no customer count nor "0.00".
#[test]
fn the_overview_of_roles_that_serve_no_customer_says_so() {
    for lang in [Lang::En, Lang::Zh] {
        let mut app = signed_in(lang);
        press(&mut app, KeyCode::Char(':'));
        type_text(&mut app, "overview");
        let sent = press(&mut app, KeyCode::Enter);
        let overview = Overview {
            uninstalled_meters: 5_000,
            ..Overview::default()
        };
        answer(&mut app, &sent, Reply::screen(overview));
        let screen = render(&app);
        assert!(!screen.contains("0.00"), "{screen}");
        insta::assert_snapshot!(format!("serves_no_customer_{lang:?}"), screen);
    }
}
