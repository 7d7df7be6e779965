//! Bulk loading: rows generated on a blocking thread stream through `COPY … FROM STDIN` (text
//! format) while the server parses the previous chunk, so both cores work. And the deferral of
//! keys and indexes until the data is in, the way pg_restore does it.

use std::fmt::{self, Display, Write as _};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_postgres::Transaction;

use super::{DemoError, Phase, Progress};

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
/// transaction (see [`truncate_the_empty`]).
pub(super) async fn copy_in(
    tx: &Transaction<'_>,
    phase: Phase,
    customers: u64,
    table_and_columns: &str,
    freeze: bool,
    progress: &mut impl FnMut(Progress),
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
        progress(Progress {
            phase,
            rows,
            of_phase: customers_done as f64 / customers.max(1) as f64,
        });
    }
    producer.await?;
    Ok(sink.finish().await?)
}

/// Truncates those of `tables` that hold no rows, inside the load's transaction, and returns
/// them. Nothing is lost (they are empty), and a table truncated in the transaction that fills
/// it gets a new file, which pays twice: COPY may write its rows already frozen and visible to
/// all (`FREEZE`: the vacuum after the load and the first readers then have nothing to mark),
/// and with `wal_level = minimal` its rows and indexes are written without WAL (the file is
/// synced at commit instead). `guards` are (table, trigger) of triggers that refuse a
/// TRUNCATE: off around it, inside the transaction.
pub(super) async fn truncate_the_empty(
    tx: &Transaction<'_>,
    tables: &[&'static str],
    guards: &[(&str, &str)],
) -> Result<Vec<&'static str>, DemoError> {
    let mut empty = Vec::new();
    for table in tables {
        let row = tx
            .query_one(
                &format!("SELECT NOT EXISTS (SELECT 1 FROM {table}) AS empty"),
                &[],
            )
            .await?;
        if row.get("empty") {
            empty.push(*table);
        }
    }
    if empty.is_empty() {
        return Ok(empty);
    }
    let guards: Vec<_> = guards
        .iter()
        .filter(|(table, _)| empty.contains(table))
        .collect();
    let mut statements = String::new();
    for (table, trigger) in &guards {
        statements += &format!("ALTER TABLE {table} DISABLE TRIGGER {trigger};\n");
    }
    statements += &format!("TRUNCATE {};\n", empty.join(", "));
    for (table, trigger) in &guards {
        statements += &format!("ALTER TABLE {table} ENABLE TRIGGER {trigger};\n");
    }
    tx.batch_execute(&statements).await?;
    Ok(empty)
}

/// Keys, unique constraints and indexes of the bulk tables, as the catalog defines them (so the
/// migrations stay the one place they are written down).
pub(super) struct DeferredConstraints {
    /// (table, constraint name, definition) of primary keys and unique constraints.
    keys: Vec<(String, String, String)>,
    /// (table, constraint name, definition) of foreign keys from or to the bulk tables.
    foreign_keys: Vec<(String, String, String)>,
    /// `CREATE INDEX` statements of the other indexes.
    indexes: Vec<String>,
}

impl DeferredConstraints {
    /// Drops them, inside the load's transaction: if anything fails, the rollback restores them.
    /// Loading into bare tables and building each index and key once afterwards is much faster
    /// than maintaining them row by row, and re-adding a foreign key validates every row with
    /// one join, so the loaded data is still proven to satisfy them all.
    pub async fn drop(tx: &Transaction<'_>, tables: &[&str]) -> Result<Self, DemoError> {
        let constraints = tx
            .query(
                "SELECT conrelid::regclass::text AS table_name, conname,
                        pg_get_constraintdef(oid) AS definition, contype = 'f' AS foreign_key
                 FROM pg_constraint
                 WHERE contype IN ('p', 'u', 'f')
                   AND (conrelid = ANY($1::text[]::regclass[]) OR confrelid = ANY($1::text[]::regclass[]))
                 ORDER BY oid",
                &[&tables],
            )
            .await?;
        let indexes = tx
            .query(
                "SELECT i.indexrelid::regclass::text AS index_name,
                        pg_get_indexdef(i.indexrelid) AS definition
                 FROM pg_index i
                 WHERE i.indrelid = ANY($1::text[]::regclass[])
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                   WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
                 ORDER BY i.indexrelid",
                &[&tables],
            )
            .await?;
        let mut deferred = Self {
            keys: Vec::new(),
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
        };
        for row in constraints {
            let constraint = (
                row.get("table_name"),
                row.get("conname"),
                row.get("definition"),
            );
            if row.get("foreign_key") {
                deferred.foreign_keys.push(constraint);
            } else {
                deferred.keys.push(constraint);
            }
        }
        let mut drops = String::new();
        // Foreign keys first: they depend on the unique indexes they reference.
        for (table, name, _) in deferred.foreign_keys.iter().chain(&deferred.keys) {
            drops += &format!("ALTER TABLE {table} DROP CONSTRAINT {};\n", quoted(name));
        }
        for row in indexes {
            let name: String = row.get("index_name");
            drops += &format!("DROP INDEX {name};\n");
            deferred.indexes.push(row.get("definition"));
        }
        tx.batch_execute(&drops).await?;
        Ok(deferred)
    }

    /// Builds the keys and the other indexes again, telling the share of them built.
    pub async fn restore_keys_and_indexes(
        &self,
        tx: &Transaction<'_>,
        mut built: impl FnMut(f64),
    ) -> Result<(), DemoError> {
        let statements: Vec<String> = self
            .keys
            .iter()
            .map(add_constraint)
            .chain(self.indexes.iter().cloned())
            .collect();
        for (done, statement) in statements.iter().enumerate() {
            tx.batch_execute(statement).await?;
            built((done + 1) as f64 / statements.len() as f64);
        }
        Ok(())
    }

    /// Adds the foreign keys again, after the keys they reference.
    pub async fn restore_foreign_keys(&self, tx: &Transaction<'_>) -> Result<(), DemoError> {
        for foreign_key in &self.foreign_keys {
            tx.batch_execute(&add_constraint(foreign_key)).await?;
        }
        Ok(())
    }
}

fn add_constraint((table, name, definition): &(String, String, String)) -> String {
    format!(
        "ALTER TABLE {table} ADD CONSTRAINT {} {definition}",
        quoted(name)
    )
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
