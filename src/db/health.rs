//! The health watcher's own connection to the server. It is not a pool checkout, so a busy
//! pool (every connection held by long requests) is not taken for an outage.

use std::time::Duration;

use deadpool_postgres::tokio_postgres::{self, Client};
use postgres_openssl::MakeTlsConnector;

use super::{DbError, Deadlines, connection_config};

pub struct HealthProbe {
    config: tokio_postgres::Config,
    tls: MakeTlsConnector,
    /// Kept between pings; made again after a failed one.
    client: Option<Client>,
    deadline: Duration,
}

impl HealthProbe {
    pub fn new(conn: &str, deadlines: &Deadlines) -> Result<HealthProbe, DbError> {
        let (config, tls) = connection_config(conn, deadlines)?;
        Ok(HealthProbe {
            config,
            tls,
            client: None,
            deadline: deadlines.connect,
        })
    }

    /// One round trip to the server, connecting first if need be. Never takes much longer than
    /// the connect deadline, even when the server stops answering on an open connection.
    pub async fn ping(&mut self) -> Result<(), DbError> {
        let deadline = self.deadline;
        let outcome = tokio::time::timeout(deadline, self.round_trip())
            .await
            .unwrap_or_else(|_| {
                Err(DbError::Unreachable(format!(
                    "no answer within {} ms",
                    deadline.as_millis()
                )))
            });
        if outcome.is_err() {
            self.client = None;
        }
        outcome
    }

    async fn round_trip(&mut self) -> Result<(), DbError> {
        let client = match self.client.take().filter(|client| !client.is_closed()) {
            Some(client) => client,
            None => {
                let (client, connection) = self.config.connect(self.tls.clone()).await?;
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
        self.client = Some(client);
        Ok(())
    }
}
