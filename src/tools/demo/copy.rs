//! Bulk loading: rows generated on a blocking thread stream through `COPY … FROM STDIN` (text
//! format) while the server parses the previous chunk.

use std::fmt::{self, Display, Write as _};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::Transaction;

use super::DemoError;

/// Big enough to amortise a round trip, small enough to keep the server busy while the next one
/// is generated.
const CHUNK_BYTES: usize = 256 * 1024;

/// Rows of one COPY, written field by field on the generating thread.
pub(super) struct CopyRows {
    buf: BytesMut,
    sender: mpsc::Sender<(Bytes, u64, u64)>,
    rows: u64,
    /// Customers whose rows are written (each phase goes through every customer once).
    customers: u64,
    row_started: bool,
    open: bool,
}

impl CopyRows {
    /// A field; text is escaped for COPY's text format.
    pub fn field(&mut self, value: impl Display) -> &mut Self {
        self.separate();
        // Writing into a BytesMut cannot fail.
        let _ = write!(CopyEscaped(&mut self.buf), "{value}");
        self
    }

    /// A nullable field.
    pub fn opt(&mut self, value: Option<impl Display>) -> &mut Self {
        match value {
            Some(value) => self.field(value),
            None => {
                self.separate();
                self.buf.put_slice(b"\\N");
                self
            }
        }
    }

    pub fn end_row(&mut self) {
        self.buf.put_u8(b'\n');
        self.row_started = false;
        self.rows += 1;
        if self.buf.len() >= CHUNK_BYTES {
            self.send_chunk();
        }
    }

    /// The rows of one more customer are written.
    pub fn customer_done(&mut self) {
        self.customers += 1;
    }

    /// False once the loader has stopped listening (the COPY failed): generating more is futile.
    pub fn is_open(&self) -> bool {
        self.open
    }

    fn separate(&mut self) {
        if self.row_started {
            self.buf.put_u8(b'\t');
        }
        self.row_started = true;
    }

    fn send_chunk(&mut self) {
        let chunk = self.buf.split().freeze();
        if self
            .sender
            .blocking_send((chunk, self.rows, self.customers))
            .is_err()
        {
            self.open = false;
        }
    }
}

/// COPY text format: backslash, tab, newline and carriage return are escaped.
struct CopyEscaped<'a>(&'a mut BytesMut);

impl fmt::Write for CopyEscaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if !text
            .bytes()
            .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
        {
            self.0.put_slice(text.as_bytes());
            return Ok(());
        }
        for byte in text.bytes() {
            match byte {
                b'\\' => self.0.put_slice(b"\\\\"),
                b'\t' => self.0.put_slice(b"\\t"),
                b'\n' => self.0.put_slice(b"\\n"),
                b'\r' => self.0.put_slice(b"\\r"),
                other => self.0.put_u8(other),
            }
        }
        Ok(())
    }
}

/// Runs `COPY {table_and_columns} FROM STDIN` with the rows `generate` writes on a blocking
/// thread; returns the number of rows the server took. `freeze` for a table truncated in this
/// transaction: COPY may then write its rows already frozen and visible to all (the vacuum
/// after the load and the first readers have nothing to mark), and with `wal_level = minimal`
/// its rows and indexes are written without WAL (the file is synced at commit instead).
/// `progress` is told the rows sent and the share of the customers they are.
pub(super) async fn copy_in(
    tx: &Transaction<'_>,
    customers: u64,
    table_and_columns: &str,
    freeze: bool,
    progress: impl Fn(u64, f64),
    generate: impl FnOnce(&mut CopyRows) + Send + 'static,
) -> Result<u64, DemoError> {
    // A few chunks in flight: the generator runs ahead while the server parses.
    let (sender, mut receiver) = mpsc::channel(4);
    let producer = tokio::task::spawn_blocking(move || {
        let mut rows = CopyRows {
            buf: BytesMut::with_capacity(CHUNK_BYTES * 2),
            sender,
            rows: 0,
            customers: 0,
            row_started: false,
            open: true,
        };
        generate(&mut rows);
        if !rows.buf.is_empty() {
            rows.send_chunk();
        }
    });
    let sink = tx
        .copy_in(&format!(
            "COPY {table_and_columns} FROM STDIN{}",
            if freeze { " WITH (FREEZE)" } else { "" }
        ))
        .await?;
    futures_util::pin_mut!(sink);
    while let Some((chunk, rows, customers_done)) = receiver.recv().await {
        sink.send(chunk).await?;
        progress(rows, customers_done as f64 / customers.max(1) as f64);
    }
    producer.await?;
    Ok(sink.finish().await?)
}
