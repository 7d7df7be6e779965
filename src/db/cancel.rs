//! Dropping a future does not stop the statement it sent: the server works on until the end,
//! and a query that sends no rows meanwhile never even notices the client is gone. When the
//! clerk types on, the UI drops the superseded search; [`Cancellable`] makes the server drop
//! it too ("latest request wins").

use deadpool_postgres::Object;
use tokio_postgres::NoTls;

/// A pooled connection whose statements the caller may abandon by dropping its future. If it
/// is dropped before [`Cancellable::finish`], the connection leaves the pool and a cancel
/// request stops its statement on the server. It must leave the pool: a cancel names a
/// connection, not a statement, and one arriving after the connection served the next search
/// would cancel that one instead.
pub struct Cancellable(Option<Object>);

impl Cancellable {
    pub fn new(connection: Object) -> Cancellable {
        Cancellable(Some(connection))
    }

    /// The pooled connection: its statements are kept in the connection's cache
    /// ([`super::CachingClient`]), as on any other pooled connection.
    pub fn client(&self) -> &Object {
        self.0
            .as_ref()
            .expect("a connection until finished or dropped")
    }

    /// The work is done: the connection goes back to the pool.
    pub fn finish(mut self) {
        self.0.take();
    }
}

impl Drop for Cancellable {
    fn drop(&mut self) {
        let Some(connection) = self.0.take() else {
            return;
        };
        let token = connection.cancel_token();
        let detached = Object::take(connection);
        // Drop cannot wait; the cancel request is its own short connection. Outside a runtime
        // (the process is shutting down) the server ends the statement when the socket closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = token.cancel_query(NoTls).await {
                    tracing::warn!(%error, "could not cancel a superseded statement");
                }
                drop(detached);
            });
        }
    }
}
