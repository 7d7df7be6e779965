//! Operator passwords: argon2id PHC strings. CPU-heavy by design, so callers on the async
//! runtime run these through `spawn_blocking`.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Hashes a password to an argon2id PHC string with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

/// True when `password` matches the stored PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
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

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = hash_password("river-17");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("river-17", &hash));
        assert!(!verify_password("river-18", &hash));
        assert!(!verify_password("", &hash));
    }

    #[test]
    fn a_malformed_hash_never_matches() {
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_password("", ""));
    }

    #[test]
    fn generated_passwords_are_twelve_unambiguous_characters() {
        let password = generate_password();
        assert_eq!(password.chars().count(), 12);
        assert!(!password.contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(password, generate_password());
    }
}
