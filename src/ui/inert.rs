//! Text from the database or a card is shown, never obeyed: control characters and escape
//! sequences become visible escapes, so nothing stored can move the cursor, change colours or
//! set the terminal title.

use std::borrow::Cow;

/// Characters a terminal may act on: C0 and C1 controls, DEL, and the bidirectional overrides
/// that can make text display in an order other than it is stored.
fn is_active(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every active character written as `\x1b` / `\u{202e}`.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_active) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if is_active(c) && u32::from(c) < 0x100 => {
                shown.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if is_active(c) => shown.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_untouched_and_not_copied() {
        assert!(matches!(inert("张伟 Zhang Wei 88号"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_and_controls_become_visible() {
        assert_eq!(
            inert("\x1b[2J\x1b]0;pwned\x07"),
            "\\x1b[2J\\x1b]0;pwned\\x07"
        );
        assert_eq!(inert("a\tb\nc\r"), "a\\x09b\\x0ac\\x0d");
        assert_eq!(inert("\u{9b}31m"), "\\x9b31m");
        assert_eq!(inert("abc\u{202e}def"), "abc\\u{202e}def");
    }

    proptest! {
        #[test]
        fn nothing_active_survives(text in any::<String>()) {
            prop_assert!(!inert(&text).chars().any(is_active));
        }
    }
}
