//! Mends a key that crossterm splits when it follows Esc in one burst.
//!
//! crossterm reads the bytes ESC ESC as one Esc, so in "Esc, F2" typed in one burst (or
//! coalesced on a slow SSH link: `ESC ESC O Q`) the F2 sequence loses its ESC and arrives as
//! the characters "OQ", which a form would take as typed text. Characters that come right
//! behind an Esc, in the same read, and spell the rest of a key's escape sequence are that
//! key; a person cannot type Esc and then "OQ" within one read of the terminal.
//!
//! Once such a sequence has begun behind the Esc, the rest of it may come a moment later (a
//! slow link splits `ESC ESC O | Q`): it is waited for, [`REST_OF_SEQUENCE`] at most, as
//! crossterm waits for the rest of a sequence it has begun. Another plain Esc in the burst
//! (Esc Esc Esc F2: crossterm reads the last two ESCs as one) starts the tail anew.

use std::io;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The longest escape-sequence tail a key of ours sends after its ESC ("[24;8~").
pub const LONGEST_TAIL: usize = 6;

/// How long the rest of an escape sequence begun behind an Esc may take to arrive. Only a
/// sequence already begun in the same read waits (no one types Esc and "O" that fast); behind
/// a plain Esc the poll asks for no wait, which the terminal answers within `app::run`'s
/// `ALREADY_READ` (10 ms): its crossterm source cannot say "nothing already read" without
/// waiting.
pub const REST_OF_SEQUENCE: Duration = Duration::from_millis(50);

/// Where terminal events come from: the terminal itself (`app::run`), or a test's script.
pub trait Events {
    /// Whether an event can be read within `wait`.
    fn poll(&mut self, wait: Duration) -> io::Result<bool>;
    fn read(&mut self) -> io::Result<Event>;
}

/// The next event, and after a plain Esc the events read with it in the same burst, with a
/// key crossterm split from the Esc mended.
pub fn read_burst(events: &mut impl Events) -> io::Result<Vec<Event>> {
    let first = events.read()?;
    if !is_plain_esc(&first) {
        return Ok(vec![first]);
    }
    let mut read = vec![first];
    // The last plain Esc read, and the characters read behind it.
    let mut esc_at = 0;
    let mut tail = Vec::new();
    loop {
        let wait = if tail.is_empty() {
            Duration::ZERO
        } else {
            REST_OF_SEQUENCE
        };
        if tail.len() >= LONGEST_TAIL || !events.poll(wait)? {
            break;
        }
        let next = events.read()?;
        let esc = is_plain_esc(&next);
        let typed = typed_char(&next);
        read.push(next);
        if esc {
            esc_at = read.len() - 1;
            tail.clear();
            continue;
        }
        let Some(c) = typed else { break };
        tail.push(c);
        match read_tail(&tail) {
            Tail::Key(key) => {
                read.truncate(esc_at + 1);
                read.push(Event::Key(key));
                break;
            }
            Tail::Partial => {}
            Tail::Text => break,
        }
    }
    Ok(read)
}

fn is_plain_esc(event: &Event) -> bool {
    matches!(event, Event::Key(key) if *key == KeyEvent::from(KeyCode::Esc))
}

/// The character a key press types, Shift or not (`O` comes with Shift).
fn typed_char(event: &Event) -> Option<char> {
    match event {
        Event::Key(KeyEvent {
            code: KeyCode::Char(c),
            modifiers,
            kind: KeyEventKind::Press,
            ..
        }) if (*modifiers - KeyModifiers::SHIFT).is_empty() => Some(*c),
        _ => None,
    }
}

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

    /// The terminal as a test scripts it: `reads`, each what one read of the terminal brings;
    /// a poll that may wait lets the next read arrive.
    struct Script {
        reads: Vec<Vec<Event>>,
    }

    impl Events for Script {
        fn poll(&mut self, wait: Duration) -> io::Result<bool> {
            if self.reads.first().is_some_and(|read| read.is_empty()) && !wait.is_zero() {
                self.reads.remove(0);
            }
            Ok(self.reads.first().is_some_and(|read| !read.is_empty()))
        }

        fn read(&mut self) -> io::Result<Event> {
            while self.reads.first().is_some_and(|read| read.is_empty()) {
                self.reads.remove(0);
            }
            Ok(self.reads[0].remove(0))
        }
    }

    /// Keys as crossterm reports them: `Esc`, a function key `F2`, or characters.
    fn events(keys: &[&str]) -> Vec<Event> {
        keys.iter()
            .flat_map(|key| match *key {
                "Esc" => vec![KeyEvent::from(KeyCode::Esc)],
                "F2" => vec![KeyEvent::from(KeyCode::F(2))],
                text => text
                    .chars()
                    .map(|c| {
                        let shift = if c.is_uppercase() {
                            KeyModifiers::SHIFT
                        } else {
                            KeyModifiers::NONE
                        };
                        KeyEvent::new(KeyCode::Char(c), shift)
                    })
                    .collect(),
            })
            .map(Event::Key)
            .collect()
    }

    /// The bursts `reads` are read as, until every event is read.
    fn bursts(reads: &[&[&str]]) -> Vec<Vec<Event>> {
        let mut script = Script {
            reads: reads.iter().map(|read| events(read)).collect(),
        };
        let mut bursts = Vec::new();
        while script.reads.iter().any(|read| !read.is_empty()) {
            bursts.push(read_burst(&mut script).unwrap());
        }
        bursts
    }

    #[test]
    fn a_function_key_behind_an_esc_in_one_read_is_mended() {
        assert_eq!(bursts(&[&["Esc", "OQ"]]), [events(&["Esc", "F2"])]);
        assert_eq!(bursts(&[&["Esc", "Ox"]]), [events(&["Esc", "Ox"])]);
    }

    /// A slow link splits `ESC ESC O | Q`: the Q that comes a moment later ends the F2.
    #[test]
    fn a_tail_split_across_two_reads_is_waited_for() {
        assert_eq!(bursts(&[&["Esc", "O"], &["Q"]]), [events(&["Esc", "F2"])]);
        assert_eq!(
            bursts(&[&["Esc", "[1"], &["5~"]]),
            [vec![
                Event::Key(KeyCode::Esc.into()),
                Event::Key(KeyCode::F(5).into())
            ]]
        );
        assert_eq!(
            bursts(&[&["Esc", "O"], &["x"]]),
            [events(&["Esc", "Ox"])],
            "not a key: the characters as typed"
        );
    }

    /// Nothing is waited for behind a plain Esc: an "O" typed after it is the clerk's.
    #[test]
    fn an_o_typed_after_an_esc_is_an_o() {
        assert_eq!(
            bursts(&[&["Esc"], &["OQ"]]),
            [events(&["Esc"]), events(&["O"]), events(&["Q"])]
        );
    }

    /// Esc Esc Esc F2 (`ESC ESC ESC ESC O Q`) comes from crossterm as Esc, Esc, "OQ".
    #[test]
    fn the_last_esc_of_several_starts_the_tail() {
        assert_eq!(
            bursts(&[&["Esc", "Esc", "OQ"]]),
            [events(&["Esc", "Esc", "F2"])]
        );
        assert_eq!(
            bursts(&[&["Esc", "O", "Esc", "OP"]]),
            [vec![
                Event::Key(KeyCode::Esc.into()),
                Event::Key(KeyEvent::new(KeyCode::Char('O'), KeyModifiers::SHIFT)),
                Event::Key(KeyCode::Esc.into()),
                Event::Key(KeyCode::F(1).into()),
            ]]
        );
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
