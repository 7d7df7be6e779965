//! Why the server could not be reached or a connection was lost, by cause rather than by the
//! driver's English text, so the desk can say each cause it knows in its own language.

use std::fmt;
use std::io::ErrorKind;
use std::time::Duration;

use tokio_postgres::error::SqlState;

/// The cause of a [`super::DbError::Unreachable`]. Its `Display` is the English the command
/// line prints; the desk words each known cause from its catalogue (`db_cause` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostConnection {
    /// The desk's own deadline passed with no answer (a request's, or the health ping's).
    NoAnswerWithin(Duration),
    /// No free connection came, nor a new one, within the pool's wait.
    NoConnectionInTime,
    /// Nothing listens where the server should be: connection refused, or no socket file.
    NotListening,
    /// The peer reset or closed the connection under a request.
    Reset,
    /// The operating system gave up on the network: connecting or an unacknowledged send.
    TimedOut,
    /// The server cancelled the statement at its statement timeout.
    StatementTimedOut,
    /// The server is shutting down (or was told to end this session).
    ServerShuttingDown,
    /// The server crashed and is restarting.
    ServerCrashed,
    /// The server is starting up, recovering or shutting down, and accepts no connection yet.
    ServerNotReady,
    /// The server ended a session whose transaction stayed idle too long.
    IdleSessionEnded,
    /// The connection had already been closed when the request came to it.
    Closed,
    /// After a password change, a new connection with the new password was refused.
    NewPasswordRefused,
    /// The server would not establish the connection (SQLSTATE 08001, 08004).
    Rejected,
    /// The server reported the connection failed or broken (the rest of class 08).
    ConnectionFailed,
    /// The TLS handshake failed: the server's certificate was not trusted, or no common
    /// protocol.
    Tls,
    /// A cause the desk has no words for: the driver's own text, for the log and the command
    /// line; the desk says it has no words for it.
    Other(String),
}

impl LostConnection {
    /// The cause of a lost connection the server named by its SQLSTATE, if it is one.
    pub fn of_state(state: &SqlState) -> Option<LostConnection> {
        let cause = if *state == SqlState::ADMIN_SHUTDOWN {
            LostConnection::ServerShuttingDown
        } else if *state == SqlState::CRASH_SHUTDOWN {
            LostConnection::ServerCrashed
        } else if *state == SqlState::CANNOT_CONNECT_NOW {
            LostConnection::ServerNotReady
        } else if *state == SqlState::QUERY_CANCELED {
            LostConnection::StatementTimedOut
        } else if *state == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT {
            LostConnection::IdleSessionEnded
        } else if *state == SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
            || *state == SqlState::SQLSERVER_REJECTED_ESTABLISHMENT_OF_SQLCONNECTION
        {
            LostConnection::Rejected
        } else if state.code().starts_with("08") {
            LostConnection::ConnectionFailed
        } else {
            return None;
        };
        Some(cause)
    }

    /// The cause of a lost connection the system reported as an I/O error of `kind`, if the
    /// desk knows it.
    pub fn of_io(kind: ErrorKind) -> Option<LostConnection> {
        match kind {
            ErrorKind::ConnectionRefused | ErrorKind::NotFound => {
                Some(LostConnection::NotListening)
            }
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => Some(LostConnection::Reset),
            ErrorKind::TimedOut => Some(LostConnection::TimedOut),
            _ => None,
        }
    }

    /// The seconds of a deadline as said: whole ones bare, shorter ones to the tenth.
    pub fn seconds(limit: Duration) -> String {
        if limit.subsec_millis() == 0 {
            limit.as_secs().to_string()
        } else {
            format!("{:.1}", limit.as_secs_f64())
        }
    }
}

impl fmt::Display for LostConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LostConnection::NoAnswerWithin(limit) => {
                write!(f, "no answer within {} s", LostConnection::seconds(*limit))
            }
            LostConnection::NoConnectionInTime => f.write_str("no connection in time"),
            LostConnection::NotListening => f.write_str("nothing listens at the server's address"),
            LostConnection::Reset => f.write_str("the connection was reset"),
            LostConnection::TimedOut => f.write_str("the network timed out"),
            LostConnection::StatementTimedOut => {
                f.write_str("the statement was cancelled at the statement timeout")
            }
            LostConnection::ServerShuttingDown => f.write_str("the server is shutting down"),
            LostConnection::ServerCrashed => f.write_str("the server crashed and is restarting"),
            LostConnection::ServerNotReady => {
                f.write_str("the server is starting up and accepts no connection yet")
            }
            LostConnection::IdleSessionEnded => {
                f.write_str("the server ended a session left idle in its transaction")
            }
            LostConnection::Closed => f.write_str("the connection was closed"),
            LostConnection::NewPasswordRefused => {
                f.write_str("the new password was not accepted for a new connection")
            }
            LostConnection::Rejected => f.write_str("the server rejected the connection"),
            LostConnection::ConnectionFailed => {
                f.write_str("the server reported a connection failure")
            }
            LostConnection::Tls => f.write_str("the TLS handshake with the server failed"),
            LostConnection::Other(cause) => f.write_str(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_systems_network_errors_are_known_by_their_cause() {
        for (kind, cause) in [
            (ErrorKind::ConnectionRefused, LostConnection::NotListening),
            (ErrorKind::NotFound, LostConnection::NotListening),
            (ErrorKind::ConnectionReset, LostConnection::Reset),
            (ErrorKind::ConnectionAborted, LostConnection::Reset),
            (ErrorKind::BrokenPipe, LostConnection::Reset),
            (ErrorKind::UnexpectedEof, LostConnection::Reset),
            (ErrorKind::TimedOut, LostConnection::TimedOut),
        ] {
            assert_eq!(LostConnection::of_io(kind), Some(cause), "{kind:?}");
        }
        assert_eq!(LostConnection::of_io(ErrorKind::PermissionDenied), None);
    }

    #[test]
    fn the_servers_own_reasons_are_known_by_their_cause() {
        for (state, cause) in [
            (SqlState::ADMIN_SHUTDOWN, LostConnection::ServerShuttingDown),
            (SqlState::CRASH_SHUTDOWN, LostConnection::ServerCrashed),
            (SqlState::CANNOT_CONNECT_NOW, LostConnection::ServerNotReady),
            (SqlState::QUERY_CANCELED, LostConnection::StatementTimedOut),
            (
                SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
                LostConnection::IdleSessionEnded,
            ),
            (
                SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                LostConnection::Rejected,
            ),
            (
                SqlState::SQLSERVER_REJECTED_ESTABLISHMENT_OF_SQLCONNECTION,
                LostConnection::Rejected,
            ),
            (
                SqlState::CONNECTION_FAILURE,
                LostConnection::ConnectionFailed,
            ),
            (
                SqlState::CONNECTION_EXCEPTION,
                LostConnection::ConnectionFailed,
            ),
            (
                SqlState::CONNECTION_DOES_NOT_EXIST,
                LostConnection::ConnectionFailed,
            ),
            (
                SqlState::PROTOCOL_VIOLATION,
                LostConnection::ConnectionFailed,
            ),
        ] {
            assert_eq!(LostConnection::of_state(&state), Some(cause), "{state:?}");
        }
        assert_eq!(LostConnection::of_state(&SqlState::UNIQUE_VIOLATION), None);
    }

    #[test]
    fn a_deadline_is_said_in_seconds() {
        let said =
            |millis| LostConnection::NoAnswerWithin(Duration::from_millis(millis)).to_string();
        assert_eq!(said(44_000), "no answer within 44 s");
        assert_eq!(said(2_500), "no answer within 2.5 s");
    }
}
