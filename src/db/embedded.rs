//! A private PostgreSQL cluster in meterdesk's data directory, used when no database is
//! configured.
//!
//! Layout of the data directory:
//! ```text
//! <data_dir>/cluster.lock   exclusive file lock held while checking, initialising, starting, stopping
//! <data_dir>/postgres.log   the server's output (pg_ctl -l)
//! <data_dir>/pg/            the PostgreSQL data directory (PGDATA)
//! <data_dir>/pg.init/       a first initdb in progress; renamed to pg/ only when complete
//! <data_dir>/run/           the unix socket; the server listens on nothing else
//! ```
//!
//! Policy: the server keeps running after meterdesk exits, like a service, so other meterdesk
//! sessions on the machine keep working; [`Cluster::stop`] (`meterdesk db stop`) stops it.
//!
//! PostgreSQL refuses to run as root, so when meterdesk runs as root the server programs run as
//! the `postgres` user (`runuser -u postgres`), and the data directory is handed to that user.
//!
//! Everything here blocks (it runs `initdb`, `pg_ctl`, `psql`): call it from `spawn_blocking`.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::quote_conn_value;

/// The database meterdesk uses inside its private cluster.
pub const APP_DATABASE: &str = "meterdesk";
/// The role that owns the schema and runs migrations (`<database>_owner`, sql/V13). Only the
/// Unix accounts that installed the cluster (root, the server account) may sign in as it.
pub const OWNER_ROLE: &str = "meterdesk_owner";
/// The cluster's bootstrap superuser: used by meterdesk only to make the owner and the
/// database, over the same peer-checked socket.
const SUPERUSER: &str = "postgres";
/// The group whose members (the clerks' Unix accounts) may reach the server's socket.
pub const DESK_GROUP: &str = "meterdesk";
/// Failed sign-ins wait this long for their answer (the server's auth_delay module), which
/// makes guessing passwords slow; the server logs each failure.
const AUTH_DELAY_MS: u32 = 500;

/// PostgreSQL's session-level advisory locks, EXECUTE for PUBLIC out of the box. A lock taken
/// with one outlives its transaction, even one rolled back, for as long as the session lives;
/// the server's lock table is shared (`max_locks_per_transaction` × connections, about 16 000
/// entries here), and s39-f's clerk filled it from psql in one line (`SELECT
/// count(pg_advisory_lock(g)) FROM generate_series(1, 100000) g`): from then on every
/// statement of every session, and every new connection, was refused with "out of shared
/// memory" until that session ended — nothing a desk or the owner could run ended it. The
/// desk never takes one (its keys' locks are `pg_advisory_xact_lock`, released with their
/// transaction); the owner's bulk load does (sql/V89), so the owner keeps them. Taken from
/// PUBLIC in the application database at every start (sql/V160's sweep ends a transaction
/// left open with its locks).
const SESSION_LOCKS: &str = "pg_advisory_lock(bigint), pg_advisory_lock(integer, integer), \
     pg_advisory_lock_shared(bigint), pg_advisory_lock_shared(integer, integer), \
     pg_try_advisory_lock(bigint), pg_try_advisory_lock(integer, integer), \
     pg_try_advisory_lock_shared(bigint), pg_try_advisory_lock_shared(integer, integer)";

/// PostgreSQL's functions that make a large object, EXECUTE for PUBLIC out of the box (libpq's
/// client-side `lo_import` makes one through them): any role could store objects of up to
/// 4 TB each in `pg_largeobject`, kept for good where no screen, report nor `meterdesk check`
/// looks (s43-f's clerk, from psql). The desk never makes one, nor does the owner. Taken from
/// PUBLIC in the application database at every start; the server-side `lo_import` of a file
/// is the superuser's already.
const LARGE_OBJECT_MAKERS: &str = "lo_creat(integer), lo_create(oid), lo_from_bytea(oid, bytea)";

/// The port only names the socket file (`.s.PGSQL.5432`): the server opens no TCP port.
const SOCKET_PORT: u16 = 5432;

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_LEN: usize = 107;

/// Programs the cluster needs from a PostgreSQL server installation.
const SERVER_PROGRAMS: [&str; 4] = ["initdb", "pg_ctl", "postgres", "psql"];

/// The account that runs the server programs when meterdesk runs as root.
const SERVER_ACCOUNT: &str = "postgres";

/// How long a server reported running may take to answer before meterdesk gives up on it.
const DEAD_SERVER_GRACE: Duration = Duration::from_secs(5);

/// Connections the server takes: 64 desks, each with a pool of 2 (`[database] pool_size`)
/// and its health watcher's connection, plus the owner's tools (docs/decisions.md, "Many desks
/// on one server").
const MAX_CONNECTIONS: u32 = 250;

/// Read by the server at every start; rewritten by meterdesk before every start.
const SETTINGS_FILE: &str = "meterdesk.conf";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "the PostgreSQL server programs ({programs}) were not found (looked in: {searched}): \
         install them with `apt-get install postgresql`, or configure an external database"
    )]
    ServerNotInstalled { programs: String, searched: String },

    #[error(
        "the unix socket path {path} is {len} bytes, over the {MAX_SOCKET_PATH_LEN}-byte limit: \
         choose a data directory with a shorter path"
    )]
    SocketPathTooLong { path: PathBuf, len: usize },

    #[error("the data directory {path} cannot be used ({reason}): choose another data directory")]
    UnsupportedDataDir { path: PathBuf, reason: &'static str },

    #[error(
        "meterdesk is not installed on this machine ({MACHINE_DATA_DIR} does not exist): ask the \
         administrator to run `sudo meterdesk init`, or set [database] data_dir (or url) for a \
         database of your own"
    )]
    NoDefaultDataDir,

    #[error(
        "the `{SERVER_ACCOUNT}` user, which runs PostgreSQL when meterdesk runs as root, does not \
         exist: install the server with `apt-get install postgresql` (it creates that user)"
    )]
    NoServerAccount,

    #[error(
        "PostgreSQL runs as the `{SERVER_ACCOUNT}` user, which cannot write to {path} (a parent \
         directory such as /root is closed to it): choose a data directory like /var/lib/meterdesk"
    )]
    DataDirUnreachable { path: PathBuf },

    #[error("could not {action} {path}: {source}; check the permissions and free space there")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("could not run {program}: {source}; check that it is installed and executable")]
    Spawn { program: String, source: io::Error },

    #[error("{step} failed ({status}): {output}; see {log} for the server's own messages")]
    ServerCommand {
        step: &'static str,
        status: String,
        output: String,
        log: PathBuf,
    },
}

impl EmbeddedError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EmbeddedError {
        let path = path.to_path_buf();
        move |source| EmbeddedError::Io {
            action,
            path,
            source,
        }
    }
}

/// The machine's installation, shared by every Unix account on it (root makes it; the
/// clerks' accounts connect to its socket).
pub const MACHINE_DATA_DIR: &str = "/var/lib/meterdesk";

/// Where meterdesk's cluster is when nothing else is configured: the machine's installation,
/// which root creates (the `postgres` account must reach it, so not under root's home). An
/// ordinary account never gets a cluster of its own by accident: without the machine's
/// installation it is told to ask for one or to configure a private data directory.
pub fn default_data_dir() -> Result<PathBuf, EmbeddedError> {
    let machine = Path::new(MACHINE_DATA_DIR);
    data_dir_for(rustix::process::geteuid().is_root(), machine.is_dir())
}

fn data_dir_for(is_root: bool, machine_installed: bool) -> Result<PathBuf, EmbeddedError> {
    if is_root || machine_installed {
        Ok(PathBuf::from(MACHINE_DATA_DIR))
    } else {
        Err(EmbeddedError::NoDefaultDataDir)
    }
}

/// Where to look for the PostgreSQL server programs. Injectable so tests can simulate a
/// machine without them.
#[derive(Clone, Debug)]
pub struct BinSearch {
    /// Asked first, with `--bindir`.
    pub pg_config: PathBuf,
    /// Else the newest `<versions_root>/<version>/bin` (Debian's layout).
    pub versions_root: PathBuf,
}

impl Default for BinSearch {
    fn default() -> Self {
        BinSearch {
            pg_config: PathBuf::from("pg_config"),
            versions_root: PathBuf::from("/usr/lib/postgresql"),
        }
    }
}

impl BinSearch {
    /// The first directory holding all the server programs meterdesk needs.
    pub fn find(&self) -> Result<PathBuf, EmbeddedError> {
        let from_pg_config = Command::new(&self.pg_config)
            .arg("--bindir")
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
        let candidates = from_pg_config
            .into_iter()
            .chain(self.versioned_bin_dirs_newest_first());
        candidates
            .into_iter()
            .find(|dir| has_server_programs(dir))
            .ok_or_else(|| EmbeddedError::ServerNotInstalled {
                programs: SERVER_PROGRAMS.join(", "),
                searched: format!(
                    "{} --bindir, {}/*/bin",
                    self.pg_config.display(),
                    self.versions_root.display()
                ),
            })
    }

    fn versioned_bin_dirs_newest_first(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.versions_root) else {
            return Vec::new();
        };
        let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name();
                // "9.6" < "10" < "15": compare the numeric parts, not the text.
                let version = name
                    .to_str()?
                    .split('.')
                    .map(str::parse)
                    .collect::<Result<Vec<u32>, _>>()
                    .ok()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        versions.into_iter().map(|(_, dir)| dir).collect()
    }
}

fn has_server_programs(dir: &Path) -> bool {
    SERVER_PROGRAMS
        .iter()
        .all(|program| dir.join(program).is_file())
}

/// What to run and where.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub data_dir: PathBuf,
    /// `false` turns off fsync, synchronous_commit and full_page_writes: fast, and a crash can
    /// lose or corrupt data. Only for throw-away test clusters.
    pub durable: bool,
    pub bin_search: BinSearch,
}

impl ClusterSpec {
    /// A durable cluster in `data_dir`, with the server programs found the usual way.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ClusterSpec {
            data_dir: data_dir.into(),
            durable: true,
            bin_search: BinSearch::default(),
        }
    }
}

/// How [`Cluster::ensure_running`] found the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Startup {
    /// First run: the cluster was created, then started.
    Initialised,
    /// The cluster existed and was stopped; it was started.
    Started,
    /// Another meterdesk session (or an earlier one) had already started it.
    AlreadyRunning,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped,
    WasNotRunning,
}

/// Who runs the server programs.
#[derive(Clone, Copy, Debug)]
enum ServerUser {
    /// An ordinary user runs them directly.
    Me,
    /// Root hands them, and the data directory, to the `postgres` account.
    Account { uid: u32, gid: u32 },
}

impl ServerUser {
    fn detect() -> Result<Self, EmbeddedError> {
        if !rustix::process::geteuid().is_root() {
            return Ok(ServerUser::Me);
        }
        let output = Command::new("getent")
            .args(["passwd", SERVER_ACCOUNT])
            .output()
            .map_err(|source| EmbeddedError::Spawn {
                program: "getent".into(),
                source,
            })?;
        // name:password:uid:gid:…
        let entry = String::from_utf8_lossy(&output.stdout);
        let mut fields = entry.trim().split(':').skip(2).map(str::parse::<u32>);
        match (output.status.success(), fields.next(), fields.next()) {
            (true, Some(Ok(uid)), Some(Ok(gid))) => Ok(ServerUser::Account { uid, gid }),
            _ => Err(EmbeddedError::NoServerAccount),
        }
    }

    fn command(self, program: impl AsRef<OsStr>) -> Command {
        let mut command = match self {
            ServerUser::Me => Command::new(program),
            ServerUser::Account { .. } => {
                let mut runuser = Command::new("runuser");
                runuser.args(["-u", SERVER_ACCOUNT, "--"]).arg(program);
                runuser
            }
        };
        // The server account may not be allowed into our working directory.
        command.current_dir("/").stdin(Stdio::null());
        command
    }

    /// Gives `path` to the server account, so the server can write there.
    fn hand_over(self, path: &Path) -> Result<(), EmbeddedError> {
        let ServerUser::Account { uid, gid } = self else {
            return Ok(());
        };
        let owner = fs::metadata(path).map_err(EmbeddedError::io("inspect", path))?;
        if owner.uid() == uid && owner.gid() == gid {
            return Ok(());
        }
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(EmbeddedError::io("give to the postgres user", path))
    }
}

/// A private PostgreSQL cluster in a data directory. Creating the value only checks the
/// paths and finds the server programs; [`Cluster::ensure_running`] does the work.
#[derive(Debug)]
pub struct Cluster {
    data_dir: PathBuf,
    durable: bool,
    bin_dir: PathBuf,
    server_user: ServerUser,
}

impl Cluster {
    /// Fails early, before touching the disk, when the server programs are missing or the
    /// data directory's path cannot work.
    pub fn new(spec: ClusterSpec) -> Result<Cluster, EmbeddedError> {
        // The server programs run from `/`, so a relative path would point elsewhere.
        let data_dir = std::path::absolute(&spec.data_dir)
            .map_err(EmbeddedError::io("resolve", &spec.data_dir))?;
        check_data_dir_path(&data_dir)?;
        Ok(Cluster {
            data_dir,
            durable: spec.durable,
            bin_dir: spec.bin_search.find()?,
            server_user: ServerUser::detect()?,
        })
    }

    /// Whether this Unix account installs and runs the cluster: root (which runs it as the
    /// `postgres` account) or the owner of the data directory (a private cluster, or one not
    /// made yet). Any other account — a clerk's — only connects to it.
    pub fn is_installer(&self) -> bool {
        let me = rustix::process::geteuid();
        me.is_root()
            || fs::metadata(&self.data_dir)
                .map(|dir| dir.uid() == me.as_raw())
                .unwrap_or(true)
    }

    /// The PostgreSQL data directory (PGDATA) inside meterdesk's data directory.
    pub fn pgdata(&self) -> PathBuf {
        self.data_dir.join("pg")
    }

    fn socket_dir(&self) -> PathBuf {
        self.data_dir.join("run")
    }

    fn log_file(&self) -> PathBuf {
        self.data_dir.join("postgres.log")
    }

    /// A libpq key=value connection string for `dbname` over the private socket, as the owner
    /// (the operators' sessions replace the user with their own).
    pub fn connection_string(&self, dbname: &str) -> String {
        self.connection_string_as(OWNER_ROLE, dbname)
    }

    /// As the cluster's superuser, for what only it may do (creating databases): the test
    /// harness's throw-away clusters. The desk never connects so.
    pub fn superuser_connection_string(&self, dbname: &str) -> String {
        self.connection_string_as(SUPERUSER, dbname)
    }

    fn connection_string_as(&self, user: &str, dbname: &str) -> String {
        let host = self.socket_dir();
        format!(
            "host={} port={SOCKET_PORT} user={user} dbname={}",
            quote_conn_value(&host.to_string_lossy()),
            quote_conn_value(dbname)
        )
    }

    /// Creates the cluster on first use, starts it unless it already runs, and creates the
    /// application database if it is missing. Safe to call from several processes at once.
    pub fn ensure_running(&self) -> Result<Startup, EmbeddedError> {
        self.prepare_data_dir()?;
        let _lock = self.lock()?;
        let mut startup = Startup::AlreadyRunning;
        if !self.pgdata().is_dir() {
            self.initdb()?;
            startup = Startup::Initialised;
        }
        // pg_ctl calls a server running while its postmaster.pid names a live process, which
        // for a moment after a crash is the dead, not yet reaped postmaster: give such a
        // server a few seconds to either answer or vanish.
        let give_up_at = Instant::now() + DEAD_SERVER_GRACE;
        loop {
            if !self.is_running()? {
                self.start_server(false)?;
                if startup == Startup::AlreadyRunning {
                    startup = Startup::Started;
                }
            }
            match self.create_app_database() {
                Err(error) if startup == Startup::AlreadyRunning && Instant::now() < give_up_at => {
                    tracing::warn!(%error, "the running PostgreSQL server does not answer yet");
                    std::thread::sleep(Duration::from_millis(200));
                }
                result => {
                    result?;
                    if startup != Startup::AlreadyRunning {
                        self.keep_the_superusers_grants()?;
                    }
                    return Ok(startup);
                }
            }
        }
    }

    /// Stops the server (fast mode: open sessions are disconnected, transactions rolled back).
    pub fn stop(&self) -> Result<StopOutcome, EmbeddedError> {
        if !self.data_dir.is_dir() {
            return Ok(StopOutcome::WasNotRunning);
        }
        let _lock = self.lock()?;
        if !self.is_running()? {
            return Ok(StopOutcome::WasNotRunning);
        }
        self.stop_server()?;
        tracing::info!(data_dir = %self.data_dir.display(), "stopped the private PostgreSQL server");
        Ok(StopOutcome::Stopped)
    }

    /// Stops the server if it runs and starts it again; `for_bulk_load` with `wal_level =
    /// minimal` (and so no WAL senders): the rows and indexes of a table created or truncated
    /// in the loading transaction are then written without WAL, their files synced at commit.
    /// Only while no one else uses the cluster: the stop ends every session. The next start
    /// (this one with `false`, or any after a crash) writes the usual settings again.
    pub fn restart(&self, for_bulk_load: bool) -> Result<(), EmbeddedError> {
        let _lock = self.lock()?;
        if self.is_running()? {
            self.stop_server()?;
        }
        self.start_server(for_bulk_load)
    }

    /// `pg_ctl stop` in fast mode, waiting for the server to be gone (the lock held).
    fn stop_server(&self) -> Result<(), EmbeddedError> {
        self.run(
            "stopping PostgreSQL",
            self.pg_ctl().args(["stop", "-m", "fast", "-w", "-s"]),
        )?;
        Ok(())
    }

    /// Whether a server process holds the cluster (by `pg_ctl status`).
    pub fn is_running(&self) -> Result<bool, EmbeddedError> {
        if !self.pgdata().is_dir() {
            return Ok(false);
        }
        let output = self.run_unchecked(self.pg_ctl().arg("status"))?;
        // pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
        match output.status.code() {
            Some(0) => Ok(true),
            Some(3 | 4) => Ok(false),
            _ => Err(self.failure("checking whether PostgreSQL runs", &output)),
        }
    }

    /// The data directory is the server account's; with a `meterdesk` group the clerks may
    /// pass through it (not list it) to the socket directory, which is the group's to enter.
    fn prepare_data_dir(&self) -> Result<(), EmbeddedError> {
        let group = self.desk_group()?;
        let socket_dir = self.socket_dir();
        for (dir, shared_mode) in [(&self.data_dir, 0o711), (&socket_dir, 0o750)] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(EmbeddedError::io("create", dir))?;
            self.server_user.hand_over(dir)?;
            if let Some(gid) = group {
                std::os::unix::fs::chown(dir, None, Some(gid))
                    .map_err(EmbeddedError::io("give to the meterdesk group", dir))?;
                fs::set_permissions(dir, fs::Permissions::from_mode(shared_mode))
                    .map_err(EmbeddedError::io("open to the meterdesk group", dir))?;
            }
        }
        Ok(())
    }

    /// Held while the cluster is checked, created, started or stopped, so concurrent meterdesk
    /// sessions never run initdb or pg_ctl start twice. The OS drops it if the process dies.
    fn lock(&self) -> Result<File, EmbeddedError> {
        let path = self.data_dir.join("cluster.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(EmbeddedError::io("open", &path))?;
        file.lock().map_err(EmbeddedError::io("lock", &path))?;
        Ok(file)
    }

    /// Runs initdb in a scratch directory and renames it into place only when complete, so a
    /// crash during the first run leaves no half-made cluster behind, just scratch to redo.
    fn initdb(&self) -> Result<(), EmbeddedError> {
        let scratch = self.data_dir.join("pg.init");
        if scratch.exists() {
            tracing::warn!(path = %scratch.display(), "removing an unfinished initdb");
            fs::remove_dir_all(&scratch).map_err(EmbeddedError::io("remove", &scratch))?;
        }
        if let ServerUser::Account { .. } = self.server_user {
            self.check_server_account_can_write()?;
        }
        tracing::info!(data_dir = %self.data_dir.display(), "creating the private PostgreSQL cluster");
        let mut initdb = self.server_user.command(self.bin_dir.join("initdb"));
        initdb.arg("-D").arg(&scratch).args([
            "--no-locale",
            "-E",
            "UTF8",
            // Replaced by meterdesk's own pg_hba at the first start (write_settings).
            "--auth=reject",
            "-U",
            SUPERUSER,
        ]);
        if !self.durable {
            initdb.arg("--no-sync");
        }
        self.run("creating the cluster (initdb)", &mut initdb)?;

        let conf = scratch.join("postgresql.conf");
        let mut file = File::options()
            .append(true)
            .open(&conf)
            .map_err(EmbeddedError::io("open", &conf))?;
        writeln!(
            file,
            "\n# meterdesk's own settings, rewritten at every start\ninclude = '{SETTINGS_FILE}'"
        )
        .map_err(EmbeddedError::io("write", &conf))?;

        let pgdata = self.pgdata();
        fs::rename(&scratch, &pgdata).map_err(EmbeddedError::io("rename into place", &scratch))?;
        if self.durable {
            File::open(&self.data_dir)
                .and_then(|dir| dir.sync_all())
                .map_err(EmbeddedError::io("sync", &self.data_dir))?;
        }
        Ok(())
    }

    fn check_server_account_can_write(&self) -> Result<(), EmbeddedError> {
        let status = self
            .server_user
            .command("test")
            .arg("-w")
            .arg(&self.data_dir)
            .status()
            .map_err(|source| EmbeddedError::Spawn {
                program: "runuser".into(),
                source,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(EmbeddedError::DataDirUnreachable {
                path: self.data_dir.clone(),
            })
        }
    }

    fn start_server(&self, for_bulk_load: bool) -> Result<(), EmbeddedError> {
        self.write_settings(for_bulk_load)?;
        let log = self.log_file();
        self.run(
            "starting PostgreSQL (pg_ctl start)",
            self.pg_ctl()
                .arg("start")
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-s"]),
        )?;
        tracing::info!(data_dir = %self.data_dir.display(), "started the private PostgreSQL server");
        Ok(())
    }

    /// Written before every start, so a moved data directory still gets the right socket path.
    /// Who may connect: the installers' Unix accounts (root and the server's account) as the
    /// superuser and the owner, checked by the kernel (peer); everyone else only as an
    /// operator, with the operator's password (SCRAM-SHA-256). The socket is the server's
    /// only door, open to the `meterdesk` group when there is one. JIT is off: the counter's
    /// statements are short, and compiling one whose estimate crosses `jit_above_cost` took
    /// longer (190 ms seen) than running it. The WAL is left at PostgreSQL's defaults: at 64
    /// busy desks half the working backends wait for a commit's flush, yet `commit_delay`
    /// changed nothing and even `synchronous_commit = off` left as many operations a second
    /// and a card recharge's p99 at two to three times its target (the two cores were the
    /// limit, not the flush); and a money commit must be durable (docs/decisions.md, "The card
    /// recharge's p99 at 64 desks").
    fn write_settings(&self, for_bulk_load: bool) -> Result<(), EmbeddedError> {
        let durability = if self.durable { "on" } else { "off" };
        let pgdata = self.pgdata();
        let hba = pgdata.join("meterdesk_hba.conf");
        let ident = pgdata.join("meterdesk_ident.conf");
        let hba_lines = format!(
            "# Written by meterdesk before every start.\n\
             local all {SUPERUSER},{OWNER_ROLE} peer map=installers\n\
             local all all scram-sha-256\n"
        );
        let mut ident_lines = String::from("# Written by meterdesk before every start.\n");
        for account in self.installer_accounts()? {
            for role in [SUPERUSER, OWNER_ROLE] {
                ident_lines.push_str(&format!("installers {account} {role}\n"));
            }
        }
        for (path, text) in [(&hba, hba_lines), (&ident, ident_lines)] {
            fs::write(path, text).map_err(EmbeddedError::io("write", path))?;
            self.server_user.hand_over(path)?;
        }
        let socket_access = match self.desk_group()? {
            Some(_) => {
                format!("unix_socket_permissions = 0770\nunix_socket_group = '{DESK_GROUP}'\n")
            }
            None => "unix_socket_permissions = 0700\n".to_owned(),
        };
        // The path was checked to hold no quotes or backslashes; the double quotes keep
        // spaces and commas inside one list element.
        let settings = format!(
            "# Written by meterdesk before every start: put your own settings in postgresql.conf.\n\
             listen_addresses = ''\n\
             port = {SOCKET_PORT}\n\
             unix_socket_directories = '\"{socket_dir}\"'\n\
             {socket_access}\
             hba_file = '{hba}'\n\
             ident_file = '{ident}'\n\
             password_encryption = 'scram-sha-256'\n\
             shared_preload_libraries = 'auth_delay'\n\
             auth_delay.milliseconds = {AUTH_DELAY_MS}\n\
             fsync = {durability}\n\
             synchronous_commit = {durability}\n\
             full_page_writes = {durability}\n\
             max_connections = {MAX_CONNECTIONS}\n\
             jit = off\n\
             {bulk_load}",
            bulk_load = if for_bulk_load {
                "wal_level = minimal\nmax_wal_senders = 0\n"
            } else {
                ""
            },
            socket_dir = self.socket_dir().display(),
            hba = hba.display(),
            ident = ident.display(),
        );
        let path = self.pgdata().join(SETTINGS_FILE);
        fs::write(&path, settings).map_err(EmbeddedError::io("write", &path))?;
        self.server_user.hand_over(&path)
    }

    /// Runs under the cluster lock, so checking first and creating second cannot race. Makes
    /// the owner role (it creates the operators' roles, ends a disabled operator's sessions and
    /// those left idle in a transaction, sql/V160) and the database it owns; nothing else runs
    /// as the superuser.
    fn create_app_database(&self) -> Result<(), EmbeddedError> {
        let exists = self.psql(
            "looking for the meterdesk database",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{APP_DATABASE}'"),
        )?;
        if exists.stdout.is_empty() {
            self.psql(
                "creating the owner role",
                &format!(
                    "DO $$ BEGIN
                         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                             CREATE ROLE {OWNER_ROLE} LOGIN CREATEROLE;
                         END IF;
                     END $$;
                     GRANT pg_signal_backend, pg_read_all_stats TO {OWNER_ROLE};"
                ),
            )?;
            self.psql(
                "creating the meterdesk database",
                &format!("CREATE DATABASE {APP_DATABASE} OWNER {OWNER_ROLE}"),
            )?;
        }
        Ok(())
    }

    /// What only the superuser may give or take in the application database, given again at
    /// every start of the server (an installation made before keeps up): the owner's reading
    /// of the operators' sessions (sql/V160), the session locks, the owner's alone
    /// ([`SESSION_LOCKS`]), and the making of large objects, nobody's
    /// ([`LARGE_OBJECT_MAKERS`]). Only by the call that started the server, not by every call that
    /// found it running (a test's `CREATE DATABASE … TEMPLATE` refuses while anyone is
    /// connected to the template).
    fn keep_the_superusers_grants(&self) -> Result<(), EmbeddedError> {
        self.psql_in(
            APP_DATABASE,
            "keeping the session locks to the owner and large objects to nobody",
            &format!(
                "DO $$ BEGIN
                     IF NOT pg_is_in_recovery() THEN
                         GRANT pg_signal_backend, pg_read_all_stats TO {OWNER_ROLE};
                         REVOKE EXECUTE ON FUNCTION {SESSION_LOCKS} FROM PUBLIC;
                         GRANT EXECUTE ON FUNCTION {SESSION_LOCKS} TO {OWNER_ROLE};
                         REVOKE EXECUTE ON FUNCTION {LARGE_OBJECT_MAKERS} FROM PUBLIC;
                     END IF;
                 END $$;"
            ),
        )?;
        Ok(())
    }

    /// The Unix accounts that may act as the superuser and the owner: root, and the account
    /// the server runs as (the installing user's own, for a private cluster).
    fn installer_accounts(&self) -> Result<Vec<String>, EmbeddedError> {
        let server_account = match self.server_user {
            ServerUser::Account { .. } => SERVER_ACCOUNT.to_owned(),
            ServerUser::Me => {
                let output = self.run("finding the user name", Command::new("id").arg("-un"))?;
                String::from_utf8_lossy(&output.stdout).trim().to_owned()
            }
        };
        let mut accounts = vec!["root".to_owned()];
        if server_account != "root" {
            accounts.push(server_account);
        }
        Ok(accounts)
    }

    /// The id of the `meterdesk` group, when the cluster is the machine's (run by root as the
    /// `postgres` account) and that account is in the group (else the server could not give
    /// its socket to it). A private cluster of an ordinary user is shared with nobody.
    fn desk_group(&self) -> Result<Option<u32>, EmbeddedError> {
        if let ServerUser::Me = self.server_user {
            return Ok(None);
        }
        let output = self.run_unchecked(Command::new("getent").args(["group", DESK_GROUP]))?;
        // name:password:gid:member,member
        let entry = String::from_utf8_lossy(&output.stdout);
        let mut fields = entry.trim().split(':').skip(2);
        let gid = fields.next().and_then(|gid| gid.parse::<u32>().ok());
        let members = fields.next().unwrap_or_default();
        Ok(gid.filter(|_| members.split(',').any(|member| member == SERVER_ACCOUNT)))
    }

    fn psql(&self, step: &'static str, sql: &str) -> Result<Output, EmbeddedError> {
        self.psql_in("postgres", step, sql)
    }

    /// As the superuser, in database `dbname`.
    fn psql_in(
        &self,
        dbname: &str,
        step: &'static str,
        sql: &str,
    ) -> Result<Output, EmbeddedError> {
        self.run(
            step,
            self.server_user
                .command(self.bin_dir.join("psql"))
                .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .arg(self.superuser_connection_string(dbname)),
        )
    }

    fn pg_ctl(&self) -> Command {
        let mut pg_ctl = self.server_user.command(self.bin_dir.join("pg_ctl"));
        pg_ctl.arg("-D").arg(self.pgdata());
        pg_ctl
    }

    fn run(&self, step: &'static str, command: &mut Command) -> Result<Output, EmbeddedError> {
        let output = self.run_unchecked(command)?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(self.failure(step, &output))
        }
    }

    fn run_unchecked(&self, command: &mut Command) -> Result<Output, EmbeddedError> {
        command.output().map_err(|source| EmbeddedError::Spawn {
            program: command.get_program().to_string_lossy().into_owned(),
            source,
        })
    }

    fn failure(&self, step: &'static str, output: &Output) -> EmbeddedError {
        let text = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let text = if text.is_empty() {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        } else {
            text
        };
        EmbeddedError::ServerCommand {
            step,
            status: output.status.to_string(),
            output: text,
            log: self.log_file(),
        }
    }
}

fn check_data_dir_path(data_dir: &Path) -> Result<(), EmbeddedError> {
    let unsupported = |reason| EmbeddedError::UnsupportedDataDir {
        path: data_dir.to_path_buf(),
        reason,
    };
    let text = data_dir
        .to_str()
        .ok_or_else(|| unsupported("the path is not valid UTF-8"))?;
    // PostgreSQL's config syntax and socket list cannot carry these safely.
    if text.contains(['\'', '"', '\\']) || text.chars().any(char::is_control) {
        return Err(unsupported(
            "the path holds quotes, backslashes or control characters",
        ));
    }
    let socket = data_dir.join("run").join(format!(".s.PGSQL.{SOCKET_PORT}"));
    let len = socket.as_os_str().len();
    if len > MAX_SOCKET_PATH_LEN {
        return Err(EmbeddedError::SocketPathTooLong { path: socket, len });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "meterdesk-embedded-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::create_dir_all(&dir).expect("create a scratch directory");
        dir
    }

    fn fake_server_bin_dir(versions_root: &Path, version: &str) {
        let bin = versions_root.join(version).join("bin");
        fs::create_dir_all(&bin).expect("create a fake bin dir");
        for program in SERVER_PROGRAMS {
            fs::write(bin.join(program), "").expect("create a fake program");
        }
    }

    /// [`data_dir_for`] with the environment's values as text.
    #[test]
    fn every_account_shares_the_machines_installation_and_none_gets_one_by_accident() {
        for (is_root, installed) in [(true, false), (true, true), (false, true)] {
            assert_eq!(
                data_dir_for(is_root, installed).unwrap(),
                Path::new(MACHINE_DATA_DIR)
            );
        }
        assert!(matches!(
            data_dir_for(false, false),
            Err(EmbeddedError::NoDefaultDataDir)
        ));
    }

    #[test]
    fn bin_search_falls_back_to_the_newest_complete_version() {
        let root = scratch_dir("versions");
        fake_server_bin_dir(&root, "9.6");
        fake_server_bin_dir(&root, "10");
        // Newest, but only the client is installed: not usable.
        fs::create_dir_all(root.join("17/bin")).unwrap();
        fs::write(root.join("17/bin/psql"), "").unwrap();
        let search = BinSearch {
            pg_config: root.join("no-pg_config"),
            versions_root: root.clone(),
        };
        assert_eq!(search.find().unwrap(), root.join("10/bin"));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn bin_search_without_server_says_how_to_install_it() {
        let root = scratch_dir("empty");
        let search = BinSearch {
            pg_config: root.join("no-pg_config"),
            versions_root: root.clone(),
        };
        let message = search.find().unwrap_err().to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn socket_path_limit_is_checked_before_anything_runs() {
        let long = PathBuf::from("/tmp").join("d".repeat(100));
        assert!(matches!(
            check_data_dir_path(&long),
            Err(EmbeddedError::SocketPathTooLong { len, .. }) if len > MAX_SOCKET_PATH_LEN
        ));
        // 107 bytes exactly is still fine.
        let fits = PathBuf::from("/")
            .join("d".repeat(MAX_SOCKET_PATH_LEN - "/run/.s.PGSQL.5432".len() - 1));
        assert_eq!(
            fits.join("run/.s.PGSQL.5432").as_os_str().len(),
            MAX_SOCKET_PATH_LEN
        );
        check_data_dir_path(&fits).unwrap();
    }

    #[test]
    fn quotes_in_the_data_dir_are_refused() {
        assert!(matches!(
            check_data_dir_path(Path::new("/tmp/it's")),
            Err(EmbeddedError::UnsupportedDataDir { .. })
        ));
    }
}
