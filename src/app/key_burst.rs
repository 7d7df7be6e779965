//! Mends a key that crossterm splits when it follows Esc in one burst.
//!
//! crossterm reads the bytes ESC ESC as one Esc, so in "Esc, F2" typed in one burst (or
//! coalesced on a slow SSH link: `ESC ESC O Q`) the F2 sequence loses its ESC and arrives as
//! the characters "OQ", which a form would take as typed text. Characters that come right
//! behind an Esc, in the same read, and spell the rest of a key's escape sequence are that
//! key; a person cannot type Esc and then "OQ" within one read of the terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The longest escape-sequence tail a key of ours sends after its ESC ("[24;8~").
pub const LONGEST_TAIL: usize = 6;

/// What the characters read right behind an Esc are.
#[derive(Debug, PartialEq, Eq)]
pub enum Tail {
    /// The rest of this key's escape sequence.
    Key(KeyEvent),
    /// The start of one; wait for the next character read in the same burst.
    Partial,
    /// Not an escape sequence: the characters are what they are.
    Text,
}

/// Reads `tail`, the characters read behind an Esc in one burst, as the end of an SS3
/// (`O P`: F1) or CSI (`[ 1 5 ~`: F5, `[ 1 ; 5 A`: Ctrl+Up) sequence.
pub fn read_tail(tail: &[char]) -> Tail {
    match tail {
        [] => Tail::Partial,
        ['O'] | ['['] => Tail::Partial,
        ['O', last] => ss3_key(*last).map_or(Tail::Text, |code| Tail::Key(code.into())),
        ['[', rest @ ..] => csi(rest),
        _ => Tail::Text,
    }
}

fn ss3_key(last: char) -> Option<KeyCode> {
    Some(match last {
        'P' => KeyCode::F(1),
        'Q' => KeyCode::F(2),
        'R' => KeyCode::F(3),
        'S' => KeyCode::F(4),
        'A' => KeyCode::Up,
        'B' => KeyCode::Down,
        'C' => KeyCode::Right,
        'D' => KeyCode::Left,
        'H' => KeyCode::Home,
        'F' => KeyCode::End,
        _ => return None,
    })
}

/// A CSI sequence after its `[`: parameters (digits and at most one `;`), then a final
/// character.
fn csi(rest: &[char]) -> Tail {
    let Some((&last, params)) = rest.split_last() else {
        return Tail::Partial;
    };
    if rest.len() >= LONGEST_TAIL {
        return Tail::Text;
    }
    if !params.iter().all(|c| c.is_ascii_digit() || *c == ';')
        || params.iter().filter(|c| **c == ';').count() > 1
    {
        return Tail::Text;
    }
    if last.is_ascii_digit() || last == ';' {
        return Tail::Partial;
    }
    let text: String = params.iter().collect();
    let (number, modifier) = match text.split_once(';') {
        Some((number, modifier)) => (number, Some(modifier)),
        None => (text.as_str(), None),
    };
    let Some(modifiers) = modifier.map_or(Some(KeyModifiers::NONE), modifiers) else {
        return Tail::Text;
    };
    let code = match (last, number) {
        ('Z', "") => Some(KeyCode::BackTab),
        ('~', number) => number.parse().ok().and_then(tilde_key),
        (last, "" | "1") => ss3_key(last),
        _ => None,
    };
    code.map_or(Tail::Text, |code| {
        let modifiers = if code == KeyCode::BackTab {
            KeyModifiers::SHIFT
        } else {
            modifiers
        };
        Tail::Key(KeyEvent::new(code, modifiers))
    })
}

/// The keys of `ESC [ n ~`.
fn tilde_key(number: u8) -> Option<KeyCode> {
    Some(match number {
        1 | 7 => KeyCode::Home,
        2 => KeyCode::Insert,
        3 => KeyCode::Delete,
        4 | 8 => KeyCode::End,
        5 => KeyCode::PageUp,
        6 => KeyCode::PageDown,
        11..=15 => KeyCode::F(number - 10),
        17..=21 => KeyCode::F(number - 11),
        23 | 24 => KeyCode::F(number - 12),
        _ => return None,
    })
}

/// xterm's modifier parameter: 1 + shift (1) + alt (2) + ctrl (4).
fn modifiers(parameter: &str) -> Option<KeyModifiers> {
    let bits = parameter.parse::<u8>().ok()?.checked_sub(1)?;
    if bits > 7 {
        return None;
    }
    let mut modifiers = KeyModifiers::NONE;
    for (bit, modifier) in [
        (1, KeyModifiers::SHIFT),
        (2, KeyModifiers::ALT),
        (4, KeyModifiers::CONTROL),
    ] {
        if bits & bit != 0 {
            modifiers |= modifier;
        }
    }
    Some(modifiers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(text: &str) -> Tail {
        read_tail(&text.chars().collect::<Vec<_>>())
    }

    fn key(code: KeyCode, modifiers: KeyModifiers) -> Tail {
        Tail::Key(KeyEvent::new(code, modifiers))
    }

    #[test]
    fn the_function_keys_behind_an_esc_are_keys() {
        assert_eq!(tail("OP"), key(KeyCode::F(1), KeyModifiers::NONE));
        assert_eq!(tail("OQ"), key(KeyCode::F(2), KeyModifiers::NONE));
        assert_eq!(tail("OS"), key(KeyCode::F(4), KeyModifiers::NONE));
        assert_eq!(tail("[15~"), key(KeyCode::F(5), KeyModifiers::NONE));
        assert_eq!(tail("[17~"), key(KeyCode::F(6), KeyModifiers::NONE));
        assert_eq!(tail("[21~"), key(KeyCode::F(10), KeyModifiers::NONE));
        assert_eq!(tail("[24~"), key(KeyCode::F(12), KeyModifiers::NONE));
        assert_eq!(tail("[24;5~"), key(KeyCode::F(12), KeyModifiers::CONTROL));
        assert_eq!(tail("[1;2Q"), key(KeyCode::F(2), KeyModifiers::SHIFT));
    }

    #[test]
    fn the_moving_keys_behind_an_esc_are_keys() {
        assert_eq!(tail("[A"), key(KeyCode::Up, KeyModifiers::NONE));
        assert_eq!(tail("OB"), key(KeyCode::Down, KeyModifiers::NONE));
        assert_eq!(tail("[H"), key(KeyCode::Home, KeyModifiers::NONE));
        assert_eq!(tail("[4~"), key(KeyCode::End, KeyModifiers::NONE));
        assert_eq!(tail("[5~"), key(KeyCode::PageUp, KeyModifiers::NONE));
        assert_eq!(tail("[3~"), key(KeyCode::Delete, KeyModifiers::NONE));
        assert_eq!(tail("[Z"), key(KeyCode::BackTab, KeyModifiers::SHIFT));
        assert_eq!(
            tail("[1;7C"),
            key(KeyCode::Right, KeyModifiers::ALT | KeyModifiers::CONTROL)
        );
    }

    #[test]
    fn the_start_of_a_sequence_waits_for_its_end() {
        for start in ["", "O", "[", "[1", "[15", "[24;", "[24;5"] {
            assert_eq!(tail(start), Tail::Partial, "{start:?}");
        }
    }

    #[test]
    fn anything_else_is_text() {
        for text in [
            "Ox", "Oq", "x", "[x", "[15x", "[99~", "[1;9A", "[1;2;3A", "[;A", "[123456~", "OQR",
        ] {
            assert_eq!(tail(text), Tail::Text, "{text:?}");
        }
    }
}
