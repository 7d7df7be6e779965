//! `vcard`: an emulated meterdesk IC card in pcscd's virtual reader (vsmartcard's vpcd).
//!
//! Killing the process pulls the card; starting it again with the same `--state` file puts the
//! same card back. Needs pcscd running with the vpcd driver (`scripts/card-rig.sh start DIR`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use meterdesk::card::water_card::IssuerPin;
use meterdesk::tools::rig::virtual_card::{VirtualCard, WaterApplication};
use meterdesk::tools::rig::vpcd::{self, LinkOptions, Vanish};

#[derive(Parser)]
#[command(
    version,
    about = "An emulated meterdesk IC card for pcscd's virtual reader"
)]
struct Args {
    /// vpcd's TCP port: 35963 is reader "Virtual PCD 00 00", 35964 is "Virtual PCD 00 01".
    #[arg(long, default_value_t = 35963)]
    port: u16,
    /// The issuer PIN the card accepts in VERIFY: 4 to 16 hex digits, as `card.pin` in
    /// meterdesk's config.toml.
    #[arg(long)]
    pin: IssuerPin,
    /// Keep the EFs and the PIN try counter in this file; created blank if missing.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Start from a blank card (application present, all EFs zero), overwriting `--state`.
    #[arg(long, conflicts_with = "foreign")]
    blank: bool,
    /// A card without the meterdesk application.
    #[arg(long, conflicts_with = "state")]
    foreign: bool,
    /// Leave TCP_QUICKACK off, to measure what it saves.
    #[arg(long)]
    no_quick_ack: bool,
    /// Leave the reader at the N-th APDU received (1 = the first): a pull placed by APDU count.
    #[arg(long, value_name = "N")]
    vanish_at_apdu: Option<u64>,
    /// With --vanish-at-apdu: carry that APDU out before vanishing (its UPDATE lands, its answer
    /// is never sent); without, the card is gone before acting on it.
    #[arg(long, requires = "vanish_at_apdu")]
    vanish_carried_out: bool,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let application = if args.foreign {
        None
    } else {
        Some(match &args.state {
            Some(path) if path.exists() && !args.blank => {
                WaterApplication::load(path).map_err(anyhow::Error::msg)?
            }
            Some(path) => {
                let blank = WaterApplication::blank();
                blank.save(path)?;
                blank
            }
            None => WaterApplication::blank(),
        })
    };
    let mut card = VirtualCard::new(application, args.pin.as_bytes().to_vec(), args.state);
    let vpcd = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let options = LinkOptions {
        quick_ack: !args.no_quick_ack,
        vanish: args.vanish_at_apdu.map(|at_apdu| Vanish {
            at_apdu,
            carried_out: args.vanish_carried_out,
        }),
    };
    vpcd::serve_forever(&mut card, vpcd, options)
}
