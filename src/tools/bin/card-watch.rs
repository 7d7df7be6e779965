//! `card-watch`: prints every change of the card reader's state, one line each, as the app's
//! reader thread sees it. For checking a set-up, e.g. a clerk's reader forwarded over SSH:
//! `PCSCLITE_CSOCK_NAME=/run/user/1000/pcscd-desk7.comm card-watch`.

use clap::Parser;
use meterdesk::card::reader::{self, ReaderConfig};

#[derive(Parser)]
#[command(version, about = "Follow the card reader and print each state change")]
struct Args {
    /// Follow this reader; by default the first reader with a card, else the first reader.
    #[arg(long)]
    reader: Option<String>,
}

fn main() {
    let args = Args::parse();
    let config = ReaderConfig {
        reader_name: args.reader,
        ..ReaderConfig::default()
    };
    let _reader = reader::spawn(config, |state| println!("{state:?}"));
    // Runs until killed or until stdin closes, so a parent process can end it either way.
    std::io::copy(&mut std::io::stdin(), &mut std::io::sink()).ok();
}
