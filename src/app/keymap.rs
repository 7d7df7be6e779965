//! Keys → commands. Defaults follow ui.md; `[ui.keys]` in config.toml replaces a command's
//! keys. One key means one command everywhere, so a key bound twice is an error at start-up.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::command::Command;

/// A key with its modifiers, as written in config.toml: `F2`, `Esc`, `?`, `Ctrl-q`, `PageDown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyMapError {
    #[error("config.toml [ui.keys]: unknown command `{0}`")]
    UnknownCommand(String),
    #[error("config.toml [ui.keys].{command}: cannot read key `{key}`")]
    BadKey { command: String, key: String },
    #[error("config.toml [ui.keys]: {key} is bound to both `{first}` and `{second}`")]
    Clash {
        key: String,
        first: Command,
        second: Command,
    },
}

impl Key {
    pub const fn new(code: KeyCode, modifiers: KeyModifiers) -> Key {
        Key { code, modifiers }
    }

    const fn plain(code: KeyCode) -> Key {
        Key::new(code, KeyModifiers::NONE)
    }

    /// The key of a terminal event; Shift is dropped from characters because the character
    /// already carries it (`?` arrives as Shift+'?' on some terminals, plain on others).
    pub fn of(event: &KeyEvent) -> Key {
        let modifiers = match event.code {
            KeyCode::Char(_) | KeyCode::BackTab => event.modifiers - KeyModifiers::SHIFT,
            _ => event.modifiers,
        };
        let code = match event.code {
            KeyCode::Char(c) if modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            code => code,
        };
        Key::new(code, modifiers)
    }

    /// True for a key that types text: a printable character without Ctrl or Alt.
    pub fn is_text(self) -> bool {
        matches!(self.code, KeyCode::Char(_))
            && !self
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }

    pub fn parse(text: &str) -> Option<Key> {
        let (modifiers, name) = match text.split_once('-') {
            Some((prefix, rest)) if !rest.is_empty() => {
                let modifier = match prefix.to_ascii_lowercase().as_str() {
                    "ctrl" => KeyModifiers::CONTROL,
                    "alt" => KeyModifiers::ALT,
                    "shift" => KeyModifiers::SHIFT,
                    _ => return None,
                };
                (modifier, rest)
            }
            _ => (KeyModifiers::NONE, text),
        };
        let code = match name.to_ascii_lowercase().as_str() {
            "esc" => KeyCode::Esc,
            "enter" => KeyCode::Enter,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" => KeyCode::Delete,
            "insert" => KeyCode::Insert,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "space" => KeyCode::Char(' '),
            lower => match lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                Some(n @ 1..=24) => KeyCode::F(n),
                _ => {
                    let mut chars = name.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) if modifiers.contains(KeyModifiers::CONTROL) => {
                            KeyCode::Char(c.to_ascii_lowercase())
                        }
                        (Some(c), None) => KeyCode::Char(c),
                        _ => return None,
                    }
                }
            },
        };
        // Terminals send Shift-Tab as its own key, BackTab.
        if code == KeyCode::Tab && modifiers == KeyModifiers::SHIFT {
            return Some(Key::plain(KeyCode::BackTab));
        }
        Some(Key::new(code, modifiers))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (modifier, name) in [
            (KeyModifiers::CONTROL, "Ctrl-"),
            (KeyModifiers::ALT, "Alt-"),
            (KeyModifiers::SHIFT, "Shift-"),
        ] {
            if self.modifiers.contains(modifier) {
                f.write_str(name)?;
            }
        }
        match self.code {
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The default keys of each command (ui.md).
fn default_keys(command: Command) -> Vec<Key> {
    use KeyCode::*;
    let keys: &[KeyCode] = match command {
        Command::Help => &[F(1), Char('?')],
        Command::Save => &[F(2)],
        Command::Leave => &[F(3)],
        Command::Lookup => &[F(4)],
        Command::Refresh => &[F(5)],
        Command::Cancel => &[F(12), Esc],
        Command::NextField => &[Tab],
        Command::PrevField => &[BackTab],
        Command::CommandLine => &[Char(':')],
        Command::Search => &[Char('/')],
        Command::Details => &[Enter, Char('d')],
        Command::OpenAccount => &[Char('o')],
        Command::Modify => &[Char('m')],
        Command::Transfer => &[Char('t')],
        Command::PageDown => &[PageDown],
        Command::PageUp => &[PageUp],
        Command::First => &[Home],
        Command::Last => &[End],
        Command::Overview => &[],
        Command::Password => &[],
        Command::Logout => &[],
        Command::Quit => &[F(10)],
        Command::Card => &[],
        Command::CardUsage => &[Char('u')],
        Command::PendingCards => &[Char('p')],
        Command::OpenCard => &[F(6), Char('c')],
        Command::ReplaceCard => &[F(7)],
        Command::Recharge => &[F(8), Char('r')],
        Command::CardRefund => &[F(9)],
        Command::Recycle => &[Char('y')],
        Command::SettleWithoutCard => &[Char('w')],
        Command::ReportLost => &[Char('v')],
        // `P` pays what a card customer owes for water a meter loaded unpaid (the details).
        Command::PayOwed => &[Char('P')],
        // F6–F9 are the card screens' actions (one key, one command everywhere).
        Command::Add => &[Char('a'), Insert],
        Command::Delete => &[Delete, Char('x')],
        Command::Import => &[Char('i')],
        Command::Prices => &[Char('n')],
        Command::Listing => &[Char('l')],
        Command::Export => &[Char('e')],
        Command::SwitchEnabled => &[Char('s')],
        Command::ResetPassword => &[Char('k')],
        // `$`: the money of the customer on the row; `f` refund, `#` reprint a receipt (by its
        // number).
        Command::Account => &[Char('$')],
        Command::Refund => &[Char('f')],
        Command::Reprint => &[Char('#')],
        // Ctrl-G ("go home"), added below: F11, the one F-key ui.md leaves free, is Windows
        // Terminal's full screen and free for a desk's own bindings.
        Command::Home => &[],
        Command::EnterReading => &[Char('g')],
        Command::Bills => &[Char('b')],
        Command::VoidBill => &[Char('z')],
        // The shift, with Shift held (once a day, never by a slip of the finger): `X` an X
        // report, `Z` the Z report that closes it, `O` opens one (a payment opens one anyway).
        Command::OpenShift => &[Char('O')],
        Command::CloseShift => &[Char('Z')],
        Command::PrintReport => &[Char('X')],
        Command::CloseAccount => &[Char('C')],
        // The reports' months, with Shift held as the shift's keys: `M` this month, `L` the
        // last one (`m` and `l` are modify and the installed meters).
        Command::ThisMonth => &[Char('M')],
        Command::LastMonth => &[Char('L')],
        Command::Meters
        | Command::MeterTypes
        | Command::Schemes
        | Command::CustomerTypes
        | Command::Audit
        | Command::Operators
        | Command::Departments
        | Command::Roles
        | Command::Readings
        | Command::Shift
        | Command::Reports
        | Command::Arrears
        | Command::SystemCard => &[],
    };
    let mut keys: Vec<Key> = keys.iter().map(|code| Key::plain(*code)).collect();
    if command == Command::Home {
        keys.push(Key::new(Char('g'), KeyModifiers::CONTROL));
    }
    keys
}

/// The live keymap: what the dispatcher, the legend and the help screen all read.
#[derive(Debug, Clone)]
pub struct KeyMap {
    by_command: BTreeMap<Command, Vec<Key>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        Self::new(&BTreeMap::new()).expect("the default keymap has no clashes")
    }
}

impl KeyMap {
    /// The defaults with `overrides` (command name → keys) applied.
    pub fn new(overrides: &BTreeMap<String, Vec<String>>) -> Result<KeyMap, KeyMapError> {
        let mut by_command: BTreeMap<Command, Vec<Key>> = Command::ALL
            .into_iter()
            .map(|command| (command, default_keys(command)))
            .collect();
        for (name, keys) in overrides {
            let command = Command::from_name(name)
                .ok_or_else(|| KeyMapError::UnknownCommand(name.clone()))?;
            let keys = keys
                .iter()
                .map(|key| {
                    Key::parse(key).ok_or_else(|| KeyMapError::BadKey {
                        command: name.clone(),
                        key: key.clone(),
                    })
                })
                .collect::<Result<_, _>>()?;
            by_command.insert(command, keys);
        }
        let mut seen: BTreeMap<String, Command> = BTreeMap::new();
        for (command, keys) in &by_command {
            for key in keys {
                if let Some(first) = seen.insert(key.to_string(), *command) {
                    return Err(KeyMapError::Clash {
                        key: key.to_string(),
                        first,
                        second: *command,
                    });
                }
            }
        }
        Ok(KeyMap { by_command })
    }

    /// The command a key press invokes, if any.
    pub fn command_for(&self, event: &KeyEvent) -> Option<Command> {
        let key = Key::of(event);
        self.by_command
            .iter()
            .find(|(_, keys)| keys.contains(&key))
            .map(|(command, _)| *command)
    }

    /// Every key bound to `command`, first the one the legend shows.
    pub fn keys(&self, command: Command) -> &[Key] {
        self.by_command.get(&command).map_or(&[], Vec::as_slice)
    }

    /// How a text names the key of `command`: the one the legend shows, or `:name` (the
    /// command line) when it has none.
    pub fn name(&self, command: Command) -> String {
        match self.keys(command).first() {
            Some(key) => key.to_string(),
            None => format!(":{}", command.name()),
        }
    }

    /// Every key of `command`, as the help screen lists them (`F12 / Esc`), or `:name`.
    pub fn names(&self, command: Command) -> String {
        match self.keys(command) {
            [] => format!(":{}", command.name()),
            keys => keys
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
        }
    }

    /// A catalogue text with its key names filled in from this keymap: `{key:save}` becomes
    /// the key of `save` (`name`), `{keys:cancel}` every key of `cancel` (`names`). So no
    /// text names a key that a rebinding in `[ui.keys]` has moved.
    pub fn fill(&self, text: &str) -> String {
        if !text.contains("{key") {
            return text.to_owned();
        }
        Command::ALL
            .into_iter()
            .fold(text.to_owned(), |text, command| {
                text.replace(&format!("{{key:{}}}", command.name()), &self.name(command))
                    .replace(
                        &format!("{{keys:{}}}", command.name()),
                        &self.names(command),
                    )
            })
    }
}

/// Keys that edit a text field rather than invoke a command: characters, the cursor keys,
/// and the readline keys tui-input knows (Ctrl-U clears, Ctrl-W deletes a word, …).
pub fn edits_text(key: &KeyEvent) -> bool {
    const READLINE: [char; 7] = ['u', 'w', 'k', 'a', 'e', 'b', 'f'];
    let key_of = Key::of(key);
    key_of.is_text()
        || (key_of.modifiers == KeyModifiers::CONTROL
            && matches!(key_of.code, KeyCode::Char(c) if READLINE.contains(&c)))
        || matches!(
            key.code,
            KeyCode::Backspace
                | KeyCode::Delete
                | KeyCode::Left
                | KeyCode::Right
                | KeyCode::Home
                | KeyCode::End
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_follow_ui_md() {
        let keymap = KeyMap::default();
        let f = |n| keymap.command_for(&press(KeyCode::F(n), KeyModifiers::NONE));
        assert_eq!(f(1), Some(Command::Help));
        assert_eq!(f(2), Some(Command::Save));
        assert_eq!(f(3), Some(Command::Leave));
        assert_eq!(f(12), Some(Command::Cancel));
        assert_eq!(
            keymap.command_for(&press(KeyCode::Esc, KeyModifiers::NONE)),
            Some(Command::Cancel)
        );
        assert_eq!(
            keymap.command_for(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Command::Help)
        );
    }

    #[test]
    fn keys_parse_and_print_back() {
        for text in [
            "F2",
            "Esc",
            "?",
            "Ctrl-q",
            "PgDn",
            "Shift-Tab",
            "Space",
            "Alt-x",
        ] {
            let key = Key::parse(text).unwrap_or_else(|| panic!("{text} parses"));
            assert_eq!(Key::parse(&key.to_string()), Some(key), "{text}");
        }
        assert_eq!(Key::parse("F25"), None);
        assert_eq!(Key::parse("Hyper-x"), None);
        assert_eq!(Key::parse("ab"), None);
        assert_eq!(Key::parse("Ctrl-Q"), Key::parse("ctrl-q"));
    }

    #[test]
    fn overrides_replace_and_clashes_are_reported() {
        let overrides = BTreeMap::from([("quit".to_owned(), vec!["Ctrl-q".to_owned()])]);
        let keymap = KeyMap::new(&overrides).unwrap();
        assert_eq!(
            keymap.command_for(&press(KeyCode::Char('Q'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        assert_eq!(
            keymap.command_for(&press(KeyCode::F(10), KeyModifiers::NONE)),
            None
        );

        let clash = BTreeMap::from([("save".to_owned(), vec!["F1".to_owned()])]);
        assert_eq!(
            KeyMap::new(&clash).unwrap_err().to_string(),
            "config.toml [ui.keys]: F1 is bound to both `help` and `save`"
        );
        let unknown = BTreeMap::from([("fly".to_owned(), vec!["F9".to_owned()])]);
        assert_eq!(
            KeyMap::new(&unknown).unwrap_err(),
            KeyMapError::UnknownCommand("fly".into())
        );
    }

    #[test]
    fn texts_name_the_live_keys() {
        let overrides = BTreeMap::from([
            (
                "save".to_owned(),
                vec!["Ctrl-s".to_owned(), "F2".to_owned()],
            ),
            ("lookup".to_owned(), vec![]),
        ]);
        let keymap = KeyMap::new(&overrides).unwrap();
        assert_eq!(
            keymap
                .fill("{key:save} saves · {keys:save} · {keys:cancel} · {key:lookup} · {key:fly}"),
            "Ctrl-s saves · Ctrl-s / F2 · F12 / Esc · :lookup · {key:fly}"
        );
    }

    #[test]
    fn every_command_has_a_label_in_every_language() {
        for lang in Lang::ALL {
            for command in Command::ALL {
                assert_ne!(
                    lang.t(command.label_key()),
                    command.label_key(),
                    "{command}"
                );
            }
        }
    }
}
