//! How the screens build their commands for the legend and help (`Screen::commands`): a
//! command under its usual label (`Command::label_key`) is named once, and the order most
//! legends share — help first, the screen's own, then the command line and quit — is built
//! in one place.

use crate::app::Command;

/// A command with the catalogue key of its label in the legend and help.
pub type Labelled = (Command, &'static str);

/// Leave, said as going back to the screen below.
pub const BACK: Labelled = (Command::Leave, "legend.back");

/// The keys that move through a table's pages, as its legend lists them.
pub const PAGING: [Command; 4] = [
    Command::PageDown,
    Command::PageUp,
    Command::First,
    Command::Last,
];

/// `commands` under their usual labels, in this order.
pub fn usual(commands: impl IntoIterator<Item = Command>) -> impl Iterator<Item = Labelled> {
    commands
        .into_iter()
        .map(|command| (command, command.label_key()))
}

/// Help, then the screen's `own` commands, then the command line and quit.
pub fn framed(own: impl IntoIterator<Item = Labelled>) -> Vec<Labelled> {
    usual([Command::Help])
        .chain(own)
        .chain(usual([Command::CommandLine, Command::Quit]))
        .collect()
}
