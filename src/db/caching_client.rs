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
            let statement = self.prepared(sql).await?;
            let rows = self.client().query(&statement, params).await;
            self.forget_if_stale(sql, rows)
        }
    }

    fn query_one(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Row, Error>> + Send {
        async move {
            let statement = self.prepared(sql).await?;
            let row = self.client().query_one(&statement, params).await;
            self.forget_if_stale(sql, row)
        }
    }

    fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send {
        async move {
            let statement = self.prepared(sql).await?;
            let row = self.client().query_opt(&statement, params).await;
            self.forget_if_stale(sql, row)
        }
    }

    fn execute(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        async move {
            let statement = self.prepared(sql).await?;
            let count = self.client().execute(&statement, params).await;
            self.forget_if_stale(sql, count)
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

    /// A statement whose tables changed under it since it was prepared (a newer meterdesk
    /// migrated the database while this one ran) fails once ("cached plan must not change
    /// result type"); forgotten, it is prepared anew at its next call.
    fn forget_if_stale<T>(&self, sql: &str, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(error) = &result
            && error.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
        {
            self.forget(sql);
        }
        result
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
