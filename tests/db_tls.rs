//! TLS and the password file against a real PostgreSQL server of its own on 127.0.0.1 (a TCP
//! port picked free, a certificate made by `openssl` for the test: `localhost` only, signed by
//! a test CA), which accepts TLS with a SCRAM password and nothing else: sslmode as libpq
//! means it, `PGSSLMODE`, `PGSSLROOTCERT` and `PGPASSFILE` honoured by the real binary.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use meterdesk::db::embedded::BinSearch;
use meterdesk::db::pool_from_conn_str;
use support::server_programs::{as_server_user, run};

const PASSWORD: &str = "river-17";

/// The server, stopped and its directory removed on drop.
struct Server {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").current_dir(dir).args(args));
}

impl Server {
    fn start() -> Server {
        let bin = BinSearch::default()
            .find()
            .expect("PostgreSQL server programs");
        let dir = PathBuf::from(format!("/tmp/mdtls-{:08x}", fastrand::u32(..)));
        std::fs::create_dir(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Server { dir, bin, port };
        server.make_certificates();
        if rustix::process::geteuid().is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&server.dir));
        }
        let pgdata = server.dir.join("pg");
        run(as_server_user(&server.bin.join("initdb"))
            .arg("-D")
            .arg(&pgdata)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]));
        std::fs::write(
            pgdata.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        let dir = server.dir.display();
        run(as_server_user(&server.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&pgdata)
            .args(["-w", "-s", "-l"])
            .arg(server.dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={dir} \
                 -c fsync=off -c ssl=on -c ssl_cert_file={dir}/server.crt \
                 -c ssl_key_file={dir}/server.key",
                port = server.port
            ))
            .arg("start"));
        server.psql(&[
            // The installation's owner, as README has a superuser make it: it runs the
            // migrations, which make the operators' group roles.
            &format!("CREATE ROLE water_owner LOGIN CREATEROLE PASSWORD '{PASSWORD}'"),
            "GRANT pg_signal_backend TO water_owner",
            "CREATE DATABASE water OWNER water_owner",
        ]);
        server
    }

    /// A test CA, and the server's key and certificate for `localhost` (not 127.0.0.1).
    fn make_certificates(&self) {
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let ca = [
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=meterdesk test CA",
        ];
        openssl(
            &self.dir,
            &[&["req", "-x509", "-days", "1"][..], &ec, &ca].concat(),
        );
        let csr = [
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ];
        openssl(&self.dir, &[&["req"][..], &ec, &csr].concat());
        std::fs::write(self.dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "san.ext",
                "-out",
                "server.crt",
            ],
        );
        let key = self.dir.join("server.key");
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// Each statement in a transaction of its own (CREATE DATABASE needs that).
    fn psql(&self, statements: &[&str]) {
        let port = self.port.to_string();
        let mut psql = as_server_user(&self.bin.join("psql"));
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args(["-p", &port, "-U", "postgres", "-d", "postgres"]);
        for statement in statements {
            psql.args(["-c", statement]);
        }
        run(&mut psql);
    }

    fn ca(&self) -> String {
        self.dir.join("ca.crt").display().to_string()
    }

    /// A key=value connection string to `host` as the owner, with `more` parameters.
    fn conn(&self, host: &str, more: &str) -> String {
        format!(
            "host={host} port={} user=water_owner dbname=water {more}",
            self.port
        )
    }

    /// A password file for the owner role, only its owner may read.
    fn pgpass(&self) -> PathBuf {
        let path = self.dir.join("pgpass");
        std::fs::write(
            &path,
            format!(
                "# for the test\nlocalhost:{}:water:water_owner:{PASSWORD}\n",
                self.port
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("pg"))
            .args(["-m", "immediate", "-s", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the pool's connection to `conn` is encrypted; the error when it cannot connect.
async fn encrypted(conn: &str) -> Result<bool, String> {
    let pool = pool_from_conn_str(conn, 1).map_err(|error| error.to_string())?;
    let client = pool.get().await.map_err(|error| format!("{error:?}"))?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|error| error.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn sslmode_is_honoured_as_libpq_means_it() {
    let server = Server::start();
    let password = format!("password={PASSWORD}");
    let ca = server.ca();
    for (host, mode, outcome) in [
        ("localhost", "verify-full", Ok(true)),
        // The certificate names localhost, not the address.
        ("127.0.0.1", "verify-full", Err("certificate verify failed")),
        ("127.0.0.1", "verify-ca", Ok(true)),
        ("127.0.0.1", "require", Ok(true)),
        ("127.0.0.1", "prefer", Ok(true)),
        // Without TLS this server refuses the connection.
        ("127.0.0.1", "disable", Err("no encryption")),
    ] {
        let conn = server.conn(
            host,
            &format!("{password} sslmode={mode} sslrootcert='{ca}'"),
        );
        match (encrypted(&conn).await, outcome) {
            (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{mode} to {host}"),
            (Err(error), Err(expected)) => {
                assert!(error.contains(expected), "{mode} to {host}: {error}")
            }
            (got, expected) => panic!("{mode} to {host}: {got:?}, expected {expected:?}"),
        }
    }
    // A URL, with the parameters in its query.
    let url = format!(
        "postgresql://water_owner:{PASSWORD}@localhost:{}/water?sslmode=verify-full&sslrootcert={ca}",
        server.port
    );
    assert_eq!(encrypted(&url).await, Ok(true));
    // A CA that did not sign the server's certificate.
    let other_ca = server.dir.join("server.crt").display().to_string();
    let conn = server.conn(
        "localhost",
        &format!("{password} sslmode=verify-ca sslrootcert='{other_ca}'"),
    );
    let error = encrypted(&conn).await.unwrap_err();
    assert!(error.contains("certificate verify failed"), "{error}");
}

/// A TLS handshake refused (the server's certificate names another host, or another CA signed
/// it) is a connection the desk cannot make, said in its words: session 35 found it a refused
/// statement, "数据库拒绝了此操作：database error: error performing TLS handshake: …".
#[tokio::test]
async fn a_tls_failure_is_said_in_the_desks_words() {
    let server = Server::start();
    let password = format!("password={PASSWORD}");
    let ca = server.ca();
    let other_ca = server.dir.join("server.crt").display().to_string();
    for (host, mode, root) in [
        ("127.0.0.1", "verify-full", &ca),
        ("localhost", "verify-ca", &other_ca),
    ] {
        let conn = server.conn(
            host,
            &format!("{password} sslmode={mode} sslrootcert='{root}'"),
        );
        let pool = pool_from_conn_str(&conn, 1).unwrap();
        let error = meterdesk::db::DbError::from(pool.get().await.unwrap_err());
        let failure = meterdesk::app::state::Failure::from(error);
        let meterdesk::app::state::Failure::Unreachable(cause) = failure else {
            panic!("{mode} to {host}: {failure:?}")
        };
        assert_eq!(
            cause,
            meterdesk::db::LostConnection::Tls,
            "{mode} to {host}"
        );
        let zh = meterdesk::app::state::lost_connection_words(meterdesk::i18n::Lang::Zh, &cause);
        assert_eq!(zh, "与服务器的加密连接失败：请检查服务器证书");
    }
}

/// `meterdesk migrate` with the server given only by the environment: PGSSLMODE, PGSSLROOTCERT
/// and PGPASSFILE do what libpq does with them.
#[test]
fn the_binary_honours_pgsslmode_pgsslrootcert_and_pgpassfile() {
    let server = Server::start();
    let migrate = |sslmode: &str| {
        Command::new(env!("CARGO_BIN_EXE_meterdesk"))
            .arg("migrate")
            .env("METERDESK_SYSTEM_CONFIG", server.dir.join("none.toml"))
            .env("XDG_CONFIG_HOME", &server.dir)
            .env("DATABASE_URL", server.conn("localhost", ""))
            .env("PGSSLMODE", sslmode)
            .env("PGSSLROOTCERT", server.ca())
            .env("PGPASSFILE", server.pgpass())
            .output()
            .unwrap()
    };
    let output = migrate("verify-full");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("schema is up to date"),
        "{stderr}"
    );
    let refused = migrate("disable");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("no encryption"), "{stderr}");
}
