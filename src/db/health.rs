//! The health watcher's own connection to the server, as the signed-in operator. It is not a
//! pool checkout, so a busy pool (every connection held by long requests) is not taken for an
//! outage.

use std::time::Duration;

use deadpool_postgres::tokio_postgres::{self, Client};
use postgres_openssl::MakeTlsConnector;

use super::session::Sessions;
use super::{DbError, LostConnection};

pub struct HealthProbe {
    sessions: Sessions,
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
        self.client = Some((generation, client));
        Ok(())
    }
}
