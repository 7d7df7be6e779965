//! The configuration files (the system's, the user's, `--config`: [`config_files`], merged key
//! by key) and the environment, read and validated once at start.
//!
//! A bad value is an error naming its file and key; an unknown key is a warning, so a typo
//! never silently changes behaviour but an old file still starts the app.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::db::Deadlines;
use crate::domain::validation::IdDocumentPolicy;
use crate::i18n::Lang;

mod card_secrets;
pub use card_secrets::{CardCredentials, CardSecrets, KEY_ENV, PIN_ENV, SecretsError};

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
    /// A libpq connection string or URL; `None` runs the embedded cluster. Several hosts
    /// (`host=a,b`) are a primary and its standbys: the desk uses the one accepting writes.
    pub url: Option<String>,
    /// A read-only standby (libpq string of its host, port, TLS) for searches, details and
    /// reports; writes always go to `url`'s server.
    pub replica: Option<String>,
    /// Where the embedded cluster and the app's files live; `None` picks the platform default.
    pub data_dir: Option<PathBuf>,
    /// Connections to the server a desk may hold at once (opened as its requests overlap, not
    /// before). The default, 2, is what a desk uses — its requests come one after another, a
    /// second only while one overlaps another — and keeps 64 desks, with each desk's health
    /// watcher, within the embedded cluster's `max_connections` (docs/decisions.md, "Fewer
    /// connections, and a search in one round trip").
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
            replica: None,
            data_dir: None,
            pool_size: 2,
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
    /// The file holding the issuer PIN and the MAC key (`card_secrets`), readable only by root
    /// and the `meterdesk` group.
    pub secrets_file: Option<PathBuf>,
    /// The demo PIN and key, which are in the source code, when no secrets are configured.
    pub demo: bool,
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
    /// A full digit field, a complete date and a pick from a list move to the next field by
    /// themselves, and a Tab right after is swallowed (5250-style). Off: the cursor moves
    /// only on a key the clerk pressed (ui.md, Data entry).
    pub auto_advance: bool,
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

/// Read first: the settings of every desk of the machine. `SYSTEM_CONFIG_ENV` names another
/// file (tests, which must never read the real /etc).
pub const SYSTEM_CONFIG: &str = "/etc/meterdesk/config.toml";
pub const SYSTEM_CONFIG_ENV: &str = "METERDESK_SYSTEM_CONFIG";

/// The files read, in order, each overriding the ones before it key by key: the system-wide
/// file, the user's (`$XDG_CONFIG_HOME/meterdesk/config.toml`, else
/// `~/.config/meterdesk/config.toml`), then `explicit` (`--config` / `METERDESK_CONFIG`).
pub fn config_files(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Vec<PathBuf> {
    let system = env(SYSTEM_CONFIG_ENV).map_or_else(|| PathBuf::from(SYSTEM_CONFIG), PathBuf::from);
    // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    let user_dir = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".config")));
    let user = user_dir.map(|dir| dir.join("meterdesk").join("config.toml"));
    [Some(system), user, explicit.map(Path::to_owned)]
        .into_iter()
        .flatten()
        .collect()
}

/// A configuration that was read, with the warnings to show once.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// The files read so far merged into one table, and which file set each key (as a dotted
/// path; a whole table's key stands for the keys under it).
#[derive(Default)]
struct Layers {
    table: toml::Table,
    origins: BTreeMap<String, PathBuf>,
    warnings: Vec<String>,
}

impl Layers {
    /// Adds one file's text on top: checked alone first, so a wrong type or an unknown key
    /// names the file it is in.
    fn add(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let parse_error = |message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let mut unknown = Vec::new();
        parse_lenient(text, &mut unknown).map_err(parse_error)?;
        let table: toml::Table = toml::from_str(text)
            .map_err(|error: toml::de::Error| parse_error(error.to_string()))?;
        refuse_card_secrets(&table, path)?;
        self.warnings.extend(
            unknown
                .into_iter()
                .map(|key| format!("{}: unknown key `{key}` ignored", path.display())),
        );
        merge(&mut self.table, table, "", path, &mut self.origins);
        Ok(())
    }

    /// The file that set `key` (or the table it is in); the last file for a default.
    fn origin(&self, key: &str, last: &Path) -> PathBuf {
        let mut key = key;
        loop {
            if let Some(path) = self.origins.get(key) {
                return path.clone();
            }
            match key.rsplit_once('.') {
                Some((table, _)) => key = table,
                None => return last.to_owned(),
            }
        }
    }
}

/// `layer` over `into`, table by table, key by key.
fn merge(
    into: &mut toml::Table,
    layer: toml::Table,
    prefix: &str,
    path: &Path,
    origins: &mut BTreeMap<String, PathBuf>,
) {
    for (name, value) in layer {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match (into.get_mut(&name), value) {
            (Some(toml::Value::Table(below)), toml::Value::Table(above)) => {
                merge(below, above, &key, path, origins);
            }
            (_, value) => {
                origins.retain(|set, _| !set.starts_with(&format!("{key}.")));
                origins.insert(key, path.to_owned());
                into.insert(name, value);
            }
        }
    }
}

/// The card PIN and key are secrets: `config.toml` is read by every user of the desk.
fn refuse_card_secrets(table: &toml::Table, path: &Path) -> Result<(), ConfigError> {
    let Some(toml::Value::Table(card)) = table.get("card") else {
        return Ok(());
    };
    for (key, variable) in [("card.pin", PIN_ENV), ("card.key", KEY_ENV)] {
        let name = key.trim_start_matches("card.");
        if card.contains_key(name) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                key,
                message: format!(
                    "the card secrets do not belong in a configuration file every user reads: \
                     put `{name}` in the file card.secrets_file names (chmod 0640, group \
                     meterdesk) or in {variable}"
                ),
            });
        }
    }
    Ok(())
}

impl Config {
    /// Reads `paths` in order, later files overriding earlier ones key by key; a missing file
    /// is skipped (the app must start on a fresh machine), an unreadable one is an error.
    pub fn load(paths: &[PathBuf]) -> Result<Loaded, ConfigError> {
        let mut layers = Layers::default();
        for path in paths {
            match std::fs::read_to_string(path) {
                Ok(text) => layers.add(&text, path)?,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
        let last = paths
            .last()
            .map_or(Path::new(SYSTEM_CONFIG), PathBuf::as_path);
        layers.into_loaded(last)
    }

    /// Parses one file's text; unknown keys become warnings, bad values errors.
    pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
        let mut layers = Layers::default();
        layers.add(text, path)?;
        layers.into_loaded(path)
    }

    fn validate(&self, origin: &dyn Fn(&str) -> PathBuf) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            path: origin(key),
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
        if let Some(replica) = &self.database.replica
            && replica.trim().is_empty()
        {
            return Err(invalid(
                "database.replica",
                "is empty; remove the key to read from the primary only",
            ));
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

impl Layers {
    fn into_loaded(self, last: &Path) -> Result<Loaded, ConfigError> {
        let config =
            Config::deserialize(self.table.clone()).map_err(|error| ConfigError::Parse {
                path: last.to_owned(),
                message: error.to_string(),
            })?;
        config.validate(&|key| self.origin(key, last))?;
        Ok(Loaded {
            config,
            warnings: self.warnings,
        })
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
    use crate::scratch_dir::ScratchDir;

    fn parse(text: &str) -> Result<Loaded, ConfigError> {
        Config::parse(text, Path::new("config.toml"))
    }

    /// Why `paths` did not load, as the start says it.
    fn load_error(paths: &[PathBuf]) -> String {
        Config::load(paths).unwrap_err().to_string()
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
        assert_eq!(loaded.config.database.pool_size, 2);
        assert!(
            !loaded.config.ui.auto_advance,
            "no field moves on by itself"
        );
    }

    #[test]
    fn auto_advance_is_asked_for_in_ui() {
        let loaded = parse("[ui]\nauto_advance = true\n").unwrap();
        assert!(loaded.config.ui.auto_advance);
        assert!(loaded.warnings.is_empty());
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
            ("[card]\ndemo = \"yes\"\n", "demo"),
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
            ("[database]\nreplica = \" \"\n", "database.replica"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?}: {err}");
        }
    }

    #[test]
    fn card_secrets_in_a_config_file_stop_the_start_pointing_to_the_secrets_file() {
        for (text, key) in [
            ("[card]\npin = \"24680\"\n", "card.pin"),
            ("[card]\nkey = \"ab\"\n", "card.key"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
            assert!(err.contains("card.secrets_file"), "{err}");
        }
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
        let loaded = Config::load(&[PathBuf::from("/nonexistent/meterdesk.toml")]).unwrap();
        assert_eq!(loaded.config, Config::default());
    }

    #[test]
    fn later_files_override_earlier_ones_key_by_key() {
        let dir = ScratchDir::new("config-layers");
        let system = dir.file(
            "system.toml",
            "[database]\nurl = \"host=db\"\npool_size = 8\n[card]\nsecrets_file = \"/etc/meterdesk/card.toml\"\n\
             [ui.keys]\nquit = [\"F10\"]\nhelp = [\"F1\"]\n",
        );
        let user = dir.file(
            "user.toml",
            "[database]\npool_size = 2\n[ui]\nlanguage = \"zh\"\n[ui.keys]\nquit = [\"Ctrl-q\"]\n",
        );
        let explicit = dir.file("explicit.toml", "[ui]\nlanguage = \"en\"\n");
        let missing = dir.path().join("missing.toml");
        let config = Config::load(&[system, missing, user, explicit])
            .unwrap()
            .config;
        assert_eq!(config.database.url.as_deref(), Some("host=db"));
        assert_eq!(config.database.pool_size, 2);
        assert_eq!(
            config.card.secrets_file.as_deref(),
            Some(Path::new("/etc/meterdesk/card.toml"))
        );
        assert_eq!(config.ui.language, Some(Lang::En));
        assert_eq!(config.ui.keys["quit"], ["Ctrl-q"]);
        assert_eq!(config.ui.keys["help"], ["F1"]);
    }

    #[test]
    fn a_bad_value_names_the_file_that_set_it() {
        let dir = ScratchDir::new("config-origin");
        let system = dir.file("system.toml", "[database]\npool_size = 0\n");
        let user = dir.file("user.toml", "[database]\nurl = \"host=db\"\n");
        let err = load_error(&[system.clone(), user.clone()]);
        assert!(err.starts_with(&system.display().to_string()), "{err}");
        assert!(err.contains("database.pool_size"), "{err}");
        // Overridden by a good value, the system file's bad one is gone.
        let fixed = dir.file("fixed.toml", "[database]\npool_size = 3\n");
        assert_eq!(
            Config::load(&[system, user, fixed])
                .unwrap()
                .config
                .database
                .pool_size,
            3
        );
    }

    #[test]
    fn a_malformed_or_unreadable_file_stops_the_start_naming_it() {
        let dir = ScratchDir::new("config-malformed");
        let good = dir.file("good.toml", "[ui]\nmonochrome = true\n");
        let broken = dir.file("broken.toml", "[ui\nmonochrome = true\n");
        let err = load_error(&[good.clone(), broken.clone()]);
        assert!(err.starts_with(&broken.display().to_string()), "{err}");
        let typed = dir.file("typed.toml", "[database]\npool_size = \"four\"\n");
        let err = load_error(&[typed.clone(), good.clone()]);
        assert!(err.starts_with(&typed.display().to_string()), "{err}");
        // A directory where a file should be cannot be read.
        let err = load_error(&[good, dir.path().to_path_buf()]);
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }

    #[test]
    fn unknown_keys_are_warned_about_with_their_file() {
        let dir = ScratchDir::new("config-unknown");
        let system = dir.file("system.toml", "[ui]\ncolour = 1\n");
        let user = dir.file("user.toml", "[ui]\nmonochrome = true\n");
        let loaded = Config::load(&[system.clone(), user]).unwrap();
        assert!(loaded.config.ui.monochrome);
        assert_eq!(
            loaded.warnings,
            [format!(
                "{}: unknown key `ui.colour` ignored",
                system.display()
            )]
        );
    }

    #[test]
    fn the_files_are_the_system_one_the_users_then_the_explicit_one() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| OsString::from(value))
            }
        };
        let explicit = Path::new("desk.toml");
        assert_eq!(
            config_files(Some(explicit), &env(&[("HOME", "/home/ann")])),
            [
                PathBuf::from(SYSTEM_CONFIG),
                PathBuf::from("/home/ann/.config/meterdesk/config.toml"),
                PathBuf::from("desk.toml"),
            ]
        );
        assert_eq!(
            config_files(
                None,
                &env(&[
                    (SYSTEM_CONFIG_ENV, "/tmp/system.toml"),
                    ("HOME", "/home/ann"),
                    ("XDG_CONFIG_HOME", "/srv/ann"),
                ])
            ),
            [
                PathBuf::from("/tmp/system.toml"),
                PathBuf::from("/srv/ann/meterdesk/config.toml"),
            ]
        );
        assert_eq!(
            config_files(
                None,
                &env(&[("HOME", "/home/ann"), ("XDG_CONFIG_HOME", "rel")])
            )[1],
            PathBuf::from("/home/ann/.config/meterdesk/config.toml")
        );
        assert_eq!(
            config_files(None, &env(&[])),
            [PathBuf::from(SYSTEM_CONFIG)]
        );
    }
}
