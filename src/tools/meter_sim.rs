//! The meter simulator behind `meterdesk meter swipe|use`: a prepaid card water meter of
//! card.md, applied to the card in a real reader, its memory kept in a JSON file.
//!
//! The meter's rules are `domain::meter`'s; this module only does the I/O around them: the
//! state file, the reader thread, and what it prints.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use tokio::sync::watch;

use crate::card::reader::{self, ReaderConfig, ReaderHandle, ReaderState};
use crate::card::water_card::CardRead;
use crate::config::{CardSecrets, Config, KEY_ENV, PIN_ENV};
use crate::domain::card_counter::Resolution;
use crate::domain::card_records::MeterNumber;
use crate::domain::meter::MeterState;
use crate::domain::system_cards::{CHECK_CARD_LITRES, SystemCardKind};
use crate::startup;

/// How long a swipe waits for the reader to report the card: a card already in the reader is
/// seen within a few hundred milliseconds.
const CARD_WAIT: Duration = Duration::from_secs(3);

/// `meterdesk meter swipe`: reads the card, applies the meter's rules, writes EF 0003 back.
/// A refused card is an error (the command exits non-zero, saying why), so a script or an
/// installer notices it; nothing is written to it.
pub async fn swipe(
    config: &Config,
    meter_number: &MeterNumber,
    state_file: Option<&Path>,
) -> anyhow::Result<()> {
    let credentials = credentials(config)?;
    let path = state_path(config, meter_number, state_file)?;
    let mut meter = match load(&path, meter_number)? {
        Some(meter) => meter,
        None => MeterState::new(meter_number.clone()),
    };
    let reader = reader_with_card(config).await?;
    let records = match reader
        .read_card()
        .recv()
        .await
        .context("reading the card")?
    {
        CardRead::Application(records) => records,
        CardRead::NoApplication => {
            bail!("meter {meter_number}: refused the card: it has no WATER application");
        }
    };
    let outcome = match meter.swipe(&records, &credentials.key, unix_now()) {
        Ok(outcome) => outcome,
        Err(refusal) => bail!("meter {meter_number}: refused the card: {refusal}"),
    };
    // The meter's memory first, as in a real meter: loading is idempotent by sequence number,
    // so a write-back lost with a pulled card never makes a purchase load twice.
    save(&path, &meter)?;
    let write_back = outcome.write_back_plan(&records);
    let read_back = reader
        .write_plan(&write_back, &credentials.pin)
        .recv()
        .await
        .context("writing the meter's state (EF 0003) to the card")?;
    if write_back.resolve(&read_back) != Resolution::Done {
        bail!("the card read back does not hold the meter's state just written");
    }
    let loaded = match (&outcome.system_card, &outcome.loaded) {
        (
            Some(SystemCardKind::Setting {
                alarm_litres,
                max_credit_litres,
            }),
            _,
        ) => format!(
            "setting card applied (alarm below {alarm_litres} l, credit at most {max_credit_litres} l)"
        ),
        (Some(SystemCardKind::Check), _) => {
            format!("check card applied (test water {CHECK_CARD_LITRES} l, not billed)")
        }
        (Some(SystemCardKind::Clear), _) => "clear card applied (credit wiped, waiting for the \
                                             next installation's first card; the card takes the \
                                             state before back to the counter)"
            .to_owned(),
        (None, Some(purchase)) => format!(
            "loaded purchase {} ({} l)",
            purchase.sequence, purchase.volume_litres
        ),
        (None, None) => format!(
            "nothing to load (last loaded purchase {})",
            meter.last_loaded_sequence
        ),
    };
    println!("meter {meter_number}: {loaded}; {}", describe(&meter));
    Ok(())
}

/// `meterdesk meter use`: draws water from the meter's credit; no card involved.
pub fn use_water(
    config: &Config,
    meter_number: &MeterNumber,
    litres: u32,
    state_file: Option<&Path>,
) -> anyhow::Result<()> {
    let path = state_path(config, meter_number, state_file)?;
    let mut meter = load(&path, meter_number)?.ok_or_else(|| {
        anyhow!(
            "meter {meter_number} has no state in {}: swipe a card on it first",
            path.display()
        )
    })?;
    let delivered = meter.use_water(litres);
    save(&path, &meter)?;
    println!(
        "meter {meter_number}: delivered {delivered} l of {litres} l; {}",
        describe(&meter)
    );
    Ok(())
}

/// Credit, register and the status a meter's display would show.
fn describe(meter: &MeterState) -> String {
    let status = &meter.status;
    let mut text = format!(
        "credit {} l, total {} l, valve {}",
        meter.credit_litres,
        meter.total_litres,
        if status.valve_closed {
            "closed"
        } else {
            "open"
        }
    );
    for (alarm, name) in [
        (status.low_credit, "low credit"),
        (status.low_battery, "low battery"),
        (status.tamper, "tamper"),
    ] {
        if alarm {
            text.push_str(", ");
            text.push_str(name);
        }
    }
    text
}

/// The meter knows the key and the PIN, like the counter: the same configuration.
fn credentials(config: &Config) -> anyhow::Result<CardSecrets> {
    let credentials = config.card.credentials()?;
    for warning in &credentials.demo_warnings {
        eprintln!("meterdesk: WARNING: {warning}");
    }
    credentials.secrets.ok_or_else(|| {
        anyhow::anyhow!(
            "the meter needs the card PIN and key: set card.secrets_file, or {PIN_ENV} and \
             {KEY_ENV}, or card.demo = true for a demo"
        )
    })
}

/// The state file given, else `meters/<meter number>.json` in the data directory.
fn state_path(
    config: &Config,
    meter_number: &MeterNumber,
    state_file: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    match state_file {
        Some(path) => Ok(path.to_owned()),
        None => Ok(startup::data_dir(config)?
            .join("meters")
            .join(format!("{}.json", file_stem(meter_number)))),
    }
}

/// A meter number may hold any printable ASCII, `/` and `..` included; everything but letters,
/// digits, `-` and `_` is written as `%XX`, so the name is one file inside `meters/`.
fn file_stem(meter_number: &MeterNumber) -> String {
    meter_number
        .as_str()
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => char::from(byte).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// `None`: no such file yet, a meter fresh from the factory.
fn load(path: &Path, meter_number: &MeterNumber) -> anyhow::Result<Option<MeterState>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let meter: MeterState =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    if meter.meter_number != *meter_number {
        bail!(
            "{} is the state of meter {}, not {meter_number}",
            path.display(),
            meter.meter_number
        );
    }
    Ok(Some(meter))
}

/// Written to a temporary file and renamed, so an interrupted save keeps the old state whole.
fn save(path: &Path, meter: &MeterState) -> anyhow::Result<()> {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".new");
        std::fs::write(&temporary, serde_json::to_string_pretty(meter)? + "\n")?;
        std::fs::rename(&temporary, path)
    };
    write().with_context(|| format!("saving the meter's state to {}", path.display()))
}

/// The reader thread, once it reports a card in the configured reader.
async fn reader_with_card(config: &Config) -> anyhow::Result<ReaderHandle> {
    match follow_reader(config).await {
        (reader, Some(ReaderState::CardPresent { .. })) => Ok(reader),
        (_, Some(ReaderState::NoService)) => bail!("the smart card service (pcscd) is not running"),
        (_, Some(ReaderState::NoReader)) => bail!("there is no card reader"),
        (_, Some(ReaderState::NoCard { reader })) => bail!("there is no card in reader {reader:?}"),
        (_, None) => bail!("the card reader did not answer within {CARD_WAIT:?}"),
    }
}

/// The reader thread of the configured reader, and its state once it reports a card or after
/// [`CARD_WAIT`] (`None`: it reported nothing).
pub(crate) async fn follow_reader(config: &Config) -> (ReaderHandle, Option<ReaderState>) {
    let (report, mut states) = watch::channel(None);
    let reader = reader::spawn(
        ReaderConfig {
            reader_name: config.card.reader.clone(),
            ..ReaderConfig::default()
        },
        move |state| _ = report.send_replace(Some(state)),
    );
    let card_present =
        |state: &Option<ReaderState>| matches!(state, Some(ReaderState::CardPresent { .. }));
    // Timing out is an answer too: the last state reported says what is there instead.
    let _ = tokio::time::timeout(CARD_WAIT, states.wait_for(card_present)).await;
    let state = states.borrow().clone();
    (reader, state)
}

/// Unix seconds as the card stores them (u32, good until 2106).
fn unix_now() -> u32 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_number_is_one_file_name() {
        let stem = |text: &str| file_stem(&MeterNumber::new(text).unwrap());
        assert_eq!(stem("WM-0042_a"), "WM-0042_a");
        assert_eq!(stem("../x"), "%2E%2E%2Fx");
        assert_eq!(stem("A B"), "A%20B");
    }

    #[test]
    fn the_state_file_is_created_and_must_belong_to_the_meter() {
        let dir = std::env::temp_dir().join(format!("meterdesk-meter-sim-{}", std::process::id()));
        let path = dir.join("meters").join("m.json");
        let number = MeterNumber::new("WM-1").unwrap();
        assert_eq!(load(&path, &number).unwrap(), None);
        let mut meter = MeterState::new(number.clone());
        meter.credit_litres = 1_500;
        save(&path, &meter).unwrap();
        assert_eq!(load(&path, &number).unwrap(), Some(meter));
        let error = load(&path, &MeterNumber::new("WM-2").unwrap()).unwrap_err();
        assert!(error.to_string().contains("not WM-2"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
