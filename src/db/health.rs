//! The health watcher's own connection to the server, as the signed-in operator. It is not a
//! pool checkout, so a busy pool (every connection held by long requests) is not taken for an
//! outage. Every [`SWEEP_EVERY`] pings it also ends the operators' sessions left idle in a
//! transaction past the database's limit (`md_end_idle_transactions`, sql/V160): a clerk's
//! psql holding rows' locks in an open transaction, which would make every other desk's write
//! on them wait until its deadline.

use std::time::Duration;

use deadpool_postgres::tokio_postgres::{self, Client};
use postgres_openssl::MakeTlsConnector;

use super::session::Sessions;
use super::{DbError, LostConnection};

/// Pings between two sweeps of the sessions left idle in a transaction (a ping a second:
/// `app::run`'s interval).
pub const SWEEP_EVERY: u32 = 10;

pub struct HealthProbe {
    sessions: Sessions,
    /// Pings made, counting toward the next sweep.
    pings: u32,
    /// Kept between pings, with the sign-in it was made for; made again after a failed ping
    /// or another sign-in.
    client: Option<(u64, Client)>,
    deadline: Duration,
}

impl HealthProbe {
    pub fn new(sessions: Sessions) -> HealthProbe {
        HealthProbe {
            deadline: sessions.deadlines().connect,
            sessions,
            pings: 0,
            client: None,
        }
    }

    /// One round trip to the server, connecting first if need be; `None` while nobody is
    /// signed in (there is no connection to check). Never takes much longer than the connect
    /// deadline, even when the server stops answering on an open connection.
    pub async fn ping(&mut self) -> Option<Result<(), DbError>> {
        let (generation, config, tls) = self.sessions.health_config()?;
        let deadline = self.deadline;
        let outcome = tokio::time::timeout(deadline, self.round_trip(generation, &config, tls))
            .await
            .unwrap_or_else(|_| {
                Err(DbError::Unreachable(LostConnection::NoAnswerWithin(
                    deadline,
                )))
            });
        match &outcome {
            Ok(()) => {}
            // Nobody to check for any more: the operator's connections are gone.
            Err(DbError::SignedOut(_)) => {
                self.client = None;
                self.sessions.sign_out();
            }
            Err(_) => self.client = None,
        }
        Some(outcome)
    }

    async fn round_trip(
        &mut self,
        generation: u64,
        config: &tokio_postgres::Config,
        tls: MakeTlsConnector,
    ) -> Result<(), DbError> {
        let kept = self
            .client
            .take()
            .filter(|(made_for, client)| *made_for == generation && !client.is_closed());
        let client = match kept {
            Some((_, client)) => client,
            None => {
                let (client, connection) = config.connect(tls).await?;
                // Ends when the client is dropped or the connection is lost.
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!("health connection ended: {error}");
                    }
                });
                client
            }
        };
        client.simple_query("SELECT 1").await?;
        self.pings = self.pings.wrapping_add(1);
        if self.pings % SWEEP_EVERY == 1 {
            // Not the database's health: a sweep refused or failed says nothing of it, and a
            // lost connection is found by the next ping.
            match client
                .simple_query("SELECT md_end_idle_transactions()")
                .await
            {
                Ok(_) => {}
                Err(error) => tracing::warn!("ending sessions left idle in a transaction: {error}"),
            }
        }
        self.client = Some((generation, client));
        Ok(())
    }
}
