//! What the hub knows of a screen, at the path screens have always named: it lives in
//! [`super::hub`], with the state it refers to.

pub use super::hub::{
    Answer, Hub, NewScreen, Notice, Registry, RequestBase, Screen, ScreenBase, ScreenId,
    ScreenReply, ScreenRequest, asking, new_screen,
};
