//! The load's work on several connections at once: tasks that wait for others to be done,
//! taken in their order by whichever connection is free.

use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done,
}

pub(super) struct Queue<W> {
    /// Each task's work and the tasks it waits for.
    tasks: Vec<(W, Vec<usize>)>,
    /// Each task's state; true once a task failed (no other is started then).
    states: Mutex<(Vec<State>, bool)>,
    changed: Notify,
}

impl<W> Queue<W> {
    /// `tasks` in the order they are preferred, each with the indexes of those it waits for.
    pub fn new(tasks: Vec<(W, Vec<usize>)>) -> Self {
        let states = vec![State::Waiting; tasks.len()];
        Queue {
            tasks,
            states: Mutex::new((states, false)),
            changed: Notify::new(),
        }
    }

    /// The first task whose own wait is over, once there is one; None when every task is done
    /// or one failed.
    pub async fn take(&self) -> Option<(usize, &W)> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut guard = self.states.lock().unwrap_or_else(|e| e.into_inner());
                let (states, failed) = &mut *guard;
                if *failed || states.iter().all(|state| *state == State::Done) {
                    return None;
                }
                let ready = (0..self.tasks.len()).find(|&task| {
                    states[task] == State::Waiting
                        && self.tasks[task]
                            .1
                            .iter()
                            .all(|&before| states[before] == State::Done)
                });
                if let Some(task) = ready {
                    states[task] = State::Running;
                    return Some((task, &self.tasks[task].0));
                }
            }
            changed.await;
        }
    }

    pub fn done(&self, task: usize) {
        self.states.lock().unwrap_or_else(|e| e.into_inner()).0[task] = State::Done;
        self.changed.notify_waiters();
    }

    /// No task is started any more; those waiting for one give up. True for the first failure
    /// (the others may be its consequences).
    pub fn fail(&self) -> bool {
        let first = !std::mem::replace(
            &mut self.states.lock().unwrap_or_else(|e| e.into_inner()).1,
            true,
        );
        self.changed.notify_waiters();
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_is_taken_once_those_it_waits_for_are_done() {
        let queue = Queue::new(vec![("a", vec![]), ("b", vec![0]), ("c", vec![])]);
        assert_eq!(queue.take().await, Some((0, &"a")));
        // b waits for a: c comes first.
        assert_eq!(queue.take().await, Some((2, &"c")));
        queue.done(2);
        let (b, ()) = tokio::join!(queue.take(), async { queue.done(0) });
        assert_eq!(b, Some((1, &"b")));
        queue.done(1);
        assert_eq!(queue.take().await, None);
    }

    #[tokio::test]
    async fn a_failure_ends_every_wait() {
        let queue = Queue::new(vec![("a", vec![]), ("b", vec![0])]);
        assert_eq!(queue.take().await, Some((0, &"a")));
        let (waiting, first) = tokio::join!(queue.take(), async { queue.fail() });
        assert_eq!(waiting, None);
        assert!(first);
        assert!(!queue.fail(), "the first failure is told once");
    }
}
