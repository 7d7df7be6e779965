//! The password file as libpq reads it: `PGPASSFILE`, else `~/.pgpass`; lines
//! `hostname:port:database:username:password`, `*` matching anything, `\:` and `\\` escaped,
//! the first matching line wins. A file others may read or write is ignored with a warning, as
//! libpq does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio_postgres::config::Host;

/// Where libpq's default Unix socket lives on Debian and in PostgreSQL's own builds; a
/// connection there is looked up as `localhost`.
const DEFAULT_SOCKET_DIRS: [&str; 3] = ["/var/run/postgresql", "/run/postgresql", "/tmp"];
const DEFAULT_PORT: u16 = 5432;

/// Sets the password of `config` from the password file when it has none.
pub fn fill_password(config: &mut tokio_postgres::Config) {
    fill_password_with(config, &|name| std::env::var(name).ok());
}

/// As [`fill_password`], the environment given.
pub fn fill_password_with(
    config: &mut tokio_postgres::Config,
    env: &dyn Fn(&str) -> Option<String>,
) {
    if config.get_password().is_some() {
        return;
    }
    let Some(user) = config.get_user().map(str::to_owned) else {
        return;
    };
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(dir)) => dir.to_string_lossy().into_owned(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(DEFAULT_PORT);
    let dbname = config.get_dbname().unwrap_or(&user).to_owned();
    if let Some(password) = password_for(&host, port, &dbname, &user, env) {
        config.password(password);
    }
}

/// The password file's password for this connection; `host` is a host name or a socket
/// directory.
pub fn password_for(
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let path = password_file(env)?;
    let text = readable_only_by_owner(&path)?;
    let host = if DEFAULT_SOCKET_DIRS.contains(&host) {
        "localhost"
    } else {
        host
    };
    lookup(&text, [host, &port.to_string(), dbname, user])
}

fn password_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("PGPASSFILE")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".pgpass")))
}

/// The file's text, unless it is missing or others may use it.
fn readable_only_by_owner(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() {
        return None;
    }
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            "password file {} has group or world access; it is ignored (chmod 0600 it)",
            path.display()
        );
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The password of the first line whose four fields match `wanted` (host, port, database,
/// user).
fn lookup(text: &str, wanted: [&str; 4]) -> Option<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let fields = fields(line);
            let [host, port, dbname, user, password] = fields.as_slice() else {
                return None;
            };
            let matches = [host, port, dbname, user]
                .iter()
                .zip(wanted)
                .all(|(field, wanted)| *field == "*" || *field == wanted);
            matches.then(|| password.clone())
        })
}

/// The fields of a line, `\` escaping the next character; the fifth takes the rest of the
/// line (a password may hold colons).
fn fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch_dir::ScratchDir;

    const FILE: &str = "\
# host:port:database:user:password
water.example:5432:water:clerk7:first\\:one
water.example:*:*:clerk7:second
*:*:*:admin:a:b\\\\c
localhost:5432:water:clerk7:socket
";

    #[test]
    fn the_first_line_that_matches_wins_with_wildcards_and_escapes() {
        let find = |host, port, db, user| lookup(FILE, [host, port, db, user]);
        assert_eq!(
            find("water.example", "5432", "water", "clerk7").as_deref(),
            Some("first:one")
        );
        assert_eq!(
            find("water.example", "6432", "water", "clerk7").as_deref(),
            Some("second")
        );
        assert_eq!(
            find("other", "5432", "x", "admin").as_deref(),
            Some("a:b\\c")
        );
        assert_eq!(find("other", "5432", "water", "clerk7"), None);
    }

    fn pgpass(mode: u32) -> (ScratchDir, PathBuf) {
        let dir = ScratchDir::new(&format!("pgpass-{mode:o}"));
        let path = dir.file("pgpass", FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn pgpassfile_fills_a_missing_password_and_a_socket_in_the_default_dir_is_localhost() {
        let (_dir, path) = pgpass(0o600);
        let env = |name: &str| (name == "PGPASSFILE").then(|| path.display().to_string());
        let mut config: tokio_postgres::Config = "host=/run/postgresql user=clerk7 dbname=water"
            .parse()
            .unwrap();
        fill_password_with(&mut config, &env);
        assert_eq!(config.get_password(), Some(&b"socket"[..]));

        let mut given: tokio_postgres::Config =
            "host=water.example user=clerk7 dbname=water password=typed"
                .parse()
                .unwrap();
        fill_password_with(&mut given, &env);
        assert_eq!(given.get_password(), Some(&b"typed"[..]));

        let mut by_home: tokio_postgres::Config =
            "host=water.example port=7000 user=clerk7".parse().unwrap();
        let home = |name: &str| (name == "HOME").then(|| "/nonexistent".to_owned());
        fill_password_with(&mut by_home, &home);
        assert_eq!(by_home.get_password(), None);
        fill_password_with(&mut by_home, &env);
        assert_eq!(by_home.get_password(), Some(&b"second"[..]));
    }

    #[test]
    fn a_password_file_others_may_read_is_ignored() {
        let (_dir, path) = pgpass(0o640);
        let env = |name: &str| (name == "PGPASSFILE").then(|| path.display().to_string());
        assert_eq!(
            password_for("water.example", 5432, "water", "clerk7", &env),
            None
        );
    }
}
