//! Colours and borders. 16 ANSI colours by default; monochrome uses only bold, reverse and
//! underline, so colour is never the only signal.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;

use crate::app::state::Look;

/// `+-|` borders for terminals that mangle box drawing.
const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

pub struct Theme {
    look: Look,
}

impl Theme {
    pub fn new(look: Look) -> Theme {
        Theme { look }
    }

    fn colour(&self, style: Style, colour: Color) -> Style {
        if self.look.monochrome {
            style
        } else {
            style.fg(colour)
        }
    }

    pub fn border(&self) -> border::Set<'static> {
        if self.look.ascii_borders {
            ASCII_BORDER
        } else {
            border::PLAIN
        }
    }

    /// The top line: reversed so it reads as a bar on any terminal.
    pub fn bar(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn title(&self) -> Style {
        self.colour(Style::new().add_modifier(Modifier::BOLD), Color::Cyan)
    }

    /// A key name in the legend and help.
    pub fn key(&self) -> Style {
        self.colour(Style::new().add_modifier(Modifier::BOLD), Color::Yellow)
    }

    pub fn error(&self) -> Style {
        self.colour(Style::new().add_modifier(Modifier::BOLD), Color::Red)
    }

    pub fn good(&self) -> Style {
        self.colour(Style::new(), Color::Green)
    }

    pub fn dim(&self) -> Style {
        if self.look.monochrome {
            Style::new()
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// The focused input field.
    pub fn focused(&self) -> Style {
        Style::new().add_modifier(Modifier::UNDERLINED | Modifier::BOLD)
    }

    /// The selected table row: reversed, so it shows without colour too.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The focused field's text while it is selected (`Form::is_selected`): reversed, as a
    /// selected row, so it shows without colour too.
    pub fn selection(&self) -> Style {
        self.focused().add_modifier(Modifier::REVERSED)
    }

    pub fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn field(&self) -> Style {
        Style::new().add_modifier(Modifier::UNDERLINED)
    }

    /// An input as it stands: [`focused`](Self::focused) while it takes the keys, else a
    /// [`field`](Self::field).
    pub fn input(&self, focused: bool) -> Style {
        if focused {
            self.focused()
        } else {
            self.field()
        }
    }
}
