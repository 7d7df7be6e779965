//! The app's state and messages, at the path screens and tests have always named: they live in
//! [`super::hub`], with the screen contract they refer to.

pub use super::hub::{
    App, CommandLine, DbStatus, Failure, InFlight, Look, Message, MessageKind, Msg, Overlay,
    Parked, Problem, Question, Reply, Request, RequestId, Session, Slot, Typed, card_cause_words,
    lost_connection_words, pasted_text,
};
