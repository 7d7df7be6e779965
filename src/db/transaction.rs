//! A transaction on a pooled connection whose BEGIN and COMMIT are no round trips of their own.
//!
//! tokio-postgres's transaction waits for the answer to BEGIN before its first statement can be
//! sent, and for the answer to its last statement before COMMIT can be: two of a card
//! recharge's round trips carried nothing but those words. A connection runs what it is sent in
//! the order it is sent, so [`Transaction`] sends BEGIN in the same write as its first statement
//! and, where the caller names the last statement ([`Transaction::commit_behind`]), COMMIT in
//! the same write as that one, and hears all the answers together.
//!
//! The errors stay what they were. BEGIN's answer is awaited with the first statement's, and an
//! error of either fails the call (BEGIN fails only with its connection, which fails every
//! statement behind it). A statement that fails before a pipelined COMMIT aborts the
//! transaction, so the server answers that COMMIT with a rollback, and the call fails with the
//! statement's error; a COMMIT that fails (a deferred check) fails the call with its own. A
//! transaction dropped unfinished is rolled back, as tokio-postgres's is.

use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Error;

use super::CachingClient;

/// A transaction on a pooled connection (see the module documentation). Its statements run
/// through [`CachingClient`], on the connection's cached statements.
pub struct Transaction<'a> {
    client: &'a mut ClientWrapper,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// BEGIN was sent (with the first statement).
    begun: bool,
    /// COMMIT goes behind the first statement of one of these texts.
    commit_behind: Vec<&'static str>,
    /// COMMIT (or ROLLBACK) was sent: the transaction is over.
    ended: bool,
}

impl<'a> Transaction<'a> {
    /// A transaction on `client`; BEGIN is sent with its first statement, nothing before.
    pub fn new(client: &'a mut ClientWrapper) -> Self {
        Self {
            client,
            state: Mutex::default(),
        }
    }

    /// Sends COMMIT behind the next statement of text `sql` (or of another text named so), in
    /// the same write, and ends the transaction there: that call answers for the statement and
    /// the commit. For a last statement only: whatever it answers, nothing may follow it (a
    /// statement sent after it is a bug and panics, rather than run outside the transaction),
    /// and [`Transaction::commit`] then has nothing left to send. When no such statement is
    /// sent, `commit` sends COMMIT.
    pub fn commit_behind(&self, sql: &'static str) {
        self.state().commit_behind.push(sql);
    }

    /// Commits what the transaction did, unless a statement already carried its COMMIT.
    pub async fn commit(self) -> Result<(), Error> {
        self.end("COMMIT").await
    }

    /// Rolls back what the transaction did, unless a statement already carried its COMMIT.
    pub async fn rollback(self) -> Result<(), Error> {
        self.end("ROLLBACK").await
    }

    async fn end(self, command: &str) -> Result<(), Error> {
        let open = {
            let mut state = self.state();
            let open = state.begun && !state.ended;
            state.ended = true;
            open
        };
        if open {
            self.client().batch_execute(command).await?;
        }
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What to send around the next statement, of text `sql`: BEGIN before it (the first), and
    /// COMMIT behind it (the one named by `commit_behind`).
    fn around(&self, sql: &str) -> (bool, bool) {
        let mut state = self.state();
        assert!(
            !state.ended,
            "a statement sent after its transaction's COMMIT: {sql}"
        );
        let begin = !std::mem::replace(&mut state.begun, true);
        let commit = state.commit_behind.contains(&sql);
        state.ended = commit;
        (begin, commit)
    }

    /// `command` sent if `send`, its answer awaited.
    async fn command_if(&self, send: bool, command: &str) -> Result<(), Error> {
        if send {
            self.client().batch_execute(command).await?;
        }
        Ok(())
    }
}

impl CachingClient for Transaction<'_> {
    type Client = tokio_postgres::Client;

    fn client(&self) -> &Self::Client {
        self.client
    }

    fn keeper(&self) -> Option<&ClientWrapper> {
        Some(self.client)
    }

    async fn sent<'b, T: Send + 'b>(
        &'b self,
        sql: &'b str,
        request: impl Future<Output = Result<T, Error>> + Send + 'b,
    ) -> Result<T, Error> {
        let (begin, commit) = self.around(sql);
        // Polled in this order, each sends its message when first polled: BEGIN, the
        // statement, COMMIT, in one write; then all three answers are awaited.
        let (begun, answer, committed) = tokio::join!(
            biased;
            self.command_if(begin, "BEGIN"),
            request,
            self.command_if(commit, "COMMIT"),
        );
        begun?;
        let answer = answer?;
        committed?;
        Ok(answer)
    }
}

impl Drop for Transaction<'_> {
    /// Rolls back a transaction that was begun and not ended: ROLLBACK is sent at once and its
    /// answer not awaited (a drop cannot wait), as tokio-postgres's transaction does. The
    /// connection runs it before anything the pool's next user sends.
    fn drop(&mut self) {
        let state = self.state();
        if state.begun && !state.ended {
            drop(state);
            let rollback = pin!(self.client().batch_execute("ROLLBACK"));
            // The first poll sends it; the answer is dropped unread.
            let _: Poll<_> = rollback.poll(&mut Context::from_waker(Waker::noop()));
        }
    }
}
