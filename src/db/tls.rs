//! TLS to the PostgreSQL server as libpq does it (docs/decisions.md, "TLS and the password
//! file"): `sslmode` disable, allow, prefer, require, verify-ca or verify-full, with
//! `sslrootcert`, from the connection string, else from `PGSSLMODE` / `PGSSLROOTCERT`, else
//! prefer. tokio-postgres knows only disable, prefer and require and no `sslrootcert`, so
//! these parameters are taken out of the string before it parses the rest ([`parse`]); the
//! string keeps them on its way through the app ([`carry_params`]).

use std::path::PathBuf;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::{Host, SslMode as WireMode};

use super::{DbError, quote_conn_value};

/// The TLS parameters of a connection string that tokio-postgres does not parse.
const TLS_PARAMS: [&str; 2] = ["sslmode", "sslrootcert"];

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// Tried as prefer: tokio-postgres cannot fall back from plain to TLS.
    Allow,
    Prefer,
    /// Encrypted, the server's certificate not checked (libpq's meaning).
    Require,
    /// The certificate signed by the root certificate; any host name.
    VerifyCa,
    /// The certificate signed by the root certificate and naming the host connected to.
    VerifyFull,
}

impl std::str::FromStr for SslMode {
    type Err = DbError;

    fn from_str(text: &str) -> Result<Self, DbError> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(DbError::InvalidSettings(format!(
                    "sslmode {other:?}: must be disable, allow, prefer, require, verify-ca or \
                     verify-full"
                )));
            }
        })
    }
}

/// What the connection's TLS needs: the mode and where the root certificate is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `sslrootcert`: a file of trusted root certificates, or `system` for the machine's.
    pub root_cert: Option<String>,
}

/// `conn` (key=value or URL) parsed with libpq's TLS rules, with the connector its TLS needs;
/// the environment from this process.
pub fn parse(conn: &str) -> Result<(tokio_postgres::Config, MakeTlsConnector), DbError> {
    parse_with(conn, &|name| std::env::var(name).ok())
}

/// As [`parse`], the environment given.
pub fn parse_with(
    conn: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(tokio_postgres::Config, MakeTlsConnector), DbError> {
    let (rest, params) = split(conn)?;
    let settings = settings(&params, env)?;
    let mut config = parse_plain_text(&rest)?;
    config.ssl_mode(wire_mode(settings.mode, config.get_hosts()));
    Ok((config, connector(&settings, env)?))
}

/// `conn` parsed without its TLS parameters: the other settings, for code that only reads them.
pub fn parse_plain(conn: &str) -> Result<tokio_postgres::Config, DbError> {
    parse_plain_text(&split(conn)?.0)
}

fn parse_plain_text(conn: &str) -> Result<tokio_postgres::Config, DbError> {
    conn.parse()
        .map_err(|error: tokio_postgres::Error| DbError::InvalidSettings(error.to_string()))
}

/// `rebuilt` (key=value) with the TLS parameters of `original` appended, so a string made
/// again from parsed settings keeps them.
pub fn carry_params(original: &str, rebuilt: String) -> Result<String, DbError> {
    let (_, params) = split(original)?;
    Ok(params
        .iter()
        .map(|(key, value)| format!("{key}={}", quote_conn_value(value)))
        .fold(rebuilt, |conn, param| format!("{conn} {param}")))
}

/// The mode and root certificate: the string's, else the environment's, else prefer.
fn settings(
    params: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<TlsSettings, DbError> {
    let param = |key: &str, variable: &str| {
        params
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .or_else(|| env(variable).filter(|value| !value.is_empty()))
    };
    Ok(TlsSettings {
        mode: match param("sslmode", "PGSSLMODE") {
            Some(mode) => mode.parse()?,
            None => SslMode::Prefer,
        },
        root_cert: param("sslrootcert", "PGSSLROOTCERT"),
    })
}

/// What tokio-postgres is told: never TLS over a Unix socket (libpq does not use it there,
/// and the socket has no host name to check); verification is the connector's job.
fn wire_mode(mode: SslMode, hosts: &[Host]) -> WireMode {
    let unix_only = !hosts.is_empty() && hosts.iter().all(|host| matches!(host, Host::Unix(_)));
    match mode {
        _ if unix_only => WireMode::Disable,
        SslMode::Disable => WireMode::Disable,
        SslMode::Allow | SslMode::Prefer => WireMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
    }
}

/// The OpenSSL connector for `settings`: no certificate check up to require; the chain
/// checked against the root certificate for verify-ca, and the host name too for verify-full.
pub fn connector(
    settings: &TlsSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<MakeTlsConnector, DbError> {
    let tls_error = |error: openssl::error::ErrorStack| DbError::InvalidSettings(error.to_string());
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls_error)?;
    let verify = matches!(settings.mode, SslMode::VerifyCa | SslMode::VerifyFull);
    if verify {
        builder.set_verify(SslVerifyMode::PEER);
        match root_cert(settings, env)? {
            RootCert::System => builder.set_default_verify_paths(),
            RootCert::File(path) => builder.set_ca_file(&path),
        }
        .map_err(|error| {
            DbError::InvalidSettings(format!("the root certificate (sslrootcert): {error}"))
        })?;
    } else {
        builder.set_verify(SslVerifyMode::NONE);
    }
    let mut connector = MakeTlsConnector::new(builder.build());
    if settings.mode != SslMode::VerifyFull {
        connector.set_callback(|connection, _host| {
            connection.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(connector)
}

enum RootCert {
    System,
    File(PathBuf),
}

/// `sslrootcert`, else libpq's default `~/.postgresql/root.crt`, which must then exist.
fn root_cert(
    settings: &TlsSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RootCert, DbError> {
    match settings.root_cert.as_deref() {
        Some("system") => Ok(RootCert::System),
        Some(path) => Ok(RootCert::File(PathBuf::from(path))),
        None => {
            let default = env("HOME").map(|home| PathBuf::from(home).join(".postgresql/root.crt"));
            match default {
                Some(path) if path.exists() => Ok(RootCert::File(path)),
                _ => Err(DbError::InvalidSettings(format!(
                    "sslmode {:?} checks the server's certificate and needs the root \
                     certificate: set sslrootcert (a file, or \"system\") or PGSSLROOTCERT, or \
                     put it in ~/.postgresql/root.crt",
                    settings.mode
                ))),
            }
        }
    }
}

/// `conn` without its TLS parameters, and those parameters in order.
fn split(conn: &str) -> Result<(String, Vec<(String, String)>), DbError> {
    let trimmed = conn.trim_start();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        Ok(split_url(trimmed))
    } else {
        split_key_values(conn)
    }
}

fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if TLS_PARAMS.contains(&key) {
            taken.push((key.to_owned(), percent_decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, taken)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// libpq's key=value grammar: `key = value`, a value in single quotes or up to the next space,
/// backslash escaping the next character. The rest is re-quoted, so it parses to the same.
fn split_key_values(conn: &str) -> Result<(String, Vec<(String, String)>), DbError> {
    let mut chars = conn.chars().peekable();
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    // Never the string itself in the message: it may hold a password.
    let invalid =
        |message: &str| DbError::InvalidSettings(format!("the connection string: {message}"));
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(invalid(&format!("no `=` after `{key}`")));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if_eq(&'\'').is_some();
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => value.extend(chars.next()),
                Some('\'') if quoted => break,
                Some(c) if !quoted && c.is_whitespace() => break,
                Some(c) => value.push(c),
                None if quoted => return Err(invalid("an unterminated quoted value")),
                None => break,
            }
        }
        if TLS_PARAMS.contains(&key.as_str()) {
            taken.push((key, value));
        } else {
            kept.push(format!("{key}={}", quote_conn_value(&value)));
        }
    }
    Ok((kept.join(" "), taken))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn the_tls_parameters_are_taken_out_of_key_values_and_urls() {
        let (rest, taken) = split(
            "host=water.example sslmode = verify-full  dbname='water desk' \
             sslrootcert='/etc/ssl/our ca.pem' password='it\\'s'",
        )
        .unwrap();
        assert_eq!(
            taken,
            params(&[
                ("sslmode", "verify-full"),
                ("sslrootcert", "/etc/ssl/our ca.pem")
            ])
        );
        let config = parse_plain_text(&rest).unwrap();
        assert_eq!(config.get_dbname(), Some("water desk"));
        assert_eq!(config.get_password(), Some(&b"it's"[..]));

        let (rest, taken) = split(
            "postgresql://desk@water.example/water?sslmode=verify-ca&application_name=x&\
             sslrootcert=%2Fetc%2Fssl%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgresql://desk@water.example/water?application_name=x"
        );
        assert_eq!(
            taken,
            params(&[("sslmode", "verify-ca"), ("sslrootcert", "/etc/ssl/ca.pem")])
        );
        assert_eq!(
            split("postgres://db/water?sslmode=require").unwrap().0,
            "postgres://db/water"
        );
        let unterminated = split("host=db password='secret").unwrap_err();
        assert!(
            !unterminated.to_string().contains("secret"),
            "{unterminated}"
        );
        assert!(split("host db").is_err());
    }

    #[test]
    fn the_string_wins_over_the_environment_and_prefer_is_the_default() {
        let env = |name: &str| match name {
            "PGSSLMODE" => Some("verify-full".to_owned()),
            "PGSSLROOTCERT" => Some("system".to_owned()),
            _ => None,
        };
        assert_eq!(
            settings(&params(&[("sslmode", "require")]), &env).unwrap(),
            TlsSettings {
                mode: SslMode::Require,
                root_cert: Some("system".into())
            }
        );
        assert_eq!(settings(&[], &env).unwrap().mode, SslMode::VerifyFull);
        assert_eq!(settings(&[], &no_env).unwrap().mode, SslMode::Prefer);
        let err = settings(&params(&[("sslmode", "verify")]), &no_env).unwrap_err();
        assert!(err.to_string().contains("verify-full"), "{err}");
    }

    #[test]
    fn tokio_postgres_is_told_require_for_every_checking_mode_and_nothing_over_a_socket() {
        let tcp = [Host::Tcp("water.example".into())];
        let unix = [Host::Unix("/run/postgresql".into())];
        for (mode, wire) in [
            (SslMode::Disable, WireMode::Disable),
            (SslMode::Allow, WireMode::Prefer),
            (SslMode::Prefer, WireMode::Prefer),
            (SslMode::Require, WireMode::Require),
            (SslMode::VerifyCa, WireMode::Require),
            (SslMode::VerifyFull, WireMode::Require),
        ] {
            assert_eq!(wire_mode(mode, &tcp), wire, "{mode:?}");
            assert_eq!(wire_mode(mode, &unix), WireMode::Disable, "{mode:?}");
        }
        let (config, _) = parse_with(
            "host=water.example user=u sslmode=verify-full sslrootcert=system",
            &no_env,
        )
        .unwrap();
        assert_eq!(config.get_ssl_mode(), WireMode::Require);
    }

    #[test]
    fn a_checking_mode_without_a_root_certificate_is_refused_with_the_ways_to_give_one() {
        let home = |name: &str| (name == "HOME").then(|| "/nonexistent".to_owned());
        let refusal = |conn: &str| match parse_with(conn, &home) {
            Ok(_) => panic!("{conn}: accepted"),
            Err(error) => error.to_string(),
        };
        let err = refusal("host=db user=u sslmode=verify-ca");
        assert!(err.contains("sslrootcert"), "{err}");
        let err = refusal("host=db user=u sslmode=verify-ca sslrootcert=/nonexistent/ca.pem");
        assert!(err.contains("root certificate"), "{err}");
        assert!(parse_with("host=db user=u sslmode=require", &home).is_ok());
    }

    #[test]
    fn a_rebuilt_string_keeps_the_tls_parameters() {
        let carried = carry_params(
            "host=a sslmode=verify-full sslrootcert='/etc/ca.pem'",
            "host='b'".to_owned(),
        )
        .unwrap();
        assert_eq!(
            split(&carried).unwrap(),
            (
                "host='b'".to_owned(),
                params(&[("sslmode", "verify-full"), ("sslrootcert", "/etc/ca.pem")])
            )
        );
    }
}
