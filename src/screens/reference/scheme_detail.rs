//! One price scheme (Details on `:schemes`): its facts and price versions, and the price of a
//! typed volume after a typed accumulated volume at the prices in force (the preview); Prices
//! changes them from a date (`price.maintain`).

use chrono::FixedOffset;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use rust_decimal::Decimal;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::requests::{RefAnswer, RefWork, answer, command_waits_for, read_waiting_says, send};
use super::schemes::{SchemeReply, SchemeRequest, months, prices_form};
use super::texts::{kind_key, mode_key, scheme_error_text};
use crate::app::form::{field_error_text, halfwidth_key};
use crate::app::keymap::edits_text;
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::price_schemes::SchemeDetail;
use crate::domain::money::{MAX_VOLUME, UnitPrice};
use crate::domain::pricing::{Charge, Tier};
use crate::domain::validation;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::text::{truncate, widest, width};
use crate::ui::theme::Theme;

/// One scheme with its versions, and the price of a typed volume.
#[derive(Debug, Clone)]
pub struct SchemeView {
    pub id: i64,
    pub name: String,
    pub detail: Option<Box<SchemeDetail>>,
    /// m³ to price; typing goes here.
    pub volume: Input,
    /// m³ already accumulated in the cycle (blank: 0): where the volume starts in the tiers.
    pub accumulated: Input,
    /// Typing goes to `accumulated` (Tab switches).
    pub on_accumulated: bool,
    /// The price of `volume` at the prices in force after `accumulated`; `Err` says why not.
    pub preview: Option<Result<Charge, String>>,
    /// Its read failed (the database unreachable past its deadline, the statement timed out):
    /// said as such, F5 reads it again — not "deleted".
    pub not_read: bool,
}

impl SchemeView {
    /// Scheme `id`, read when it opens.
    pub fn new(id: i64, name: &str) -> SchemeView {
        SchemeView {
            id,
            name: name.to_owned(),
            detail: None,
            volume: Input::default(),
            accumulated: Input::default(),
            on_accumulated: false,
            preview: None,
            not_read: false,
        }
    }

    /// The prices form, starting from the prices in force (or the latest), filled from the
    /// scheme as read; None before it is read. `zone`: the desk's.
    fn prices_form(&self, zone: FixedOffset) -> Option<super::form::RefForm> {
        let detail = self.detail.as_ref()?;
        let tiers = detail
            .versions
            .iter()
            .rev()
            .find(|v| Some(v.effective_from) <= detail.row.current_from)
            .or(detail.versions.last())
            .map(|v| v.tiers.as_slice());
        Some(prices_form(
            self.id,
            &detail.row.fields,
            tiers.unwrap_or_default(),
            zone,
        ))
    }

    /// Its read, whose answer the prices form is filled from.
    fn read(&self) -> SchemeRequest {
        SchemeRequest::Detail { id: self.id }
    }
}

impl Screen for SchemeView {
    fn crumb(&self, _lang: Lang) -> String {
        inert(&self.name).into_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        super::common::commands_with(&[
            (Command::Prices, "command.prices"),
            (Command::Refresh, "command.refresh"),
        ])
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let mut lines = vec![Line::styled(
            format!(" {}", inert(&self.name)),
            theme.title(),
        )];
        let Some(detail) = &self.detail else {
            lines.push(if self.not_read {
                let text = app.t("ref.scheme_not_read");
                Line::styled(format!(" ! {text}"), theme.error())
            } else {
                super::common::note(lang.t("ref.loading"), theme)
            });
            frame.render_widget(Paragraph::new(lines), area);
            return;
        };
        let row = &detail.row;
        let room = usize::from(area.width).saturating_sub(1);
        let facts = lang.tf(
            "ref.scheme_facts",
            &[
                ("kind", &lang.t(kind_key(row.fields.kind))),
                ("mode", &lang.t(mode_key(row.fields.mode))),
                ("vat", &row.fields.vat_percent),
                ("accumulation", &months(row.fields.accumulation_months)),
                ("settlement", &months(row.fields.settlement_months)),
                ("start", &row.fields.start_date),
            ],
        );
        lines.extend(flowed(&facts, room).into_iter().map(Line::raw));
        lines.push(Line::raw(""));
        for version in &detail.versions {
            let in_force = Some(version.effective_from) == row.current_from;
            let mark = if in_force { lang.t("ref.in_force") } else { "" };
            let text = format!(
                "{} {} {mark}",
                lang.tf("ref.from_date", &[("date", &version.effective_from)]),
                tiers_text(&version.tiers, lang)
            );
            let style = if in_force {
                theme.title()
            } else {
                Style::new()
            };
            lines.extend(
                flowed(text.trim_end(), room)
                    .into_iter()
                    .map(|line| Line::styled(line, style)),
            );
        }
        lines.push(Line::raw(""));
        // The two number fields, the one typed into marked; the cursor goes to it.
        let mut cursor_at = None;
        let fields = [
            ("ref.preview_volume", &self.volume, !self.on_accumulated),
            (
                "ref.preview_accumulated",
                &self.accumulated,
                self.on_accumulated,
            ),
        ];
        let label_width = widest(fields.iter().map(|(key, ..)| lang.t(key)));
        for (key, input, focused) in fields {
            let text = lang.t(key);
            let label = format!(" {text}{} ", " ".repeat(label_width - width(text)));
            let value = truncate(&inert(input.value()), 13);
            let style = theme.input(focused);
            lines.push(Line::from(vec![
                Span::raw(label.clone()),
                Span::styled(
                    format!(
                        "{value}{}",
                        " ".repeat(13usize.saturating_sub(width(&value)))
                    ),
                    style,
                ),
            ]));
            if focused {
                cursor_at = Some((
                    lines.len() - 1,
                    width(&label) + input.visual_cursor().min(13),
                ));
            }
        }
        lines.push(super::common::note(lang.t("ref.preview_hint"), theme));
        match &self.preview {
            None => {}
            Some(Err(error)) => lines.push(Line::styled(format!(" ! {error}"), theme.error())),
            Some(Ok(charge)) => {
                for tier in &charge.tiers {
                    lines.push(Line::raw(format!(
                        " {}",
                        lang.tf(
                            "ref.preview_tier",
                            &[
                                ("tier", &tier.tier),
                                ("volume", &tier.volume),
                                ("price", &tier.unit_price),
                                ("amount", &tier.amount),
                            ],
                        )
                    )));
                }
                lines.push(Line::styled(
                    format!(
                        " {}",
                        lang.tf(
                            "ref.preview_total",
                            &[("amount", &charge.amount), ("vat", &charge.vat),],
                        )
                    ),
                    theme.title(),
                ));
            }
        }
        if let Some((row, column)) = cursor_at
            && let (Ok(row), Ok(column)) = (u16::try_from(row), u16::try_from(column))
            && row < area.height
        {
            frame.set_cursor_position((area.x + column, area.y + row));
        }
        frame.render_widget(Paragraph::new(lines), area);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        self.not_read = false;
        send(hub, self.read());
    }

    /// What is typed goes to the field typed into, so that `12,5`, `1e9` or `-5` is refused
    /// as typed instead of priced as 125, 19 or 5 m³; `:`, `?` and the letters of this
    /// screen's commands keep their meaning. Tab switches between the volume and the
    /// accumulated volume.
    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        // Volumes are ASCII: what an input method types full-width is read so.
        let key = halfwidth_key(key);
        let offered = command.is_some_and(|command| {
            self.commands()
                .iter()
                .any(|(offered, _)| *offered == command)
        });
        let typed = match key.code {
            KeyCode::Char(c) if c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+') => true,
            KeyCode::Char(c) => c.is_alphabetic() && !offered,
            _ => true,
        };
        if typed && edits_text(&key) {
            let input = if self.on_accumulated {
                &mut self.accumulated
            } else {
                &mut self.volume
            };
            let before = input.value().to_owned();
            input.handle_event(&crossterm::event::Event::Key(key));
            if input.value() != before {
                price_preview(self, hub.app.lang);
            }
            return true;
        }
        if matches!(key.code, KeyCode::Tab | KeyCode::BackTab) {
            self.on_accumulated = !self.on_accumulated;
            return true;
        }
        false
    }

    fn permission(&self, command: Command) -> Option<&'static str> {
        super::common::change_permission(command, SchemeRequest::PERMISSION)
    }

    /// Prices waits for the scheme's read: its form is filled from what it brings (the
    /// fields its tiers are checked against and the database compares).
    fn key_waits(&self, key: &KeyEvent, app: &App) -> bool {
        self.detail.is_none()
            && command_waits_for(key, app, &self.read(), |command| command == Command::Prices)
    }

    fn waiting_says(&self, app: &App) -> Option<&'static str> {
        Some(read_waiting_says(app, &self.read()))
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            // Not read (its read waits, `key_waits`, or failed): nothing to fill it from.
            Command::Prices => match self.prices_form(hub.app.zone) {
                Some(form) => hub.open(Box::new(form)),
                None if self.not_read => {
                    let text = hub.app.t("ref.scheme_not_read");
                    hub.say(MessageKind::Error, text);
                }
                None => hub.say(MessageKind::Info, hub.app.lang.t("ref.loading")),
            },
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some((_, RefAnswer::Done(SchemeReply::Detail(detail)))) =
            answer::<SchemeRequest>(request, reply)
        else {
            return;
        };
        // Gone (by the owner: schemes have no delete): the list is read again and shown, as
        // said. The list is the screen beneath the details, which may be covered by the prices
        // form whose refusal asked for this read: the form stays on top, over the list.
        if detail.is_none() {
            hub.notify_beneath(Notice::Reload);
            hub.leave();
            hub.say(MessageKind::Error, hub.app.lang.t("ref.gone"));
            return;
        }
        self.not_read = false;
        self.detail = detail.clone();
        price_preview(self, hub.app.lang);
    }

    /// Its read failed (the hub says why): F5 reads it again.
    fn on_failure(&mut self, request: &dyn ScreenRequest, _hub: &mut Hub) {
        if super::requests::is::<SchemeRequest>(request, |work| *work == self.read()) {
            self.not_read = true;
        }
    }

    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        super::requests::reload(notice, self.read(), hub);
    }
}

/// The price of the typed volume at the prices in force (or the first ones, before the
/// scheme starts), after the typed accumulated volume.
fn price_preview(view: &mut SchemeView, lang: Lang) {
    let text = view.volume.value().trim();
    view.preview = match (&view.detail, text.is_empty()) {
        (_, true) | (None, _) => None,
        (Some(detail), false) => Some(preview_of(
            detail,
            text,
            view.accumulated.value().trim(),
            lang,
        )),
    };
}

fn preview_of(
    detail: &SchemeDetail,
    text: &str,
    accumulated: &str,
    lang: Lang,
) -> Result<Charge, String> {
    let volume =
        validation::volume(text, MAX_VOLUME).map_err(|error| field_error_text(lang, &error))?;
    let accumulated = if accumulated.is_empty() {
        Decimal::ZERO
    } else {
        validation::volume(accumulated, MAX_VOLUME)
            .map_err(|error| field_error_text(lang, &error))?
    };
    let scheme = detail
        .pricing()
        .map_err(|error| scheme_error_text(lang, &error))?;
    let on = detail
        .row
        .current_from
        .unwrap_or(detail.row.fields.start_date);
    let prices = scheme
        .prices_on(on)
        .ok_or_else(|| lang.t("ref.no_prices").to_owned())?;
    prices
        .charge_for_volume(accumulated, volume)
        .map_err(|_| lang.t("ref.volume_too_large").to_owned())
}

/// A version's tiers on one line: `≤ 50 m³ 1.0000 · ≤ 100 m³ 2.0000 · above 3.0000`.
/// `text`, its parts joined by " · ", on lines of `room` cells after a space: a line ends before
/// the part that would pass the edge, which goes on the next line, indented, so that no price nor
/// date is cut (s44-e, by hand: "… · settlement 2 months · f…" at 80 columns). A part wider
/// than a line alone is cut.
fn flowed(text: &str, room: usize) -> Vec<String> {
    const JOIN: &str = " · ";
    let mut lines = vec![String::from(" ")];
    for (index, part) in text.split(JOIN).enumerate() {
        let line = lines.last_mut().expect("a line");
        if index > 0 && width(line) + width(JOIN) + width(part) <= room + 1 {
            line.push_str(JOIN);
        } else if index > 0 {
            lines.push(String::from("   "));
        }
        lines.last_mut().expect("a line").push_str(part);
    }
    lines
        .into_iter()
        .map(|line| truncate(&line, room + 1))
        .collect()
}

fn tiers_text(tiers: &[Tier], lang: Lang) -> String {
    tiers
        .iter()
        .map(|tier| {
            // Stored as `NUMERIC(10,4)`: shown at its 4 decimals, never cut.
            let price = UnitPrice::exact(tier.unit_price)
                .map_or_else(|_| tier.unit_price.to_string(), |price| price.to_string());
            match tier.up_to {
                Some(bound) => lang.tf("ref.tier_to", &[("bound", &bound), ("price", &price)]),
                None => lang.tf("ref.tier_rest", &[("price", &price)]),
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}
