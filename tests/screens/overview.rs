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
        payments_today: 17,
        takings_today: Money::from_cents(1_234_550),
    };
    answer(&mut app, &sent, Reply::screen(overview));
    insta::assert_snapshot!(render(&app));
    press(&mut app, KeyCode::F(3));
    assert!(
        app.screen.is::<CustomerTable>(),
        "F3 goes back to the table"
    );
}
