//! A request's task, which always answers: a panic inside it becomes a failure reply, so the
//! screen that asked is freed instead of waiting for ever, and the app goes on.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use super::hub::{Failure, Msg, Problem, Reply, RequestId};

/// Runs `work` on a tokio task and sends its outcome as `Msg::Reply { id, .. }`; a panic is
/// answered with `failure.panic`.
pub fn spawn(
    tx: UnboundedSender<Msg>,
    id: RequestId,
    work: impl Future<Output = Result<Reply, Failure>> + Send + 'static,
) -> AbortHandle {
    let task = tokio::spawn(async move {
        let outcome = AssertUnwindSafe(work)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(Failure::Error(Problem::new("failure.panic", what(&*panic))))
            });
        let _ = tx.send(Msg::Reply { id, outcome });
    });
    task.abort_handle()
}

/// The panic's message, as `panic!` was given it.
fn what(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Lets the panic hook installed before (ratatui's, which restores the terminal) act only for
/// a panic on the calling thread, the UI's, which ends the app. A panic elsewhere (a request
/// task, answered by [`spawn`]; a helper thread) is logged, and the app keeps its terminal.
pub fn keep_terminal_unless_ui_panics() {
    let ui_thread = std::thread::current().id();
    let ends_the_app = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            ends_the_app(info);
        } else {
            tracing::error!("{info}");
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::state::Reply;
    use crate::i18n::Lang;
    use tokio::sync::mpsc::unbounded_channel;

    async fn answer(work: impl Future<Output = Result<Reply, Failure>> + Send + 'static) -> Msg {
        let (tx, mut rx) = unbounded_channel();
        spawn(tx, 7, work);
        rx.recv().await.expect("the task answers")
    }

    #[tokio::test]
    async fn a_request_that_panics_is_answered_with_a_failure() {
        let msg = answer(async { panic!("row 3 has no column \"name\"") }).await;
        let Msg::Reply {
            id: 7,
            outcome: Err(Failure::Error(problem)),
        } = msg
        else {
            panic!("not a failure reply: {msg:?}");
        };
        assert_eq!(
            problem.text(Lang::En),
            "meterdesk failed while doing this (row 3 has no column \"name\"). Report it with \
             this message."
        );
    }

    #[tokio::test]
    async fn a_request_that_ends_is_answered_with_its_outcome() {
        let msg =
            answer(async { Err(Failure::Unreachable(crate::db::LostConnection::Reset)) }).await;
        assert!(matches!(
            msg,
            Msg::Reply {
                id: 7,
                outcome: Err(Failure::Unreachable(_))
            }
        ));
    }
}
