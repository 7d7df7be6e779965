//! What a `db` function runs its statements on: a pooled connection or a transaction on one.
//!
//! tokio-postgres prepares a statement given as text afresh at every call: a round trip to
//! parse and describe it, and the server plans it again, before the round trip that runs it.
//! On the pool's connections [`CachingClient`] prepares each statement text once per connection and
//! keeps it (deadpool's statement cache), so a call is one round trip and the server reuses
//! what it parsed. The cache lives and dies with its connection: a connection lost to a server
//! restart or a failover is replaced by a new one with an empty cache, and migrations run
//! before a pool serves. A bare tokio-postgres client (tools, tests) prepares afresh, as before.
//!
//! A statement whose best plan depends on its values (the customer table's searches) is sent
//! with [`CachingClient::query_uncached`]: prepared afresh, the server plans it for the values at hand,
//! where a cached statement may fall into a generic plan after five calls.

use std::future::Future;

use deadpool_postgres::{ClientWrapper, Object};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, GenericClient, Row, Statement};

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A connection or transaction to run the app's statements on.
pub trait CachingClient: Sync {
    /// The tokio-postgres client or transaction the statements run on.
    type Client: GenericClient + Sync;

    fn client(&self) -> &Self::Client;

    /// `sql` prepared on this connection: the cached statement, or a new one.
    fn prepared(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send;

    /// Drops the cached statement of `sql`, if any.
    fn forget(&self, sql: &str);

    fn query(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send {
        async move {
            self.cached(sql, move |client, statement| async move {
                client.query(&statement, params).await
            })
            .await
        }
    }

    fn query_one(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Row, Error>> + Send {
        async move {
            self.cached(sql, move |client, statement| async move {
                client.query_one(&statement, params).await
            })
            .await
        }
    }

    fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send {
        async move {
            self.cached(sql, move |client, statement| async move {
                client.query_opt(&statement, params).await
            })
            .await
        }
    }

    fn execute(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        async move {
            self.cached(sql, move |client, statement| async move {
                client.execute(&statement, params).await
            })
            .await
        }
    }

    /// `run` with the statement of `sql` prepared on this connection; a statement whose
    /// tables changed under it since it was prepared (a newer meterdesk migrated the database
    /// while this one ran) fails once ("cached plan must not change result type"), and is
    /// forgotten so that its next call prepares it anew.
    fn cached<'a, T, Run>(
        &'a self,
        sql: &'a str,
        run: impl FnOnce(&'a Self::Client, Statement) -> Run + Send + 'a,
    ) -> impl Future<Output = Result<T, Error>> + Send + 'a
    where
        Run: Future<Output = Result<T, Error>> + Send + 'a,
    {
        async move {
            let statement = self.prepared(sql).await?;
            let result = run(self.client(), statement).await;
            if let Err(error) = &result
                && error.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
            {
                self.forget(sql);
            }
            result
        }
    }

    /// `sql` prepared afresh and planned for these values, never cached: for a statement
    /// whose best plan depends on its values.
    fn query_uncached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send {
        async move { self.client().query(sql, params).await }
    }

    /// Several statements without parameters in one round trip (the simple protocol).
    fn batch_execute(&self, sql: &str) -> impl Future<Output = Result<(), Error>> + Send {
        async move { self.client().batch_execute(sql).await }
    }
}

impl CachingClient for ClientWrapper {
    type Client = tokio_postgres::Client;

    fn client(&self) -> &Self::Client {
        self
    }

    fn prepared(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepare_cached(sql)
    }

    fn forget(&self, sql: &str) {
        self.statement_cache.remove(sql, &[]);
    }
}

/// The pool's connection is its [`ClientWrapper`].
impl CachingClient for Object {
    type Client = tokio_postgres::Client;

    fn client(&self) -> &Self::Client {
        self
    }

    fn prepared(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        ClientWrapper::prepared(self, sql)
    }

    fn forget(&self, sql: &str) {
        ClientWrapper::forget(self, sql);
    }
}

impl<'a> CachingClient for deadpool_postgres::Transaction<'a> {
    type Client = tokio_postgres::Transaction<'a>;

    fn client(&self) -> &Self::Client {
        self
    }

    fn prepared(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepare_cached(sql)
    }

    fn forget(&self, sql: &str) {
        self.statement_cache.remove(sql, &[]);
    }
}

impl CachingClient for tokio_postgres::Client {
    type Client = Self;

    fn client(&self) -> &Self::Client {
        self
    }

    fn prepared(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepare(sql)
    }

    fn forget(&self, _: &str) {}
}

impl<'a> CachingClient for tokio_postgres::Transaction<'a> {
    type Client = Self;

    fn client(&self) -> &Self::Client {
        self
    }

    fn prepared(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepare(sql)
    }

    fn forget(&self, _: &str) {}
}
