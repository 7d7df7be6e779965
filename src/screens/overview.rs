//! The overview (`:overview`): who is signed in and the counter's figures for today, read
//! when it opens and on F5, and the way to the reference screens.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use chrono::FixedOffset;
use deadpool_postgres::Client;

use super::legend::{BACK, framed, usual};
use crate::app::requests::Read;
use crate::app::screen::{ScreenReply, ScreenRequest};
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::overview::{self, Overview};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::text::{widest, width};
use crate::ui::theme::Theme;

/// The reference screens it offers and lists, the way to them.
const REFERENCE_SCREENS: [Command; 4] = [
    Command::Meters,
    Command::MeterTypes,
    Command::Schemes,
    Command::CustomerTypes,
];

/// The overview screen: its figures once read.
#[derive(Debug, Clone, Default)]
pub struct OverviewScreen {
    pub overview: Option<Overview>,
}

/// Reads today's figures, today at the desk in `zone` (the reports' day); answered with an
/// [`Overview`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOverview {
    pub zone: FixedOffset,
}

impl LoadOverview {
    pub fn today(zone: FixedOffset) -> LoadOverview {
        LoadOverview { zone }
    }
}

impl Read for LoadOverview {
    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        overview::today(client, self.zone).await
    }
}

impl Screen for OverviewScreen {
    fn has_fields(&self) -> bool {
        false
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("screen.overview").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        let own = usual([Command::Refresh]).chain(usual(REFERENCE_SCREENS));
        framed([BACK].into_iter().chain(own))
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let mut lines = vec![Line::raw("")];
        if let Some(session) = &app.session {
            let welcome = lang.tf(
                "overview.signed_in",
                &[
                    ("name", &inert(&session.full_name)),
                    ("roles", &lang.roles_named(&session.roles)),
                    ("department", &inert(&session.department)),
                ],
            );
            lines.push(Line::from(Span::styled(
                format!(" {welcome}"),
                theme.title(),
            )));
            lines.push(Line::raw(""));
        }
        match &self.overview {
            None => lines.push(Line::styled(
                format!(" {}", lang.t("overview.loading")),
                theme.dim(),
            )),
            Some(overview) => {
                // The customer side's figures and the day's money are left out, and said in
                // words below, where the database refused the money (sql/V254: roles that serve
                // no customer, who read no customer's row either): never "0" nor "0.00".
                let today = overview.today.unwrap_or_default();
                let figures: Vec<_> = [
                    ("overview.customers", overview.customers.to_string(), true),
                    (
                        "overview.card_customers",
                        overview.card_customers.to_string(),
                        true,
                    ),
                    (
                        "overview.active_cards",
                        overview.active_cards.to_string(),
                        true,
                    ),
                    (
                        "overview.uninstalled_meters",
                        overview.uninstalled_meters.to_string(),
                        false,
                    ),
                    ("overview.payments_today", today.payments.to_string(), true),
                    ("overview.takings_today", today.takings.to_string(), true),
                ]
                .into_iter()
                .filter(|(_, _, of_customers)| overview.today.is_some() || !of_customers)
                .map(|(key, value, _)| (key, value))
                .collect();
                let label_width = widest(figures.iter().map(|(key, _)| lang.t(key)));
                for (key, value) in figures {
                    let label = lang.t(key);
                    let pad = label_width - width(label);
                    lines.push(Line::raw(format!(
                        " {label}{} {value:>14}",
                        " ".repeat(pad)
                    )));
                }
                if overview.today.is_none() {
                    lines.push(Line::styled(
                        format!(" {}", lang.t("overview.takings_not_yours")),
                        theme.dim(),
                    ));
                }
            }
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(" {}", lang.t("overview.reference")),
            theme.title(),
        ));
        // The audit log is listed to those who may read it (`audit.view`).
        let audit = super::audit::permitted(app);
        for command in REFERENCE_SCREENS
            .into_iter()
            .chain(audit.then_some(Command::Audit))
        {
            lines.push(Line::raw(format!(
                "   :{:<12} {}",
                command.name(),
                lang.t(command.label_key())
            )));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(" {}", app.t("overview.next")),
            theme.dim(),
        ));
        frame.render_widget(Paragraph::new(lines), area);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        hub.send(LoadOverview::today(hub.app.zone));
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, _hub: &mut Hub) {
        if let Some(overview) = reply.of::<Overview>() {
            self.overview = Some(overview.clone());
        }
    }
}
