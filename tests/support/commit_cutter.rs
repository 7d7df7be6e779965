//! Relays between a client and the test cluster's socket that interfere at the COMMIT: how the
//! tests of exactly-once writes lose a reply at the one moment the client cannot tell whether
//! its write was applied ([`CommitCutter`]), or keep a transaction open with its locks while
//! another desk sends the same write ([`CommitHolder`]).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex};

use super::pg::TestDb;

/// What a relay does with a chunk on its way: true passes it on, false cuts the connection.
/// It may block, which holds the chunk (and all after it) back.
type Hook = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// Starts a relay to `db`'s socket, calling `to_server` on each chunk the client sends and
/// `to_client` on each the server sends; returns the connection string through it.
fn relay(db: &TestDb, to_server: Hook, to_client: Hook) -> String {
    let config: tokio_postgres::Config = db.conn_str.parse().unwrap();
    let tokio_postgres::config::Host::Unix(dir) = &config.get_hosts()[0] else {
        panic!("the test cluster listens on a Unix socket");
    };
    let socket = dir.join(format!(".s.PGSQL.{}", config.get_ports()[0]));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let conn_str = format!(
        "host=127.0.0.1 port={} user={} dbname={}",
        listener.local_addr().unwrap().port(),
        config.get_user().unwrap(),
        config.get_dbname().unwrap()
    );
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let client = client.unwrap();
            let server = UnixStream::connect(&socket).unwrap();
            let (to_server, to_client) = (to_server.clone(), to_client.clone());
            let (client_copy, server_copy) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pass(client_copy, server_copy, &*to_server));
            std::thread::spawn(move || pass(server, client, &*to_client));
        }
    });
    conn_str
}

/// One direction of a relayed connection, until either end closes or `hook` cuts it.
fn pass(
    mut from: impl Read + Ends,
    mut to: impl Write + Ends,
    hook: &(dyn Fn(&[u8]) -> bool + Send + Sync),
) {
    let mut buffer = [0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer) {
        if !hook(&buffer[..n]) || to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    from.end();
    to.end();
}

/// Either kind of socket a relay joins, closed both ways when one direction stops.
trait Ends {
    fn end(&self);
}

impl Ends for TcpStream {
    fn end(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Ends for UnixStream {
    fn end(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

fn contains(chunk: &[u8], message: &[u8]) -> bool {
    chunk.windows(message.len()).any(|window| window == message)
}

/// A relay that, once armed, cuts the connection right after the server committed: the
/// server's "COMMIT" completion is never passed on, so the client loses the connection
/// without its reply, as when a network drops at that moment.
pub struct CommitCutter {
    /// Connects through the relay.
    pub conn_str: String,
    /// What the server sends that is cut, once; None: nothing.
    armed: Arc<Mutex<Option<Vec<u8>>>>,
}

impl CommitCutter {
    /// CommandComplete ('C', length 11) with the tag COMMIT.
    const COMMIT_DONE: &[u8] = b"C\0\0\0\x0bCOMMIT\0";

    pub fn start(db: &TestDb) -> CommitCutter {
        let armed: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let cut = armed.clone();
        let conn_str = relay(
            db,
            Arc::new(|_| true),
            Arc::new(move |chunk| {
                let mut cut = cut.lock().unwrap();
                let now = cut.as_deref().is_some_and(|reply| contains(chunk, reply));
                if now {
                    *cut = None;
                }
                !now
            }),
        );
        CommitCutter { conn_str, armed }
    }

    /// The next COMMIT through the relay loses its reply and its connection.
    pub fn arm(&self) {
        *self.armed.lock().unwrap() = Some(Self::COMMIT_DONE.to_vec());
    }

    /// The next statement run in a transaction of its own (no BEGIN: a database function that
    /// writes) whose completion is `tag` ("SELECT 1") loses its reply and its connection, once
    /// the server has committed it: the completion followed by ReadyForQuery saying idle.
    pub fn arm_at_completion(&self, tag: &str) {
        let length = u32::try_from(4 + tag.len() + 1).unwrap();
        let mut reply = vec![b'C'];
        reply.extend(length.to_be_bytes());
        reply.extend(tag.as_bytes());
        reply.push(0);
        reply.extend(b"Z\0\0\0\x05I");
        *self.armed.lock().unwrap() = Some(reply);
    }
}

/// Where a [`CommitHolder`] is with the COMMIT it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    Off,
    Armed,
    Holding,
    Released,
}

/// A relay that, once armed, holds the client's next COMMIT back: the server keeps the
/// transaction open, idle with its locks, until the test releases the COMMIT, or until the
/// server ends the session (its idle-in-transaction timeout) if it never is, as for a desk
/// whose network died the moment it sent the COMMIT.
pub struct CommitHolder {
    /// Connects through the relay.
    pub conn_str: String,
    hold: Arc<(Mutex<Hold>, Condvar)>,
}

impl CommitHolder {
    /// A simple Query ('Q', length 11) of COMMIT, as tokio-postgres ends a transaction.
    const COMMIT: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";

    pub fn start(db: &TestDb) -> CommitHolder {
        let hold = Arc::new((Mutex::new(Hold::Off), Condvar::new()));
        let held = hold.clone();
        let conn_str = relay(
            db,
            Arc::new(move |chunk| {
                let (state, changed) = &*held;
                let mut state = state.lock().unwrap();
                if *state == Hold::Armed && contains(chunk, Self::COMMIT) {
                    *state = Hold::Holding;
                    changed.notify_all();
                    drop(changed.wait_while(state, |state| *state == Hold::Holding));
                }
                true
            }),
            Arc::new(|_| true),
        );
        CommitHolder { conn_str, hold }
    }

    /// The next COMMIT through the relay is held back.
    pub fn arm(&self) {
        *self.hold.0.lock().unwrap() = Hold::Armed;
    }

    /// Whether a COMMIT is being held back now.
    pub fn holding(&self) -> bool {
        *self.hold.0.lock().unwrap() == Hold::Holding
    }

    /// Lets the held COMMIT go on to the server.
    pub fn release(&self) {
        let (state, changed) = &*self.hold;
        *state.lock().unwrap() = Hold::Released;
        changed.notify_all();
    }
}
