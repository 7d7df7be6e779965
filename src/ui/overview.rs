//! The overview (`:overview`): who is signed in and the counter's figures for today.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::inert::inert;
use super::text::width;
use super::theme::Theme;
use crate::app::state::OverviewView;
use crate::app::{App, Command};

pub fn draw(frame: &mut Frame, area: Rect, view: &OverviewView, app: &App, theme: &Theme) {
    let lang = app.lang;
    let mut lines = vec![Line::raw("")];
    if let Some(session) = &app.session {
        let welcome = lang.tf(
            "overview.signed_in",
            &[
                ("name", &inert(&session.full_name)),
                ("roles", &session.roles.join(", ")),
                ("department", &inert(&session.department)),
            ],
        );
        lines.push(Line::from(Span::styled(
            format!(" {welcome}"),
            theme.title(),
        )));
        lines.push(Line::raw(""));
    }
    match &view.overview {
        None => lines.push(Line::styled(
            format!(" {}", lang.t("overview.loading")),
            theme.dim(),
        )),
        Some(overview) => {
            let figures = [
                ("overview.customers", overview.customers.to_string()),
                (
                    "overview.card_customers",
                    overview.card_customers.to_string(),
                ),
                ("overview.active_cards", overview.active_cards.to_string()),
                (
                    "overview.uninstalled_meters",
                    overview.uninstalled_meters.to_string(),
                ),
                (
                    "overview.payments_today",
                    overview.payments_today.to_string(),
                ),
                (
                    "overview.takings_today",
                    format!("{:.2}", overview.takings_today),
                ),
            ];
            let label_width = figures
                .iter()
                .map(|(key, _)| width(lang.t(key)))
                .max()
                .unwrap_or(0);
            for (key, value) in figures {
                let label = lang.t(key);
                let pad = label_width - width(label);
                lines.push(Line::raw(format!(
                    " {label}{} {value:>14}",
                    " ".repeat(pad)
                )));
            }
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(" {}", lang.t("overview.reference")),
        theme.title(),
    ));
    for command in [
        Command::Meters,
        Command::MeterTypes,
        Command::Schemes,
        Command::CustomerTypes,
    ] {
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
