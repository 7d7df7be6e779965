//! The card rig: a private pcscd (scripts/card-rig.sh) with the vpcd virtual reader, and our
//! emulated card (`vcard`) in it. No mocks.
//!
//! pcscd's socket and the vpcd ports are machine-wide, so every test using the rig takes the
//! rig lock (a mutex within this process, a file lock across processes) and walks through its
//! sequence alone.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use meterdesk::card::reader::{self, ReaderConfig, ReaderHandle, ReaderState};
use meterdesk::config::SYSTEM_CONFIG_ENV;
use meterdesk::tools::rig::virtual_card::ATR;

pub const PCSCD: &str = "/usr/sbin/pcscd";
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
pub const PCSCD_SOCKET: &str = "/run/pcscd/pcscd.comm";
pub const READER_0: &str = "Virtual PCD 00 00";
pub const READER_1: &str = "Virtual PCD 00 01";
pub const PORT_0: u16 = 35963;
pub const PORT_1: u16 = 35964;
pub const PIN: &str = "24680";
/// The MAC key of the rig's cards and meters.
pub const KEY: &str = "5a17c0de5a17c0de5a17c0de5a17c0de5a17c0de5a17c0de5a17c0de5a17c0de";
/// The meter the rig's customer has.
pub const METER: &str = "WM-0042";

static RIG_LOCK: Mutex<()> = Mutex::new(());

/// Set to `1` on a machine without pcscd or vpcd to skip the card-rig tests (README,
/// "Testing"). Unset, a missing rig fails them: a test that cannot fail proves nothing.
pub const SKIP_CARD_RIG: &str = "METERDESK_SKIP_CARD_RIG";

/// Holds the rig for one test; `None` (after a loud message) when pcscd or vpcd is missing and
/// [`SKIP_CARD_RIG`] asks to skip.
pub struct RigLock {
    _in_process: MutexGuard<'static, ()>,
    _across_processes: File,
}

pub fn lock_rig(test: &str) -> Option<RigLock> {
    let skip = std::env::var_os(SKIP_CARD_RIG).is_some_and(|value| value == "1");
    if !rig_installed(test, &[Path::new(PCSCD), Path::new(VPCD_DRIVER)], skip) {
        return None;
    }
    let in_process = RIG_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let across_processes = File::create(std::env::temp_dir().join("meterdesk-card-rig.lock"))
        .expect("creating the rig lock file");
    across_processes.lock().expect("locking the card rig");
    assert!(
        UnixStream::connect(PCSCD_SOCKET).is_err(),
        "a pcscd not started by this test is running (systemd? `systemctl stop pcscd.socket \
         pcscd`); the card tests need the machine's PC/SC to themselves"
    );
    Some(RigLock {
        _in_process: in_process,
        _across_processes: across_processes,
    })
}

/// Whether every file of the rig is there. When one is missing: `false` (after a loud message)
/// if `skip` was asked for, else the test fails saying what to install or set.
pub fn rig_installed(test: &str, files: &[&Path], skip: bool) -> bool {
    let Some(missing) = files.iter().find(|file| !file.exists()) else {
        return true;
    };
    assert!(
        skip,
        "{test} needs the card rig but {} is missing: run scripts/install-deps.sh --test, or \
         set {SKIP_CARD_RIG}=1 to skip the card-rig tests",
        missing.display()
    );
    eprintln!(
        "\n!!!!!!!! SKIPPING {test} ({SKIP_CARD_RIG}=1): {} is missing.\n\
         !!!!!!!! Run scripts/install-deps.sh --test to test the card reader for real.\n",
        missing.display()
    );
    false
}

pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meterdesk-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A private pcscd, stopped on drop so a failing test leaves nothing running.
pub struct Pcscd {
    dir: PathBuf,
}

impl Pcscd {
    pub fn start(dir: &Path) -> Self {
        rig_script(dir, &["start"]);
        Pcscd {
            dir: dir.to_owned(),
        }
    }

    /// A PC without a card reader.
    pub fn start_without_readers(dir: &Path) -> Self {
        rig_script(dir, &["start", "--no-readers"]);
        Pcscd {
            dir: dir.to_owned(),
        }
    }

    pub fn stop(self) {}
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        rig_script(&self.dir, &["stop"]);
    }
}

/// `card-rig.sh ACTION DIR [OPTION]`, with `action_and_option` = [ACTION, OPTION...].
pub fn rig_script(dir: &Path, action_and_option: &[&str]) {
    let (action, option) = action_and_option.split_first().expect("an action");
    let status = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/card-rig.sh"))
        .arg(action)
        .arg(dir)
        .args(option)
        .status()
        .expect("running scripts/card-rig.sh");
    assert!(status.success(), "card-rig.sh {action_and_option:?} failed");
}

/// A `vcard` process: the card is in the reader while it lives; dropping it pulls the card.
pub struct VirtualCardProcess(Child);

impl VirtualCardProcess {
    /// A card of ours, its EFs kept in `state_file`.
    pub fn insert(port: u16, state_file: &Path, extra: &[&str]) -> Self {
        Self::start(port, |vcard| {
            vcard.arg("--state").arg(state_file).args(extra)
        })
    }

    /// A card without the WATER application.
    pub fn insert_foreign(port: u16) -> Self {
        Self::start(port, |vcard| vcard.arg("--foreign"))
    }

    fn start(port: u16, card_args: impl FnOnce(&mut Command) -> &mut Command) -> Self {
        let mut vcard = Command::new(env!("CARGO_BIN_EXE_vcard"));
        vcard.args(["--port", &port.to_string(), "--pin", PIN]);
        let child = card_args(&mut vcard)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting vcard");
        VirtualCardProcess(child)
    }

    pub fn pull(self) {}
}

impl Drop for VirtualCardProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `expected`, allowing passing states on the way (e.g. NoReader while pcscd loads
/// its drivers), and returns how long it took.
pub fn wait_for(
    events: &Receiver<ReaderState>,
    expected: &ReaderState,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    let mut seen = Vec::new();
    while let Some(left) = within.checked_sub(start.elapsed()) {
        match events.recv_timeout(left) {
            Ok(state) if state == *expected => return start.elapsed(),
            Ok(state) => seen.push(state),
            Err(_) => break,
        }
    }
    panic!("no {expected:?} within {within:?}; saw {seen:?}");
}

pub fn follow(config: ReaderConfig) -> (ReaderHandle, Receiver<ReaderState>) {
    let (sender, events) = mpsc::channel();
    let handle = reader::spawn(config, move |state| {
        let _ = sender.send(state);
    });
    (handle, events)
}

pub fn no_card(reader: &str) -> ReaderState {
    ReaderState::NoCard {
        reader: reader.into(),
    }
}

pub fn card_in(reader: &str) -> ReaderState {
    ReaderState::CardPresent {
        reader: reader.into(),
        atr: ATR.to_vec(),
    }
}

/// The rig with its reader thread following reader 0, for one test.
pub struct Rig {
    pub dir: PathBuf,
    pub reader: ReaderHandle,
    pub events: Receiver<ReaderState>,
    // Dropped after the reader, in this order: pcscd (its PID file is in the directory), the
    // directory, the lock.
    _pcscd: Pcscd,
    _scratch: Scratch,
    _lock: RigLock,
}

/// What keeps a rig up once its reader is handed over ([`Rig::into_reader`]): dropped in this
/// order, after the reader.
pub struct RigHeld {
    _pcscd: Pcscd,
    _scratch: Scratch,
    _lock: RigLock,
}

/// Removes the test's directory on drop.
pub struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one reader operation cost.
pub struct Cost {
    pub apdus: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} APDUs, {:.1} ms",
            self.apdus,
            self.elapsed.as_secs_f64() * 1000.0
        )
    }
}

impl Rig {
    pub fn start(test: &str) -> Option<Rig> {
        let lock = lock_rig(test)?;
        let dir = scratch_dir(test);
        let pcscd = Pcscd::start(&dir);
        let (reader, events) = follow(ReaderConfig {
            reader_name: Some(READER_0.into()),
            ..ReaderConfig::default()
        });
        wait_for(&events, &no_card(READER_0), Duration::from_secs(5));
        Some(Rig {
            dir: dir.clone(),
            reader,
            events,
            _pcscd: pcscd,
            _scratch: Scratch(dir),
            _lock: lock,
        })
    }

    /// The reader and its reports, for a desk to own; what keeps the rig up (pcscd, its
    /// directory, the lock) in the [`RigHeld`], to be dropped after the reader.
    pub fn into_reader(self) -> (ReaderHandle, Receiver<ReaderState>, RigHeld) {
        let held = RigHeld {
            _pcscd: self._pcscd,
            _scratch: self._scratch,
            _lock: self._lock,
        };
        (self.reader, self.events, held)
    }

    pub fn state_file(&self, card: &str) -> PathBuf {
        self.dir.join(format!("{card}.state"))
    }

    /// Puts the card kept in `card`'s state file into reader 0; `extra` as for vcard.
    pub fn insert(&self, card: &str, extra: &[&str]) -> VirtualCardProcess {
        let process = VirtualCardProcess::insert(PORT_0, &self.state_file(card), extra);
        self.wait_for_card();
        process
    }

    pub fn insert_blank(&self, card: &str) -> VirtualCardProcess {
        self.insert(card, &["--blank"])
    }

    pub fn wait_for_card(&self) {
        wait_for(&self.events, &card_in(READER_0), Duration::from_secs(2));
    }

    pub fn pull(&self, card: VirtualCardProcess) {
        card.pull();
        wait_for(&self.events, &no_card(READER_0), Duration::from_secs(2));
    }

    /// The config, with the PIN and key in a secrets file only its owner reads.
    pub fn config_file(&self) -> PathBuf {
        let path = self.dir.join("config.toml");
        let data_dir = self.dir.join("data");
        let secrets = self.dir.join("card.toml");
        std::fs::write(&secrets, format!("pin = {PIN:?}\nkey = {KEY:?}\n")).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            &path,
            format!(
                "[database]\ndata_dir = {data_dir:?}\n\n\
                 [card]\nreader = {READER_0:?}\nsecrets_file = {secrets:?}\n"
            ),
        )
        .unwrap();
        path
    }

    /// Runs `meterdesk meter ARGS --meter WM-0042` with the rig's config; returns its output.
    pub fn meter(&self, args: &[&str]) -> String {
        self.meterdesk(&[&["meter"], args, &["--meter", METER]].concat())
    }

    /// Runs `meterdesk meter ARGS --meter METER` and expects it to fail (a refused card):
    /// returns what it said on stderr.
    pub fn meter_refuses(&self, args: &[&str]) -> String {
        let output = self.run_meterdesk(&[&["meter"], args, &["--meter", METER]].concat());
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !output.status.success(),
            "meterdesk meter {args:?} succeeded: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        eprintln!("meterdesk meter {args:?} failed: {}", stderr.trim_end());
        stderr
    }

    fn run_meterdesk(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_meterdesk"))
            .env(SYSTEM_CONFIG_ENV, self.dir.join("no-system-config.toml"))
            .env("XDG_CONFIG_HOME", &self.dir)
            .arg("--config")
            .arg(self.config_file())
            .args(args)
            .output()
            .expect("running meterdesk")
    }

    /// Runs `meterdesk ARGS` with the rig's config; returns its output.
    pub fn meterdesk(&self, args: &[&str]) -> String {
        let output = self.run_meterdesk(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "meterdesk {args:?}: {stdout}{stderr}"
        );
        assert!(
            stderr.is_empty(),
            "no warnings with a configured PIN and key: {stderr}"
        );
        eprintln!("meterdesk {args:?}: {}", stdout.trim_end());
        stdout
    }
}

/// Relays every connection on `path` to pcscd's own socket, like `ssh -R` would from a
/// clerk's PC; returns how many connections it has relayed so far.
pub fn relay_pcscd_socket(path: &Path) -> Receiver<()> {
    let listener = UnixListener::bind(path).expect("binding the relay socket");
    let (relayed, connections) = mpsc::channel();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let upstream = UnixStream::connect(PCSCD_SOCKET).expect("reaching pcscd");
            let _ = relayed.send(());
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                (upstream, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    connections
}
