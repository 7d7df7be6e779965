//! `config.toml` and the environment, read and validated once at start.
//!
//! A bad value is an error naming its key; an unknown key is a warning, so a typo never
//! silently changes behaviour but an old file still starts the app.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::db::Deadlines;
use crate::domain::card_records::{IssuerPin, IssuerPinError, MacKey, MacKeyError};
use crate::domain::validation::IdDocumentPolicy;
use crate::i18n::Lang;

/// Everything meterdesk reads from `config.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub card: CardConfig,
    pub ui: UiConfig,
    pub receipts: ReceiptConfig,
    pub customers: CustomersConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct DatabaseConfig {
    /// A libpq connection string or URL; `None` runs the embedded cluster.
    pub url: Option<String>,
    /// Where the embedded cluster and the app's files live; `None` picks the platform default.
    pub data_dir: Option<PathBuf>,
    /// Connections kept open to the server.
    pub pool_size: usize,
    /// The server cancels a statement that runs longer; the request waits for the database.
    pub statement_timeout_secs: u64,
    /// Data the server has not acknowledged for this long ends the connection.
    pub tcp_user_timeout_secs: u64,
    /// Connecting, and the health check's round trip.
    pub connect_timeout_secs: u64,
    /// Waiting for a free pooled connection.
    pub pool_wait_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        let deadlines = Deadlines::default();
        Self {
            url: None,
            data_dir: None,
            pool_size: 4,
            statement_timeout_secs: deadlines.statement.as_secs(),
            tcp_user_timeout_secs: deadlines.tcp_user.as_secs(),
            connect_timeout_secs: deadlines.connect.as_secs(),
            pool_wait_secs: deadlines.pool_wait.as_secs(),
        }
    }
}

impl DatabaseConfig {
    pub fn deadlines(&self) -> Deadlines {
        Deadlines {
            statement: Duration::from_secs(self.statement_timeout_secs),
            tcp_user: Duration::from_secs(self.tcp_user_timeout_secs),
            connect: Duration::from_secs(self.connect_timeout_secs),
            pool_wait: Duration::from_secs(self.pool_wait_secs),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CardConfig {
    /// PC/SC reader name; `None` takes the first reader with a card.
    pub reader: Option<String>,
    /// Issuer PIN presented before every card write (hex digits).
    pub pin: Option<String>,
    /// 32-byte MAC key shared with the meters, as 64 hex digits.
    pub key: Option<String>,
}

/// The secrets every card write needs, from `[card]`.
#[derive(Debug, Clone)]
pub struct CardCredentials {
    pub pin: IssuerPin,
    pub key: MacKey,
    /// One line for each demo value in use; a program writing cards must show them loudly.
    pub demo_warnings: Vec<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardCredentialError {
    #[error("card.pin: {0}")]
    Pin(#[from] IssuerPinError),
    #[error("card.key: {0}")]
    Key(#[from] MacKeyError),
}

impl CardConfig {
    /// The configured PIN and key, or the demo ones where a key is absent.
    pub fn credentials(&self) -> Result<CardCredentials, CardCredentialError> {
        let mut demo_warnings = Vec::new();
        let pin = match &self.pin {
            Some(pin) => pin.parse()?,
            None => {
                demo_warnings.push(
                    "card.pin is not set: using the demo issuer PIN, which is in the source code",
                );
                IssuerPin::demo()
            }
        };
        let key = match &self.key {
            Some(key) => key.parse()?,
            None => {
                demo_warnings.push(
                    "card.key is not set: using the demo MAC key, which is in the source code; \
                     anyone can forge cards written with it",
                );
                MacKey::demo()
            }
        };
        Ok(CardCredentials {
            pin,
            key,
            demo_warnings,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct UiConfig {
    /// `en` or `zh`; `None` follows `LANG`.
    pub language: Option<Lang>,
    /// No colours at all (also when `NO_COLOR` is set).
    pub monochrome: bool,
    /// `+-|` borders for terminals that mangle box drawing.
    pub ascii_borders: bool,
    /// Command name → keys, replacing that command's default keys.
    pub keys: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ReceiptConfig {
    /// Characters per receipt line (58 mm printers take 32, 80 mm take 48).
    pub width: usize,
    /// Receipts are also written here as text files; `None`: `<data dir>/receipts`.
    pub directory: Option<PathBuf>,
    /// A command that receives the receipt text on standard input, e.g. `lp -d counter1`.
    pub print_command: Option<String>,
    /// A print command still running after this long is stopped.
    pub print_limit_secs: u64,
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        Self {
            width: 48,
            directory: None,
            print_command: None,
            print_limit_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct CustomersConfig {
    /// Which identity documents the basic-information forms accept: `resident_identity_card`
    /// or `free_form` (docs/decisions.md).
    pub id_documents: String,
}

impl Default for CustomersConfig {
    fn default() -> Self {
        Self {
            id_documents: "resident_identity_card".to_owned(),
        }
    }
}

impl CustomersConfig {
    /// The policy `id_documents` names; `None` for any other word.
    pub fn id_policy(&self) -> Option<IdDocumentPolicy> {
        match self.id_documents.as_str() {
            "resident_identity_card" => Some(IdDocumentPolicy::ResidentIdentityCard),
            "free_form" => Some(IdDocumentPolicy::FreeForm),
            _ => None,
        }
    }
}

/// Why the configuration cannot be used; always names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
}

/// A configuration that was read, with the warnings to show once.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads `path`; a missing file is the defaults (the app must start on a fresh machine).
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Loaded {
                config: Config::default(),
                warnings: Vec::new(),
            }),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses config text; unknown keys become warnings, bad values errors.
    pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
        let mut unknown = Vec::new();
        let config: Config =
            parse_lenient(text, &mut unknown).map_err(|message| ConfigError::Parse {
                path: path.to_owned(),
                message,
            })?;
        config.validate(path)?;
        let warnings = unknown
            .into_iter()
            .map(|key| format!("{}: unknown key `{key}` ignored", path.display()))
            .collect();
        Ok(Loaded { config, warnings })
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            message: message.to_owned(),
        };
        if !(1..=64).contains(&self.database.pool_size) {
            return Err(invalid("database.pool_size", "must be between 1 and 64"));
        }
        let seconds = [
            (
                "database.statement_timeout_secs",
                self.database.statement_timeout_secs,
            ),
            (
                "database.tcp_user_timeout_secs",
                self.database.tcp_user_timeout_secs,
            ),
            (
                "database.connect_timeout_secs",
                self.database.connect_timeout_secs,
            ),
            ("database.pool_wait_secs", self.database.pool_wait_secs),
            ("receipts.print_limit_secs", self.receipts.print_limit_secs),
        ];
        for (key, value) in seconds {
            if !(1..=3600).contains(&value) {
                return Err(invalid(key, "must be between 1 and 3600 seconds"));
            }
        }
        if let Some(url) = &self.database.url
            && url.trim().is_empty()
        {
            return Err(invalid(
                "database.url",
                "is empty; remove the key to use the embedded database",
            ));
        }
        match self.card.credentials() {
            Ok(_) => {}
            Err(CardCredentialError::Pin(error)) => {
                return Err(invalid("card.pin", &error.to_string()));
            }
            Err(CardCredentialError::Key(error)) => {
                return Err(invalid("card.key", &error.to_string()));
            }
        }
        if !(24..=80).contains(&self.receipts.width) {
            return Err(invalid(
                "receipts.width",
                "must be between 24 and 80 characters",
            ));
        }
        if self.customers.id_policy().is_none() {
            return Err(invalid(
                "customers.id_documents",
                "must be \"resident_identity_card\" or \"free_form\"",
            ));
        }
        Ok(())
    }

    /// The language: the configured one, else `LANG`/`LC_ALL`, else English.
    pub fn language(&self) -> Lang {
        self.ui.language.unwrap_or_else(|| {
            let env = std::env::var("LC_ALL")
                .or_else(|_| std::env::var("LANG"))
                .unwrap_or_default();
            Lang::from_locale(&env)
        })
    }

    /// Monochrome when configured or when `NO_COLOR` is set to anything non-empty.
    pub fn monochrome(&self) -> bool {
        self.ui.monochrome || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }
}

/// Deserialises while collecting unknown keys (as dotted paths) instead of failing on them.
fn parse_lenient(text: &str, unknown: &mut Vec<String>) -> Result<Config, String> {
    let deserializer = toml::Deserializer::parse(text).map_err(|err| err.to_string())?;
    serde_ignored::deserialize(deserializer, |path| unknown.push(path.to_string()))
        .map_err(|err: toml::de::Error| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Loaded, ConfigError> {
        Config::parse(text, Path::new("config.toml"))
    }

    #[test]
    fn the_shipped_config_file_is_valid_and_warns_about_nothing() {
        let loaded = parse(include_str!("../config.toml")).expect("config.toml parses");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let loaded = parse("").unwrap();
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.config.database.pool_size, 4);
    }

    #[test]
    fn unknown_keys_are_warnings_naming_the_key() {
        let loaded = parse("colour = 1\n[ui]\nascii_borders = true\nmonochrom = true\n").unwrap();
        assert!(loaded.config.ui.ascii_borders);
        assert_eq!(
            loaded.warnings,
            vec![
                "config.toml: unknown key `colour` ignored",
                "config.toml: unknown key `ui.monochrom` ignored"
            ]
        );
    }

    #[test]
    fn bad_values_are_errors_naming_the_key() {
        for (text, key) in [
            ("[database]\npool_size = 0\n", "database.pool_size"),
            ("[card]\nkey = \"abc\"\n", "card.key"),
            ("[card]\npin = \"12x4\"\n", "card.pin"),
            ("[ui]\nlanguage = \"fr\"\n", "language"),
            ("[database]\npool_size = \"four\"\n", "pool_size"),
            (
                "[database]\nstatement_timeout_secs = 0\n",
                "database.statement_timeout_secs",
            ),
            (
                "[receipts]\nprint_limit_secs = 0\n",
                "receipts.print_limit_secs",
            ),
            ("database = 3\n", "database"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?}: {err}");
        }
    }

    #[test]
    fn card_credentials_are_the_configured_ones_or_the_demo_ones_with_a_warning() {
        let loaded = parse(&format!(
            "[card]\npin = \"24680\"\nkey = \"{}\"\n",
            "ab".repeat(32)
        ))
        .unwrap();
        let credentials = loaded.config.card.credentials().unwrap();
        assert_eq!(credentials.pin, "24680".parse().unwrap());
        assert_eq!(credentials.key, "AB".repeat(32).parse().unwrap());
        assert!(credentials.demo_warnings.is_empty());

        let demo = CardConfig::default().credentials().unwrap();
        assert_eq!((demo.pin, demo.key), (IssuerPin::demo(), MacKey::demo()));
        assert_eq!(demo.demo_warnings.len(), 2);
    }

    #[test]
    fn the_id_document_policy_is_the_resident_identity_card_unless_set() {
        let policy = |text: &str| parse(text).unwrap().config.customers.id_policy();
        assert_eq!(policy(""), Some(IdDocumentPolicy::ResidentIdentityCard));
        assert_eq!(
            policy("[customers]\nid_documents = \"free_form\"\n"),
            Some(IdDocumentPolicy::FreeForm)
        );
        let err = parse("[customers]\nid_documents = \"passport\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("customers.id_documents"), "{err}");
        assert!(err.contains("free_form"), "{err}");
    }

    #[test]
    fn a_missing_file_is_the_defaults() {
        let loaded = Config::load(Path::new("/nonexistent/meterdesk.toml")).unwrap();
        assert_eq!(loaded.config, Config::default());
    }
}
