//! Operator passwords: what a new one must be, and generated temporary ones. The server keeps
//! and checks them (SCRAM-SHA-256); nothing here stores or compares one.

use std::fmt;

/// A password held in memory: `Debug` (the app's state, every request, a panic message) says
/// only `<hidden>`, so no log line can carry it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// A temporary password for an operator ([`generate_password`]).
    pub fn generate() -> Secret {
        Secret(generate_password())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret(text.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

/// The fewest characters a new password has.
pub const MIN_LENGTH: usize = 8;

/// Why a new password is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewPasswordProblem {
    TooShort,
    /// The operator's login, in any case: the first thing anyone tries.
    IsTheLogin,
    /// The same as the one it replaces.
    Unchanged,
    /// The two typings differ.
    Mismatch,
}

impl NewPasswordProblem {
    /// The catalogue key of the message (section `password`).
    pub fn key(self) -> &'static str {
        match self {
            NewPasswordProblem::TooShort => "password.too_short",
            NewPasswordProblem::IsTheLogin => "password.is_login",
            NewPasswordProblem::Unchanged => "password.unchanged",
            NewPasswordProblem::Mismatch => "password.mismatch",
        }
    }
}

/// Whether `new`, typed twice (`new`, `again`), may replace `current` (None: a temporary one,
/// not typed again) as `login`'s password.
pub fn check_new_password(
    login: &str,
    current: Option<&str>,
    new: &str,
    again: &str,
) -> Result<(), NewPasswordProblem> {
    if new.chars().count() < MIN_LENGTH {
        Err(NewPasswordProblem::TooShort)
    } else if new.to_lowercase() == login.trim().to_lowercase() {
        Err(NewPasswordProblem::IsTheLogin)
    } else if current == Some(new) {
        Err(NewPasswordProblem::Unchanged)
    } else if new != again {
        Err(NewPasswordProblem::Mismatch)
    } else {
        Ok(())
    }
}

/// A random password for generated operators: 12 characters from an alphabet without
/// look-alikes (no 0/O, 1/l/I), so it can be read off a screen and typed.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..12)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use NewPasswordProblem::*;

    #[test]
    fn a_new_password_is_checked_in_order() {
        let cases = [
            ("short", None, "river17", "river17", Err(TooShort)),
            ("login is password", None, "LiWei123", "LiWei123", Ok(())),
            ("like the login", None, "Li.Wei.1", "Li.Wei.1", Ok(())),
            (
                "the login, other case",
                None,
                "LI.WEI.X",
                "LI.WEI.X",
                Err(IsTheLogin),
            ),
            (
                "unchanged",
                Some("river-17"),
                "river-17",
                "river-17",
                Err(Unchanged),
            ),
            (
                "mismatch",
                Some("old-pass"),
                "river-17",
                "river-18",
                Err(Mismatch),
            ),
            ("good", Some("old-pass"), "river-17", "river-17", Ok(())),
        ];
        for (name, current, new, again, expected) in cases {
            assert_eq!(
                check_new_password("li.wei.x", current, new, again),
                expected,
                "{name}"
            );
        }
        // Characters, not bytes: eight CJK characters are long enough.
        assert_eq!(
            check_new_password("li", None, "水表水表水表水表", "水表水表水表水表"),
            Ok(())
        );
    }

    #[test]
    fn generated_passwords_are_twelve_unambiguous_characters() {
        let password = generate_password();
        assert_eq!(password.chars().count(), 12);
        assert!(!password.contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(password, generate_password());
        assert_eq!(check_new_password("x", None, &password, &password), Ok(()));
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = Secret::generate();
        let debug = format!("{password:?} {:?}", Some(password.clone()));
        assert!(!debug.contains(password.as_str()), "{debug}");
        assert_eq!(format!("{:?}", Secret::from("river-17")), "<hidden>");
    }
}
