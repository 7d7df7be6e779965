//! The card PIN and MAC key (docs/decisions.md, "Card secrets"): from the file `[card]
//! secrets_file` names, which only root and the `meterdesk` group may read, or from the
//! environment; the demo ones only when `[card] demo = true`. Never from `config.toml`, which
//! every user of the desk reads.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use super::CardConfig;
use crate::domain::card_records::{IssuerPin, MacKey};

/// Overrides the secrets file's `pin`.
pub const PIN_ENV: &str = "METERDESK_CARD_PIN";
/// Overrides the secrets file's `key`.
pub const KEY_ENV: &str = "METERDESK_CARD_KEY";

/// What a card write needs. Both `Debug` impls hide the values.
#[derive(Debug, Clone, PartialEq)]
pub struct CardSecrets {
    pub pin: IssuerPin,
    pub key: MacKey,
}

/// The desk's card secrets as configured: `None` when neither the file, the environment nor
/// demo mode gives them (the app starts, and refuses card writes).
#[derive(Debug, Clone)]
pub struct CardCredentials {
    pub secrets: Option<CardSecrets>,
    /// One line for each demo value in use; a program writing cards must show them loudly.
    pub demo_warnings: Vec<&'static str>,
}

/// Why the card secrets cannot be used: the start stops, naming the file or variable.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read the card secrets file {path} (card.secrets_file): {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the card secrets file {path} can be read by every user (mode {mode:04o}); let only root \
         and the meterdesk group read it: chown root:meterdesk {path} && chmod 0640 {path}"
    )]
    OpenToOthers { path: PathBuf, mode: u32 },
    #[error("the card secrets file {path}: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error(
        "the card {present} is set ({origin}) but the card {missing} is not: card writes need \
         both, in card.secrets_file or {PIN_ENV} and {KEY_ENV}"
    )]
    Incomplete {
        present: &'static str,
        missing: &'static str,
        origin: String,
    },
}

/// The secrets file: `pin = "…"` and `key = "…"`, nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    pin: Option<String>,
    key: Option<String>,
}

impl CardConfig {
    /// The secrets from the process's environment and the secrets file.
    pub fn credentials(&self) -> Result<CardCredentials, SecretsError> {
        self.credentials_from(&|name| std::env::var(name).ok())
    }

    /// Each secret from `env`, else from the secrets file; the demo ones only in demo mode
    /// and only when neither is configured.
    pub fn credentials_from(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<CardCredentials, SecretsError> {
        let file = match &self.secrets_file {
            Some(path) => read_secrets_file(path)?,
            None => SecretsFile::default(),
        };
        let file_origin = |key: &str| match &self.secrets_file {
            Some(path) => format!("{}: key `{key}`", path.display()),
            None => String::new(),
        };
        let pin = secret::<IssuerPin>(env(PIN_ENV), PIN_ENV, file.pin, file_origin("pin"))?;
        let key = secret::<MacKey>(env(KEY_ENV), KEY_ENV, file.key, file_origin("key"))?;
        let secrets = match (pin, key) {
            (Some((pin, _)), Some((key, _))) => Some(CardSecrets { pin, key }),
            (Some((_, origin)), None) => return Err(incomplete("PIN", "key", origin)),
            (None, Some((_, origin))) => return Err(incomplete("key", "PIN", origin)),
            (None, None) if self.demo => {
                return Ok(CardCredentials {
                    secrets: Some(CardSecrets {
                        pin: IssuerPin::demo(),
                        key: MacKey::demo(),
                    }),
                    demo_warnings: vec![
                        "card.demo = true: the demo issuer PIN and MAC key, which are in the \
                         source code, write the cards; anyone can forge them. Never at a real \
                         counter.",
                    ],
                });
            }
            (None, None) => None,
        };
        Ok(CardCredentials {
            secrets,
            demo_warnings: Vec::new(),
        })
    }
}

fn incomplete(present: &'static str, missing: &'static str, origin: String) -> SecretsError {
    SecretsError::Incomplete {
        present,
        missing,
        origin,
    }
}

/// One secret, parsed, with where it came from: the variable `env_name` wins over the file.
fn secret<T>(
    from_env: Option<String>,
    env_name: &str,
    from_file: Option<String>,
    file_origin: String,
) -> Result<Option<(T, String)>, SecretsError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let (text, origin) = match (from_env, from_file) {
        (Some(text), _) => (text, env_name.to_owned()),
        (None, Some(text)) => (text, file_origin),
        (None, None) => return Ok(None),
    };
    match text.parse() {
        Ok(value) => Ok(Some((value, origin))),
        Err(error) => Err(SecretsError::Invalid {
            origin,
            message: error.to_string(),
        }),
    }
}

/// Opens the file first and checks the mode of what was opened, so the file read is the file
/// checked.
fn read_secrets_file(path: &Path) -> Result<SecretsFile, SecretsError> {
    let read_error = |source| SecretsError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let mode = file.metadata().map_err(read_error)?.permissions().mode() & 0o7777;
    if mode & 0o007 != 0 {
        return Err(SecretsError::OpenToOthers {
            path: path.to_owned(),
            mode,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read_error)?;
    toml::from_str(&text).map_err(|error: toml::de::Error| SecretsError::Malformed {
        path: path.to_owned(),
        message: error.message().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::scratch_dir::ScratchDir;

    const PIN: &str = "24680";
    const KEY: &str = "5a17c0de5a17c0de5a17c0de5a17c0de5a17c0de5a17c0de5a17c0de5a17c0de";

    fn secrets_file(dir: &ScratchDir, text: &str, mode: u32) -> CardConfig {
        let path = dir.file("card.toml", text);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        CardConfig {
            secrets_file: Some(path),
            ..CardConfig::default()
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_file_only_root_and_the_group_read_gives_the_pin_and_key() {
        let dir = ScratchDir::new("secrets-group");
        let card = secrets_file(&dir, &format!("pin = {PIN:?}\nkey = {KEY:?}\n"), 0o640);
        let credentials = card.credentials_from(&no_env).unwrap();
        assert_eq!(
            credentials.secrets,
            Some(CardSecrets {
                pin: PIN.parse().unwrap(),
                key: KEY.parse().unwrap()
            })
        );
        assert!(credentials.demo_warnings.is_empty());
    }

    #[test]
    fn a_file_others_may_read_stops_the_start_naming_the_file_and_the_fix() {
        let dir = ScratchDir::new("secrets-others");
        for mode in [0o644, 0o604, 0o601] {
            let card = secrets_file(&dir, &format!("pin = {PIN:?}\nkey = {KEY:?}\n"), mode);
            let error = card.credentials_from(&no_env).unwrap_err().to_string();
            let path = card.secrets_file.unwrap().display().to_string();
            assert!(error.contains(&path), "{error}");
            assert!(error.contains(&format!("chmod 0640 {path}")), "{error}");
        }
    }

    #[test]
    fn a_missing_or_malformed_file_stops_the_start_naming_it() {
        let dir = ScratchDir::new("secrets-malformed");
        let missing = CardConfig {
            secrets_file: Some(dir.path().join("absent.toml")),
            ..CardConfig::default()
        };
        let error = missing.credentials_from(&no_env).unwrap_err().to_string();
        assert!(error.contains("absent.toml"), "{error}");
        for text in [
            "pin = 24680\n",
            "pin = \"24680\"\nkeys = \"ab\"\n",
            "pin = \"2468",
        ] {
            let card = secrets_file(&dir, text, 0o600);
            let error = card.credentials_from(&no_env).unwrap_err().to_string();
            assert!(error.contains("card.toml"), "{text:?}: {error}");
        }
        let card = secrets_file(&dir, &format!("pin = \"12x4\"\nkey = {KEY:?}\n"), 0o600);
        let error = card.credentials_from(&no_env).unwrap_err().to_string();
        assert!(error.contains("card.toml: key `pin`"), "{error}");
    }

    #[test]
    fn the_environment_wins_over_the_file_secret_by_secret() {
        let dir = ScratchDir::new("secrets-env");
        let card = secrets_file(&dir, &format!("pin = \"1111\"\nkey = {KEY:?}\n"), 0o600);
        let env = |name: &str| (name == PIN_ENV).then(|| PIN.to_owned());
        let secrets = card.credentials_from(&env).unwrap().secrets.unwrap();
        assert_eq!(secrets.pin, PIN.parse().unwrap());
        assert_eq!(secrets.key, KEY.parse().unwrap());

        let only_env = |name: &str| match name {
            PIN_ENV => Some(PIN.to_owned()),
            KEY_ENV => Some(KEY.to_owned()),
            _ => None,
        };
        let secrets = CardConfig::default().credentials_from(&only_env).unwrap();
        assert!(secrets.secrets.is_some());
        let bad = |name: &str| (name == KEY_ENV).then(|| "abc".to_owned());
        let error = CardConfig::default().credentials_from(&bad).unwrap_err();
        assert!(error.to_string().starts_with(KEY_ENV), "{error}");
    }

    #[test]
    fn a_pin_and_a_key_kept_in_files_are_taken_with_their_line_breaks() {
        let env = |name: &str| match name {
            PIN_ENV => Some(format!("{PIN}\n")),
            KEY_ENV => Some(format!(" {KEY}\n")),
            _ => None,
        };
        let secrets = CardConfig::default().credentials_from(&env).unwrap();
        assert_eq!(
            secrets.secrets,
            Some(CardSecrets {
                pin: PIN.parse().unwrap(),
                key: KEY.parse().unwrap()
            })
        );
    }

    #[test]
    fn a_pin_without_a_key_stops_the_start() {
        let env = |name: &str| (name == PIN_ENV).then(|| PIN.to_owned());
        let error = CardConfig::default().credentials_from(&env).unwrap_err();
        assert!(error.to_string().contains("the card key is not"), "{error}");
    }

    #[test]
    fn the_demo_secrets_only_in_demo_mode_never_for_a_missing_section() {
        let none = CardConfig::default().credentials_from(&no_env).unwrap();
        assert_eq!(none.secrets, None);
        assert!(none.demo_warnings.is_empty());

        let demo = CardConfig {
            demo: true,
            ..CardConfig::default()
        };
        let credentials = demo.credentials_from(&no_env).unwrap();
        assert_eq!(
            credentials.secrets,
            Some(CardSecrets {
                pin: IssuerPin::demo(),
                key: MacKey::demo()
            })
        );
        assert_eq!(credentials.demo_warnings.len(), 1);

        let configured = |name: &str| match name {
            PIN_ENV => Some(PIN.to_owned()),
            KEY_ENV => Some(KEY.to_owned()),
            _ => None,
        };
        let credentials = demo.credentials_from(&configured).unwrap();
        assert_eq!(credentials.secrets.unwrap().pin, PIN.parse().unwrap());
        assert!(credentials.demo_warnings.is_empty());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let secrets = CardSecrets {
            pin: PIN.parse().unwrap(),
            key: KEY.parse().unwrap(),
        };
        let printed = format!(
            "{:?}",
            CardCredentials {
                secrets: Some(secrets),
                demo_warnings: Vec::new()
            }
        );
        assert!(!printed.contains(PIN), "{printed}");
        assert!(!printed.to_lowercase().contains(&KEY[..8]), "{printed}");
        assert!(printed.contains("IssuerPin(..)") && printed.contains("MacKey(..)"));
    }
}
