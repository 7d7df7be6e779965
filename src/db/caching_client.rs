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
//! A statement whose best plan depends on its values (the customer table's searches by digits)
//! is sent with [`CachingClient::query_uncached`]: with its values and their types in one round
//! trip, the server plans it for the values at hand, where a cached statement may fall into a
//! generic plan after five calls. A built statement whose generic plan is as good (the customer
//! table's other searches) is kept with its placeholders' types and run on that plan; one whose
//! generic plan the server chooses by itself (the search by customer number) is kept and left to
//! the server's choice ([`CachingClient::query_planned`], [`Planning`]).

use std::future::Future;

use deadpool_postgres::{ClientWrapper, Object};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, GenericClient, Row, Statement};

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// How a built statement is planned ([`CachingClient::query_planned`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planning {
    /// Its best plan depends on the values: planned for them at every call, never kept
    /// ([`CachingClient::query_uncached`]).
    PerValue,
    /// Kept, and run on its generic plan, which the server's own choice would not always take:
    /// its generic estimate is the higher, and the server (`auto`) keeps planning for every
    /// call a statement so estimated, however it runs. `SET plan_cache_mode` around it.
    Generic,
    /// Kept, and left to the server, which takes the generic plan by itself after five calls
    /// (one row by a unique key, whatever the value): no `SET`/`RESET` around it, two
    /// statements more, each a transaction of its own on the server.
    ServersChoice,
}

/// The client's calls of these names, each run on the cached statement of its `sql`
/// ([`CachingClient::cached`]).
macro_rules! cached_calls {
    ($($call:ident -> $answer:ty),* $(,)?) => {$(
        fn $call(
            &self,
            sql: &str,
            params: Params<'_>,
        ) -> impl Future<Output = Result<$answer, Error>> + Send {
            async move {
                self.cached(sql, &[], move |client, statement| async move {
                    client.$call(&statement, params).await
                })
                .await
            }
        }
    )*};
}

/// A connection or transaction to run the app's statements on.
pub trait CachingClient: Sync {
    /// The tokio-postgres client or transaction the statements run on.
    type Client: GenericClient + Sync;

    fn client(&self) -> &Self::Client;

    /// The pooled connection whose statement cache keeps the statements (deadpool's); `None`:
    /// a bare tokio-postgres client or transaction, which prepares them afresh at every call.
    fn keeper(&self) -> Option<&ClientWrapper>;

    /// `sql` prepared on this connection with its parameters' `types` (those not given
    /// inferred by the server): the cached statement, or a new one.
    fn prepared_typed(
        &self,
        sql: &str,
        types: &[Type],
    ) -> impl Future<Output = Result<Statement, Error>> + Send {
        async move {
            match self.keeper() {
                Some(connection) => connection.prepare_typed_cached(sql, types).await,
                None => self.client().prepare_typed(sql, types).await,
            }
        }
    }

    /// Drops the cached statement of `sql` prepared with `types`, if any.
    fn forget_typed(&self, sql: &str, types: &[Type]) {
        if let Some(connection) = self.keeper() {
            connection.statement_cache.remove(sql, types);
        }
    }

    /// `sql` prepared on this connection, its parameters' types inferred by the server.
    fn prepared(&self, sql: &str) -> impl Future<Output = Result<Statement, Error>> + Send {
        self.prepared_typed(sql, &[])
    }

    cached_calls! {
        query -> Vec<Row>,
        query_one -> Row,
        query_opt -> Option<Row>,
        execute -> u64,
    }

    /// `run` with the statement of `sql` prepared on this connection; a statement whose
    /// tables changed under it since it was prepared (a newer meterdesk migrated the database
    /// while this one ran) fails once ("cached plan must not change result type"), and is
    /// forgotten so that its next call prepares it anew.
    fn cached<'a, T: Send + 'a, Run>(
        &'a self,
        sql: &'a str,
        types: &'a [Type],
        run: impl FnOnce(&'a Self::Client, Statement) -> Run + Send + 'a,
    ) -> impl Future<Output = Result<T, Error>> + Send + 'a
    where
        Run: Future<Output = Result<T, Error>> + Send + 'a,
    {
        async move {
            let statement = self.prepared_typed(sql, types).await?;
            let result = self.sent(sql, run(self.client(), statement)).await;
            if let Err(error) = &result
                && error.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
            {
                self.forget_typed(sql, types);
            }
            result
        }
    }

    /// `request`, the statement of `sql` on its way: a transaction sends its BEGIN before it
    /// and its COMMIT behind it where they belong (`db::Transaction`); anything else just
    /// sends it. `request` must send its statement when first polled.
    fn sent<'a, T: Send + 'a>(
        &'a self,
        sql: &'a str,
        request: impl Future<Output = Result<T, Error>> + Send + 'a,
    ) -> impl Future<Output = Result<T, Error>> + Send + 'a {
        let _ = sql;
        request
    }

    /// `sql` with its values and their types in one round trip, as the unnamed statement:
    /// the server parses it and plans it for these values, and keeps nothing. For a statement
    /// whose best plan depends on its values. (Prepared afresh instead, it took a round trip
    /// to parse and describe it, one to run it and a third message to close it.)
    fn query_uncached(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send {
        async move { self.sent(sql, self.client().query_typed(sql, params)).await }
    }

    /// `sql` with its values, planned as `planning` says ([`Planning`]): sent with its values
    /// and planned for them, or kept on its connection with its values' types and run on the
    /// generic plan the server chooses by itself or is told to take.
    fn query_planned(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
        planning: Planning,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send {
        async move {
            if planning == Planning::PerValue {
                return self.query_uncached(sql, params).await;
            }
            let (values, types): (Vec<_>, Vec<_>) = params.iter().cloned().unzip();
            self.cached(sql, &types, move |client, statement| async move {
                if planning == Planning::ServersChoice {
                    return client.query(&statement, &values).await;
                }
                // The setting is the connection's between the statement's neighbours in the
                // same write, put back behind it.
                let (_, rows, _) = tokio::try_join!(
                    client.batch_execute("SET plan_cache_mode = force_generic_plan"),
                    client.query(&statement, &values),
                    client.batch_execute("RESET plan_cache_mode"),
                )?;
                Ok(rows)
            })
            .await
        }
    }

    /// Several statements without parameters in one round trip (the simple protocol).
    fn batch_execute(&self, sql: &str) -> impl Future<Output = Result<(), Error>> + Send {
        async move { self.sent(sql, self.client().batch_execute(sql)).await }
    }
}

/// [`CachingClient`] for a type that runs its statements on `$client` and keeps them as
/// `$keeper` says: in its deadpool connection's statement cache ([`kept`], as
/// `db::Transaction` keeps them on one) or nowhere ([`afresh`]).
macro_rules! caching_client {
    ($keeper:ident $type:ty => $client:ty $(, for<$life:lifetime>)?) => {
        impl$(<$life>)? CachingClient for $type {
            type Client = $client;

            fn client(&self) -> &Self::Client {
                self
            }

            fn keeper(&self) -> Option<&ClientWrapper> {
                $keeper(self)
            }
        }
    };
}

/// Deadpool's connection keeps its statements in its statement cache.
fn kept(connection: &ClientWrapper) -> Option<&ClientWrapper> {
    Some(connection)
}

/// A bare tokio-postgres client or transaction keeps none.
fn afresh<T>(_: &T) -> Option<&ClientWrapper> {
    None
}

caching_client!(kept ClientWrapper => tokio_postgres::Client);
// The pool's connection is its `ClientWrapper`, reached through `Deref`.
caching_client!(kept Object => tokio_postgres::Client);
caching_client!(afresh tokio_postgres::Client => Self);
caching_client!(afresh tokio_postgres::Transaction<'a> => Self, for<'a>);
