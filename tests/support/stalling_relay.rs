//! A TCP relay to the test cluster that can stop forwarding without closing anything: the
//! database's peer is there but answers no more, as behind a dead network link. It also notes
//! the type of every message its clients send after their startup (`sent`): how many round
//! trips a call takes is the number of its Syncs when it sends one statement at a time, and its
//! `turns` when it sends several together: how often the client sent again after an answer.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::pg::TestDb;

pub struct StallingRelay {
    /// Connects through the relay.
    pub conn_str: String,
    stalled: Arc<AtomicBool>,
    sent: Arc<Mutex<Vec<u8>>>,
    turns: Arc<Turns>,
}

/// The client's turns: each time it sends after the server answered, one more.
#[derive(Default)]
struct Turns {
    answered: AtomicBool,
    taken: AtomicUsize,
}

impl StallingRelay {
    pub fn start(db: &TestDb) -> StallingRelay {
        let config: tokio_postgres::Config = db.conn_str.parse().unwrap();
        let tokio_postgres::config::Host::Unix(dir) = &config.get_hosts()[0] else {
            panic!("the test cluster listens on a Unix socket");
        };
        let socket = dir.join(format!(".s.PGSQL.{}", config.get_ports()[0]));
        // A userspace relay's kernel acknowledges whatever arrives, so a stalled relay leaves
        // the client's data unacknowledged — what TCP_USER_TIMEOUT measures, as on a dead
        // network — only once its small receive buffer (inherited by accepted connections)
        // is full.
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener.set_recv_buffer_size(4096).unwrap();
        listener
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        listener.listen(8).unwrap();
        let listener: std::net::TcpListener = listener.into();
        let conn_str = format!(
            "host=127.0.0.1 port={} user={} dbname={}",
            listener.local_addr().unwrap().port(),
            config.get_user().unwrap(),
            config.get_dbname().unwrap()
        );
        let stalled = Arc::new(AtomicBool::new(false));
        let stall = stalled.clone();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let noted = sent.clone();
        let turns = Arc::new(Turns::default());
        let counted = turns.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let client = client.unwrap();
                let server = UnixStream::connect(&socket).unwrap();
                let (to_server, from_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                let stall_up = stall.clone();
                let noted = noted.clone();
                let (up, down) = (counted.clone(), counted.clone());
                std::thread::spawn(move || {
                    let mut messages = Messages::default();
                    forward(from_client, to_server, &stall_up, |bytes| {
                        if up.answered.swap(false, Ordering::SeqCst) {
                            up.taken.fetch_add(1, Ordering::SeqCst);
                        }
                        messages.read(bytes, &mut noted.lock().unwrap());
                    })
                });
                let stall_down = stall.clone();
                std::thread::spawn(move || {
                    forward(server, client, &stall_down, |_| {
                        down.answered.store(true, Ordering::SeqCst)
                    })
                });
            }
        });
        StallingRelay {
            conn_str,
            stalled,
            sent,
            turns,
        }
    }

    /// The types of the messages the clients sent since the last call, in order (`b'S'` a
    /// Sync, `b'P'` a Parse, `b'C'` a Close…).
    pub fn take_sent(&self) -> Vec<u8> {
        std::mem::take(&mut self.sent.lock().unwrap())
    }

    /// How many times the clients sent again after an answer since the last call: the round
    /// trips of what they did meanwhile, however many statements each sent together. Call it
    /// once the last answer has passed.
    pub fn take_turns(&self) -> usize {
        self.turns.answered.store(true, Ordering::SeqCst);
        self.turns.taken.swap(0, Ordering::SeqCst)
    }

    /// From now on nothing passes either way, and nothing is closed.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// What was held passes on, and everything after: the peer answers again.
    pub fn unstall(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either ends, holding both while `stalled`; `seen` is shown what
/// passes.
fn forward(
    mut from: impl Read,
    mut to: impl Write + Closable,
    stalled: &AtomicBool,
    mut seen: impl FnMut(&[u8]),
) {
    let mut buffer = [0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer) {
        seen(&buffer[..n]);
        while stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    to.close();
}

/// A client's side of the protocol cut into messages: untyped ones (an SSL request, then the
/// startup message) and then typed ones, whose types are noted.
#[derive(Default)]
struct Messages {
    pending: Vec<u8>,
    started: bool,
}

impl Messages {
    /// The protocol's SSL and GSSAPI encryption requests: the startup message follows them.
    const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];

    fn read(&mut self, bytes: &[u8], types: &mut Vec<u8>) {
        self.pending.extend_from_slice(bytes);
        loop {
            let (header, length_at) = if self.started { (5, 1) } else { (8, 0) };
            if self.pending.len() < header {
                return;
            }
            let length =
                u32::from_be_bytes(self.pending[length_at..length_at + 4].try_into().unwrap());
            let whole = length_at + length as usize;
            if self.pending.len() < whole {
                return;
            }
            if self.started {
                types.push(self.pending[0]);
            } else {
                let code = u32::from_be_bytes(self.pending[4..8].try_into().unwrap());
                self.started = !Self::ENCRYPTION_REQUESTS.contains(&code);
            }
            self.pending.drain(..whole);
        }
    }
}

trait Closable {
    fn close(&self);
}

impl Closable for TcpStream {
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Closable for UnixStream {
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}
