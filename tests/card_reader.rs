//! The reader thread against real PC/SC, in the card rig of `support::card_rig`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use meterdesk::card::apdu::{CommandApdu, ResponseApdu, StatusWord};
use meterdesk::card::reader::{
    CardError, ReaderConfig, ReaderHandle, ReaderState, SERVICE_GONE_AFTER,
};
use meterdesk::card::water_card::{
    Ef, RECORD_LEN, read_record, select_application, update_record, verify_issuer_pin,
};
use support::card_rig::*;

fn exchange(reader: &ReaderHandle, command: CommandApdu) -> ResponseApdu {
    reader
        .transmit(command)
        .blocking_recv()
        .expect("the card answers")
}

fn status(reader: &ReaderHandle, command: CommandApdu) -> StatusWord {
    exchange(reader, command).status
}

/// Mean milliseconds per READ BINARY round trip through pcscd + vpcd.
fn mean_apdu_ms(reader: &ReaderHandle, count: u32) -> f64 {
    assert_eq!(status(reader, select_application()), StatusWord::SUCCESS);
    let start = Instant::now();
    for _ in 0..count {
        assert_eq!(status(reader, read_record(Ef::Issue)), StatusWord::SUCCESS);
    }
    start.elapsed().as_secs_f64() * 1000.0 / f64::from(count)
}

#[test]
#[should_panic(expected = "METERDESK_SKIP_CARD_RIG=1")]
fn a_missing_card_rig_fails_the_test_unless_skipping_is_asked_for() {
    let present = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    let missing = Path::new("/nonexistent/libifdvpcd.so");
    assert!(rig_installed("present", &[present], false));
    assert!(!rig_installed("skipped", &[present, missing], true));
    rig_installed("not skipped", &[present, missing], false);
}

#[test]
fn reader_thread_follows_pcscd_readers_and_cards() {
    let Some(_rig) = lock_rig("reader_thread_follows_pcscd_readers_and_cards") else {
        return;
    };
    let dir = scratch_dir("card-reader");
    let state_file = dir.join("card.state");
    let _ = std::fs::remove_file(&state_file);
    let quick = Duration::from_secs(1);
    let patient = Duration::from_secs(5);

    let (reader, events) = follow(ReaderConfig::default());
    wait_for(&events, &ReaderState::NoService, patient);
    assert!(matches!(
        reader.transmit(select_application()).blocking_recv(),
        Err(CardError::NoService)
    ));

    let pcscd = Pcscd::start_without_readers(&dir);
    wait_for(&events, &ReaderState::NoReader, patient);
    pcscd.stop();
    // No reader to lose: said once pcscd stays away.
    wait_for(
        &events,
        &ReaderState::NoService,
        SERVICE_GONE_AFTER + patient,
    );

    let pcscd = Pcscd::start(&dir);
    wait_for(&events, &no_card(READER_0), patient);
    assert!(matches!(
        reader.transmit(select_application()).blocking_recv(),
        Err(CardError::NoCard)
    ));

    let card = VirtualCardProcess::insert(PORT_0, &state_file, &["--blank"]);
    let seen_after = wait_for(&events, &card_in(READER_0), quick);
    eprintln!(
        "card seen {} ms after vcard started",
        seen_after.as_millis()
    );

    // The write protocol of card.md, through the reader thread; the app awaits its replies.
    let purchase = [0x42; RECORD_LEN];
    let selected = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(reader.transmit(select_application()).recv());
    assert_eq!(selected.unwrap().status, StatusWord::SUCCESS);
    assert_eq!(
        status(&reader, update_record(Ef::Purchase, &purchase)),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED,
        "UPDATE BINARY without VERIFY"
    );
    assert_eq!(
        status(&reader, verify_issuer_pin(b"13579")),
        StatusWord::verify_failed(2)
    );
    assert_eq!(
        status(&reader, verify_issuer_pin(PIN.as_bytes())),
        StatusWord::SUCCESS
    );
    assert_eq!(
        status(&reader, update_record(Ef::Purchase, &purchase)),
        StatusWord::SUCCESS
    );
    assert_eq!(
        exchange(&reader, read_record(Ef::Purchase)),
        ResponseApdu::success(purchase.to_vec())
    );
    assert_eq!(
        exchange(&reader, read_record(Ef::Issue)),
        ResponseApdu::success(vec![0; RECORD_LEN]),
        "a blank card"
    );
    let quick_ack_ms = mean_apdu_ms(&reader, 200);

    card.pull();
    // Before the reader thread hears of it, pcscd answers with no status word or an error;
    // after, the thread knows there is no card. Never a success.
    assert!(
        reader
            .transmit(read_record(Ef::Purchase))
            .blocking_recv()
            .is_err()
    );
    wait_for(&events, &no_card(READER_0), quick);
    assert!(matches!(
        reader.transmit(read_record(Ef::Purchase)).blocking_recv(),
        Err(CardError::NoCard)
    ));

    // The same card again: what was written is still there, the PIN must be given again.
    let card = VirtualCardProcess::insert(PORT_0, &state_file, &[]);
    wait_for(&events, &card_in(READER_0), quick);
    assert_eq!(status(&reader, select_application()), StatusWord::SUCCESS);
    assert_eq!(exchange(&reader, read_record(Ef::Purchase)).data, purchase);
    assert_eq!(
        status(&reader, update_record(Ef::Purchase, &[0; RECORD_LEN])),
        StatusWord::SECURITY_STATUS_NOT_SATISFIED
    );

    // pcscd going away and coming back; the card waits in its reader meanwhile.
    pcscd.stop();
    wait_for(&events, &ReaderState::NoService, patient);
    let pcscd = Pcscd::start(&dir);
    wait_for(&events, &card_in(READER_0), patient);
    card.pull();
    wait_for(&events, &no_card(READER_0), quick);

    // A card only in the second reader: followed by default, not by a thread told reader 0.
    let (reader_0_only, reader_0_events) = follow(ReaderConfig {
        reader_name: Some(READER_0.into()),
        ..ReaderConfig::default()
    });
    wait_for(&reader_0_events, &no_card(READER_0), patient);
    let card = VirtualCardProcess::insert(PORT_1, &dir.join("second.state"), &["--no-quick-ack"]);
    wait_for(&events, &card_in(READER_1), quick);
    let plain_ms = mean_apdu_ms(&reader, 20);
    eprintln!(
        "one APDU through pcscd + vpcd: {quick_ack_ms:.2} ms with TCP_QUICKACK, \
         {plain_ms:.2} ms without"
    );
    assert!(
        quick_ack_ms < 10.0,
        "TCP_QUICKACK should make APDUs fast: {quick_ack_ms:.2} ms"
    );
    assert!(
        reader_0_events.try_recv().is_err(),
        "the thread following reader 0 must not see reader 1's card"
    );
    reader_0_only.shutdown();

    let stopping = Instant::now();
    reader.shutdown();
    let stop_ms = stopping.elapsed().as_millis();
    eprintln!("reader thread stopped in {stop_ms} ms");
    assert!(stop_ms < 1000, "shutdown must wake the blocked wait");
    card.pull();
    pcscd.stop();
    std::fs::remove_dir_all(dir).unwrap();
}

/// A desk whose configured reader does not exist said "no reader" and "no service" by turns
/// from one second to the next while pcscd came and went (s43-e's walk, on a machine whose
/// card tests start and stop one each): pcscd back within `SERVICE_GONE_AFTER` is no outage,
/// the desk says "no reader" on; gone for longer, it says "no service" once.
#[test]
fn a_missing_reader_stays_no_reader_through_a_quick_pcscd_restart() {
    let Some(_rig) = lock_rig("a_missing_reader_stays_no_reader_through_a_quick_pcscd_restart")
    else {
        return;
    };
    let dir = scratch_dir("card-reader-missing");
    let patient = Duration::from_secs(5);
    let (reader, events) = follow(ReaderConfig {
        reader_name: Some("No Such Reader 00 00".into()),
        ..ReaderConfig::default()
    });
    // No pcscd when the desk starts: said at once.
    wait_for(&events, &ReaderState::NoService, patient);
    let pcscd = Pcscd::start(&dir);
    wait_for(&events, &ReaderState::NoReader, patient);

    let restarting = Instant::now();
    pcscd.stop();
    let pcscd = Pcscd::start(&dir);
    let away = restarting.elapsed();
    assert!(
        away < SERVICE_GONE_AFTER,
        "the restart took {away:?}: not quick enough to test"
    );
    let said = events.recv_timeout(SERVICE_GONE_AFTER + Duration::from_secs(1));
    assert!(said.is_err(), "a quick restart said {said:?}");

    let stopping = Instant::now();
    pcscd.stop();
    let told = wait_for(
        &events,
        &ReaderState::NoService,
        SERVICE_GONE_AFTER + patient,
    );
    assert!(
        stopping.elapsed() >= SERVICE_GONE_AFTER,
        "said gone after {told:?}"
    );
    let said = events.recv_timeout(Duration::from_secs(1));
    assert!(said.is_err(), "said once: then {said:?}");
    reader.shutdown();
    std::fs::remove_dir_all(dir).unwrap();
}

/// `card-watch` with PCSCLITE_CSOCK_NAME set: pcsc-lite reads it once per process, so the
/// forwarded socket is tested in a process of its own.
fn watch_through(socket: &Path) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_card-watch"))
        .env("PCSCLITE_CSOCK_NAME", socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting card-watch");
    let (sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    (child, lines)
}

fn first_line(lines: &Receiver<String>) -> String {
    lines
        .recv_timeout(Duration::from_secs(5))
        .expect("card-watch reports a state")
}

#[test]
fn pcsclite_csock_name_reaches_a_forwarded_pcscd() {
    let Some(_rig) = lock_rig("pcsclite_csock_name_reaches_a_forwarded_pcscd") else {
        return;
    };
    let dir = scratch_dir("card-forwarded");
    let pcscd = Pcscd::start(&dir);
    let card = VirtualCardProcess::insert(PORT_0, &dir.join("card.state"), &["--blank"]);
    let forwarded = dir.join("pcscd-desk7.comm");
    let _ = std::fs::remove_file(&forwarded);
    let relayed = relay_pcscd_socket(&forwarded);

    let (mut watcher, lines) = watch_through(&forwarded);
    let mut line = first_line(&lines);
    // The card may take a moment to reach vpcd after pcscd starts.
    if line.starts_with("NoCard") {
        line = first_line(&lines);
    }
    assert_eq!(line, format!("{:?}", card_in(READER_0)));
    assert!(
        relayed.try_recv().is_ok(),
        "card-watch went through the relay"
    );
    drop(watcher.stdin.take());
    watcher.wait().unwrap();

    let (mut lost, lines) = watch_through(&dir.join("no-such.comm"));
    assert_eq!(first_line(&lines), "NoService");
    drop(lost.stdin.take());
    lost.wait().unwrap();

    card.pull();
    pcscd.stop();
    std::fs::remove_dir_all(dir).unwrap();
}
