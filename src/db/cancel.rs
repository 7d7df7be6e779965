//! Dropping a future does not stop the statement it sent: the server works on until the end,
//! and a query that sends no rows meanwhile never even notices the client is gone. When the
//! clerk types on, the UI drops the superseded search; [`cancel_if_dropped`] makes the server
//! drop it too ("latest request wins").

use std::future::Future;

use tokio_postgres::{CancelToken, NoTls};

/// Runs `work` (statements on the connection `token` belongs to). If the returned future is
/// dropped before `work` finishes, a cancel request for that connection is sent in the
/// background.
pub async fn cancel_if_dropped<T>(token: CancelToken, work: impl Future<Output = T>) -> T {
    let mut guard = CancelOnDrop(Some(token));
    let output = work.await;
    guard.0 = None;
    output
}

struct CancelOnDrop(Option<CancelToken>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(token) = self.0.take() else {
            return;
        };
        // Drop cannot wait; the cancel request is its own short connection. Outside a runtime
        // (the process is shutting down) the server ends the statement when the socket closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = token.cancel_query(NoTls).await {
                    tracing::warn!(%error, "could not cancel a superseded statement");
                }
            });
        }
    }
}
