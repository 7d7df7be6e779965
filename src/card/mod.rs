//! Card readers (placeholder until the reader thread lands).

/// What the reader thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderState {
    NoService,
    NoReader,
    NoCard { reader: String },
    CardPresent { reader: String, atr: Vec<u8> },
}
