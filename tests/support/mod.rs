//! Shared test helpers. Each test binary compiles this module on its own and uses only part
//! of it, so unused helpers there are expected.
#![allow(dead_code)]

pub mod card_desk;
pub mod card_rig;
pub mod pg;
pub mod tmux;
