//! The card side of the vpcd socket protocol (vsmartcard's virtual reader driver for pcscd).
//!
//! The card connects to vpcd (TCP 127.0.0.1:35963 for "Virtual PCD 00 00"). Every message, both
//! ways, is a 2-byte big-endian length and a payload. A 1-byte payload from vpcd is a control
//! code; anything longer is a command APDU. Only "get ATR" and APDUs are answered.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::virtual_card::{ATR, VirtualCard};

mod control {
    pub const POWER_OFF: u8 = 0;
    pub const POWER_ON: u8 = 1;
    pub const RESET: u8 = 2;
    pub const GET_ATR: u8 = 4;
}

/// How often to knock while vpcd (that is, pcscd) is not listening yet.
const CONNECT_RETRY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
pub struct LinkOptions {
    /// Ack every vpcd message at once. vpcd sends each message in two writes, and a delayed
    /// ACK of the first stalls the second: ≈ 45 ms per APDU without this, well under 1 ms with.
    pub quick_ack: bool,
    /// Pull the card at its N-th APDU (counted from the process start, over every connection),
    /// as a customer would mid-command: faults placed by APDU count, not by a timer.
    pub vanish: Option<Vanish>,
}

/// The APDU at which the card leaves the reader, and whether it carried that command out first.
#[derive(Debug, Clone, Copy)]
pub struct Vanish {
    /// 1 is the first APDU the card receives.
    pub at_apdu: u64,
    /// `true`: the command is carried out (an UPDATE is on the card) and its answer never sent;
    /// `false`: the card is gone before acting on it. Both are a pull in the middle of it.
    pub carried_out: bool,
}

/// Serves the card to vpcd for as long as the process lives: when pcscd goes away the card
/// waits and connects again, like a card left in a reader whose driver restarts.
pub fn serve_forever(card: &mut VirtualCard, vpcd: SocketAddr, options: LinkOptions) -> ! {
    let mut apdus_received = 0;
    loop {
        let stream = connect(vpcd);
        tracing::info!(%vpcd, "card inserted into the virtual reader");
        match serve_connection(card, stream, options, &mut apdus_received) {
            Ok(()) => tracing::info!("vpcd closed the connection"),
            Err(error) => tracing::warn!(%error, "vpcd connection failed"),
        }
        card.reset();
    }
}

fn connect(vpcd: SocketAddr) -> TcpStream {
    let mut logged = false;
    loop {
        match TcpStream::connect(vpcd) {
            Ok(stream) => return stream,
            Err(error) => {
                if !logged {
                    tracing::info!(%vpcd, %error, "waiting for vpcd (is pcscd running with vpcd?)");
                    logged = true;
                }
                std::thread::sleep(CONNECT_RETRY);
            }
        }
    }
}

/// Answers vpcd until it closes the connection (Ok) or the link fails.
fn serve_connection(
    card: &mut VirtualCard,
    mut stream: TcpStream,
    options: LinkOptions,
    apdus_received: &mut u64,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        if options.quick_ack {
            set_quick_ack(&stream)?;
        }
        let mut length = [0; 2];
        match stream.read_exact(&mut length) {
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            other => other?,
        }
        let mut message = vec![0; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut message)?;
        let answer = match message.as_slice() {
            [control::POWER_OFF | control::POWER_ON | control::RESET] => {
                card.reset();
                continue;
            }
            [control::GET_ATR] => ATR.to_vec(),
            [unknown] => {
                tracing::warn!(code = unknown, "unknown vpcd control code");
                continue;
            }
            apdu => {
                *apdus_received += 1;
                // `RUST_LOG=debug vcard …` lists what an operation sends, APDU by APDU: the
                // header (CLA INS P1 P2) only, a VERIFY's data being the PIN.
                tracing::debug!(n = *apdus_received, header = %format_args!("{:02X?}", &apdu[..apdu.len().min(4)]), "APDU");
                match options.vanish {
                    Some(vanish) if vanish.at_apdu == *apdus_received => {
                        if vanish.carried_out {
                            card.respond(apdu);
                        }
                        tracing::info!(apdu = *apdus_received, "the card vanishes");
                        // Exiting closes the socket: vpcd reports the card removed.
                        std::process::exit(0);
                    }
                    _ => card.respond(apdu).to_bytes(),
                }
            }
        };
        write_message(&mut stream, &answer)?;
    }
}

/// One write for length and payload, so our side never splits a message the way vpcd does.
fn write_message(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let length =
        u16::try_from(payload.len()).map_err(|_| io::Error::other("vpcd message over 64 KiB"))?;
    let mut message = Vec::with_capacity(2 + payload.len());
    message.extend_from_slice(&length.to_be_bytes());
    message.extend_from_slice(payload);
    stream.write_all(&message)
}

/// Linux leaves quick-ack mode on its own, so this is set again before every read.
#[cfg(target_os = "linux")]
fn set_quick_ack(stream: &TcpStream) -> io::Result<()> {
    socket2::SockRef::from(stream).set_tcp_quickack(true)
}

#[cfg(not(target_os = "linux"))]
fn set_quick_ack(_stream: &TcpStream) -> io::Result<()> {
    Ok(())
}
