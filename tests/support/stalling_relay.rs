//! A TCP relay to the test cluster that can stop forwarding without closing anything: the
//! database's peer is there but answers no more, as behind a dead network link.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::pg::TestDb;

pub struct StallingRelay {
    /// Connects through the relay.
    pub conn_str: String,
    stalled: Arc<AtomicBool>,
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
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let client = client.unwrap();
                let server = UnixStream::connect(&socket).unwrap();
                let (to_server, from_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                let stall_up = stall.clone();
                std::thread::spawn(move || forward(from_client, to_server, &stall_up));
                let stall_down = stall.clone();
                std::thread::spawn(move || forward(server, client, &stall_down));
            }
        });
        StallingRelay { conn_str, stalled }
    }

    /// From now on nothing passes either way, and nothing is closed.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either ends, or for ever holds both once `stalled`.
fn forward(mut from: impl Read, mut to: impl Write + Closable, stalled: &AtomicBool) {
    let mut buffer = [0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer) {
        if stalled.load(Ordering::SeqCst) {
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    to.close();
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
