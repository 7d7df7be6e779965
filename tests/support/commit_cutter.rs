//! A relay that loses the reply to a COMMIT: how the tests of exactly-once writes cut the
//! connection at the one moment the client cannot tell whether its write was applied.

use super::pg::TestDb;

/// A relay between a pool and the test cluster's socket that, once armed, cuts the connection
/// right after the server committed: the server's "COMMIT" completion is never passed on, so
/// the client loses the connection without its reply, as when a network drops at that moment.
pub struct CommitCutter {
    /// Connects through the relay.
    pub conn_str: String,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CommitCutter {
    /// CommandComplete ('C', length 11) with the tag COMMIT.
    const COMMIT_DONE: &[u8] = b"C\0\0\0\x0bCOMMIT\0";

    pub fn start(db: &TestDb) -> CommitCutter {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener};
        use std::os::unix::net::UnixStream;
        use std::sync::atomic::Ordering;

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
        let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cut = armed.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let mut client = client.unwrap();
                let mut server = UnixStream::connect(&socket).unwrap();
                let (mut to_server, mut from_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut from_client, &mut to_server));
                let cut = cut.clone();
                std::thread::spawn(move || {
                    let mut buffer = [0; 16 * 1024];
                    while let Ok(n @ 1..) = server.read(&mut buffer) {
                        let chunk = &buffer[..n];
                        let committed = chunk
                            .windows(Self::COMMIT_DONE.len())
                            .any(|w| w == Self::COMMIT_DONE);
                        if committed && cut.swap(false, Ordering::SeqCst) {
                            break;
                        }
                        if client.write_all(chunk).is_err() {
                            break;
                        }
                    }
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = server.shutdown(Shutdown::Both);
                });
            }
        });
        CommitCutter { conn_str, armed }
    }

    /// The next COMMIT through the relay loses its reply and its connection.
    pub fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
