//! What a screen not moved to `crate::screens` yet does while its save waits (the customer
//! changes in `accounts`): the key it holds until the answer, the keys it refuses meanwhile, and where it is when the answer comes. A screen
//! module asks the hub instead (`Hub::saving`, `Screen::on_reply` by `InFlight::asker`); this
//! file goes when the last of these groups has moved.

use crossterm::event::{KeyCode, KeyEvent};

use super::command::Command;
use super::state::{App, MessageKind, Slot};
use super::update::say;

/// The idempotency key of the save a screen sent (open, modify, transfer), until its answer
/// comes. A write held back by an unreachable database (`App::parked`) keeps the screen's `saving`, so F2 there cannot start
/// the same save a second time; and an answer belongs to the screen only if it carries the
/// screen's key (the clerk may have left meanwhile).
pub type Saving = Option<String>;

/// The save of a screen that writes (customer screens); None for the others.
fn saving_mut(screen: &mut Slot) -> Option<&mut Saving> {
    match screen {
        Slot::OpenAccount(wizard) => Some(&mut wizard.saving),
        Slot::Modify(view) => Some(&mut view.saving),
        Slot::Transfer(view) => Some(&mut view.saving),
        _ => None,
    }
}

/// While the save of the screen on top waits for the database, what it sent is what will be
/// saved: a key that would edit or save again only says that it waits (true: taken). Leaving,
/// help, moving between fields and steps stay free.
pub fn key_while_saving(app: &mut App, key: &KeyEvent, command: Option<Command>) -> bool {
    let waiting = saving_mut(&mut app.screen).is_some_and(|saving| saving.is_some());
    let edits_or_saves = super::update::edits_text(key)
        || key.code == KeyCode::Enter
        || matches!(command, Some(Command::Save | Command::Lookup));
    if waiting && edits_or_saves {
        say(app, MessageKind::Info, app.lang.t("db.write_parked"));
    }
    waiting && edits_or_saves
}

/// Where the screen that sent a save is when its answer (or error) comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedFrom {
    /// On top: the answer is applied to it.
    Top,
    /// Covered by another screen, at this index of `App::below`.
    Below(usize),
    /// Left.
    Gone,
}

/// The answer to the save with this key came: the screen that sent it forgets it (so F2
/// works there again), and says where it is.
pub fn answered(app: &mut App, key: &str) -> SavedFrom {
    let mut from = SavedFrom::Gone;
    let screens = std::iter::once(&mut app.screen).chain(app.below.iter_mut().rev());
    for (n, screen) in screens.enumerate() {
        if let Some(saving) = saving_mut(screen).filter(|s| s.as_deref() == Some(key)) {
            *saving = None;
            from = match n {
                0 => SavedFrom::Top,
                _ => SavedFrom::Below(app.below.len() - n),
            };
            break;
        }
    }
    from
}
