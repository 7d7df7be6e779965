//! A bulk load that commits as it goes (the demo loader, `tools::demo`): its keys, indexes and
//! foreign keys are dropped and built again around the rows, each table is filled and indexed
//! in transactions of its own on several connections, so that both cores work. What makes that
//! safe is a committed marker: a table that names every table the load fills and every key,
//! index and foreign key it dropped, exactly as the catalog defined them. While it exists the
//! desk refuses to sign in ([`in_progress`]); the load drops it in its last transaction; a load
//! that fails, or is killed, is undone from it ([`finish_abandoned`]): the tables it filled are
//! emptied again and every definition is restored (a key left as its index alone, and every
//! foreign key, checked or not, dropped and built again).

use tokio_postgres::{Client, GenericClient, Transaction};

/// The marker's table (it exists only during a load).
pub const MARKER: &str = "bulk_load_in_progress";

/// The class of the advisory lock a live load holds on its first connection, for the whole
/// load: a marker with no such lock held by the owner's server processes belongs to a load
/// that is gone. Only the owner's count (sql/V89): an operator may take any advisory lock, and
/// a clerk's held no load back.
const LIVE_LOAD_LOCK: i32 = 0x6d5f_6275; // "m_bu"

/// The class of the lock held by a live load's other connections: when a loader is killed its
/// first server process may end while another is still finishing a statement, which commits
/// on its own (a key built on a table); the undoing waits for that one too.
const OTHER_CONNECTION_LOCK: i32 = LIVE_LOAD_LOCK + 1;

/// What the catalog says a key, an index or a foreign key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub kind: Kind,
    pub table: String,
    pub name: String,
    /// `pg_get_constraintdef` of a constraint, `pg_get_indexdef` of an index.
    pub definition: String,
    /// A key's: `pg_get_indexdef` of its index (named as the key).
    pub index: Option<String>,
    /// A foreign key's: the table it refers to.
    pub references: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A primary key or unique constraint.
    Key,
    /// An index that is no constraint's.
    Index,
    ForeignKey,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Index => "index",
            Self::ForeignKey => "foreign key",
        }
    }
}

impl Definition {
    /// The statement that builds it again.
    pub fn statement(&self) -> String {
        match self.kind {
            Kind::Index => self.definition.clone(),
            Kind::Key | Kind::ForeignKey => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {}",
                self.table,
                quoted(&self.name),
                self.definition
            ),
        }
    }

    /// The statement that builds its index: a key's is attached to its constraint afterwards
    /// ([`Definition::attach_statement`]), so that a table's keys and indexes are built side by
    /// side (each `CREATE INDEX` takes a lock that lets others of the same table run; adding a
    /// key takes one that does not).
    pub fn index_statement(&self) -> Option<&str> {
        match self.kind {
            Kind::Index => Some(&self.definition),
            Kind::Key => self.index.as_deref(),
            Kind::ForeignKey => None,
        }
    }

    /// A key's constraint on its index built by [`Definition::index_statement`] (the catalog
    /// then holds what adding the key would have made).
    pub fn attach_statement(&self) -> Option<String> {
        if self.kind != Kind::Key {
            return None;
        }
        let kind = if self.definition.starts_with("PRIMARY KEY") {
            "PRIMARY KEY"
        } else {
            "UNIQUE"
        };
        Some(format!(
            "ALTER TABLE {} ADD CONSTRAINT {name} {kind} USING INDEX {name}",
            self.table,
            name = quoted(&self.name)
        ))
    }

    /// A foreign key added without checking the rows (a catalog change); checked by
    /// [`Definition::validate_statement`] in a transaction of its own, whose locks let other
    /// foreign keys to the same table be checked at the same time.
    pub fn unchecked_statement(&self) -> String {
        self.statement() + " NOT VALID"
    }

    pub fn validate_statement(&self) -> String {
        format!(
            "ALTER TABLE {} VALIDATE CONSTRAINT {}",
            self.table,
            quoted(&self.name)
        )
    }

    fn drop_statement(&self) -> String {
        match self.kind {
            Kind::Index => format!("DROP INDEX {}", self.name),
            Kind::Key | Kind::ForeignKey => format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                self.table,
                quoted(&self.name)
            ),
        }
    }
}

/// How a table the load fills is put back: emptied (it held no row), or its rows from `first`
/// on in `column` deleted (it held some: meters in stock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filled {
    Empty(String),
    RowsFrom {
        table: String,
        column: &'static str,
        first: i64,
    },
}

/// The keys, unique constraints and indexes of `tables` and the foreign keys from or to them,
/// as the catalog defines them (so the migrations stay the one place they are written down), in
/// the order they are built again: keys, indexes, then foreign keys.
pub async fn definitions(
    client: &impl GenericClient,
    tables: &[&str],
) -> Result<Vec<Definition>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT * FROM (
                 SELECT CASE contype WHEN 'f' THEN 'foreign key' ELSE 'key' END AS kind,
                        conrelid::regclass::text AS table_name, conname::text AS name,
                        pg_get_constraintdef(oid) AS definition, oid::bigint AS position,
                        CASE WHEN contype <> 'f' THEN pg_get_indexdef(conindid) END AS index,
                        CASE WHEN contype = 'f' THEN confrelid::regclass::text END AS refers
                 FROM pg_constraint
                 WHERE contype IN ('p', 'u', 'f')
                   AND (conrelid = ANY($1::text[]::regclass[])
                        OR confrelid = ANY($1::text[]::regclass[]))
                 UNION ALL
                 SELECT 'index', i.indrelid::regclass::text, i.indexrelid::regclass::text,
                        pg_get_indexdef(i.indexrelid), i.indexrelid::bigint, NULL, NULL
                 FROM pg_index i
                 WHERE i.indrelid = ANY($1::text[]::regclass[])
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                   WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
             ) d
             ORDER BY array_position(ARRAY['key', 'index', 'foreign key'], kind), position",
            &[&tables],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Definition {
            kind: match row.get::<_, &str>("kind") {
                "key" => Kind::Key,
                "index" => Kind::Index,
                _ => Kind::ForeignKey,
            },
            table: row.get("table_name"),
            name: row.get("name"),
            definition: row.get("definition"),
            index: row.get("index"),
            references: row.get("refers"),
        })
        .collect())
}

/// Triggers set aside for the rest of one transaction: the statements that drop them, and those
/// that create them again exactly as the catalog defines them (`pg_get_triggerdef`, and each
/// one's enabled state), both run in that transaction, so that a rollback or a killed server
/// process leaves them as they were.
pub struct SetAside {
    pub drop: String,
    pub create: String,
}

/// Sets aside the `triggers` of `table` (see [`SetAside`]). For a statement trigger with a
/// transition table: PostgreSQL keeps every row a statement writes for such a trigger whether it
/// is enabled or not (a transition table is built for every trigger defined), so disabling it
/// saves only its call; dropping it also saves the copy of the rows.
pub async fn set_aside(
    tx: &Transaction<'_>,
    table: &str,
    triggers: &[&str],
) -> Result<SetAside, tokio_postgres::Error> {
    let rows = tx
        .query(
            "SELECT format('DROP TRIGGER %I ON %s', tgname, tgrelid::regclass) AS drop,
                    pg_get_triggerdef(oid)
                    || CASE tgenabled WHEN 'O' THEN ''
                       ELSE format(';\nALTER TABLE %s %s TRIGGER %I', tgrelid::regclass,
                                   CASE tgenabled WHEN 'D' THEN 'DISABLE'
                                                  WHEN 'R' THEN 'ENABLE REPLICA'
                                                  ELSE 'ENABLE ALWAYS' END, tgname)
                       END AS create
             FROM pg_trigger
             WHERE tgrelid = $1::text::regclass AND tgname = ANY($2) AND NOT tgisinternal
             ORDER BY tgname",
            &[&table, &triggers],
        )
        .await?;
    let statements = |column: &str| -> String {
        rows.iter()
            .map(|row| row.get::<_, String>(column) + ";\n")
            .collect()
    };
    Ok(SetAside {
        drop: statements("drop"),
        create: statements("create"),
    })
}

/// The statements that gather each of `tables`' planner statistics, as (table, statements).
/// One ANALYZE, but for a table with columns of a raised statistics target and indexes on
/// expressions (the customer's name and address at 1000, sql/V3, and its trigrams', characters'
/// and phone digits' indexes): ANALYZE samples 300 rows per unit of the highest target for
/// every column and every index expression, and computing the expressions on 300 000 rows (the
/// trigrams of every sampled address) was four fifths of the customer's ANALYZE. So, in one
/// transaction (run as one statement batch: a failure leaves the targets as they were), those
/// columns' targets set to the default, an ANALYZE that takes every statistic from the default
/// sample (the expressions', whose own target is the default, as a table without raised
/// targets gets them), the targets back, and an ANALYZE of the table's columns, which gives
/// them their statistics from the large sample exactly as before and leaves the expressions'.
pub async fn statistics_statements(
    client: &impl GenericClient,
    tables: &[&str],
) -> Result<Vec<(String, String)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.oid::regclass::text AS table_name,
                    string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS columns,
                    string_agg(format('ALTER COLUMN %I SET STATISTICS -1', a.attname), ', '
                               ORDER BY a.attnum) FILTER (WHERE a.attstattarget > 0) AS lowered,
                    string_agg(format('ALTER COLUMN %I SET STATISTICS %s', a.attname,
                                      a.attstattarget), ', ' ORDER BY a.attnum)
                        FILTER (WHERE a.attstattarget > 0) AS raised,
                    EXISTS (SELECT FROM pg_index i
                            WHERE i.indrelid = c.oid AND i.indexprs IS NOT NULL) AS expressions
             FROM pg_class c
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.oid = ANY($1::text[]::regclass[])
             GROUP BY c.oid",
            &[&tables],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let table: String = row.get("table_name");
            let raised: Option<String> = row.get("raised");
            let statements = match (raised, row.get::<_, bool>("expressions")) {
                (Some(raised), true) => format!(
                    "ALTER TABLE {table} {lowered};\nANALYZE {table};\n\
                     ALTER TABLE {table} {raised};\nANALYZE {table} ({columns})",
                    lowered = row.get::<_, String>("lowered"),
                    columns = row.get::<_, String>("columns"),
                ),
                _ => format!("ANALYZE {table}"),
            };
            (table, statements)
        })
        .collect())
}

/// Whether a bulk load is under way (or was abandoned and not yet undone): the desk signs no
/// one in meanwhile. Any role may ask: the catalog is readable by all.
pub async fn in_progress(client: &impl GenericClient) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one("SELECT to_regclass($1) IS NOT NULL AS marked", &[&MARKER])
        .await?
        .get("marked"))
}

/// Takes the live load's lock on this connection (held until [`release`] or the connection's
/// end); false when another of the owner's connections holds one.
pub async fn hold(client: &impl GenericClient) -> Result<bool, tokio_postgres::Error> {
    take(client, LIVE_LOAD_LOCK, true).await
}

pub async fn release(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    let_go(client, LIVE_LOAD_LOCK).await
}

/// Marks this connection as one more of the live load's (until [`release_other`] or the
/// connection's end); the connection that [`hold`]s the load's lock takes it first.
pub async fn hold_other(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    take(client, OTHER_CONNECTION_LOCK, false).await.map(|_| ())
}

pub async fn release_other(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    let_go(client, OTHER_CONNECTION_LOCK).await
}

/// A session lock of `class` (sql/V89 `bulk_load_take`); with `alone`, only if none of the
/// owner's other connections holds one.
async fn take(
    client: &impl GenericClient,
    class: i32,
    alone: bool,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one("SELECT bulk_load_take($1, $2) AS held", &[&class, &alone])
        .await?
        .get("held"))
}

async fn let_go(client: &impl GenericClient, class: i32) -> Result<(), tokio_postgres::Error> {
    client
        .execute("SELECT bulk_load_release($1)", &[&class])
        .await?;
    Ok(())
}

/// Whether a load's other connection still lives, asked while holding the load's lock (no
/// new one can start meanwhile).
async fn other_connection_lives(
    client: &impl GenericClient,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT bulk_load_held($1) AS held",
            &[&OTHER_CONNECTION_LOCK],
        )
        .await?
        .get("held"))
}

/// Writes the marker and drops `definitions`, in `tx`: once it commits, the load may commit
/// table by table, and is undone from the marker if it does not finish.
pub async fn begin(
    tx: &Transaction<'_>,
    filled: &[Filled],
    definitions: &[Definition],
) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute(&format!(
        "CREATE TABLE {MARKER} (
             position int PRIMARY KEY,
             step text NOT NULL,
             table_name text NOT NULL,
             name text,
             definition text,
             first_id bigint
         )"
    ))
    .await?;
    let insert = tx
        .prepare(&format!(
            "INSERT INTO {MARKER} (position, step, table_name, name, definition, first_id)
             VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .await?;
    let mut position = 0i32;
    for table in filled {
        position += 1;
        let (step, table, column, first) = match table {
            Filled::Empty(table) => ("empty", table, None, None),
            Filled::RowsFrom {
                table,
                column,
                first,
            } => ("rows from", table, Some(*column), Some(*first)),
        };
        tx.execute(
            &insert,
            &[&position, &step, table, &column, &None::<&str>, &first],
        )
        .await?;
    }
    for definition in definitions {
        position += 1;
        tx.execute(
            &insert,
            &[
                &position,
                &definition.kind.as_str(),
                &definition.table,
                &definition.name,
                &definition.definition,
                &None::<i64>,
            ],
        )
        .await?;
    }
    // Foreign keys first: they depend on the unique indexes they reference.
    let drops: String = definitions
        .iter()
        .rev()
        .map(|definition| definition.drop_statement() + ";\n")
        .collect();
    tx.batch_execute(&drops).await
}

/// The load's end, in its last transaction: the marker goes.
pub async fn end(tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute(&format!("DROP TABLE {MARKER}")).await
}

/// Refused: a load is under way.
#[derive(Debug, thiserror::Error)]
#[error(
    "a demo data load is under way on this database: wait for it to end (if its meterdesk \
     demo-data was stopped, this start undoes it once its server process has stopped)"
)]
pub struct StillLoading;

/// What [`finish_abandoned`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandoned {
    /// No load was under way.
    Nothing,
    /// A load that had failed or was killed is undone.
    Undone,
    /// A load is under way on another connection.
    StillLoading,
}

/// Undoes a bulk load that did not finish, if the marker is there and its load is gone: the
/// tables it filled are emptied (or lose the rows it added), and every key, index and foreign
/// key it dropped and had not built again is built, in one transaction. The sequences are left
/// where they are: the load moves them only in its last transaction.
pub async fn finish_abandoned(client: &mut Client) -> Result<Abandoned, tokio_postgres::Error> {
    if !in_progress(&*client).await? {
        return Ok(Abandoned::Nothing);
    }
    if !hold(&*client).await? {
        return Ok(Abandoned::StillLoading);
    }
    let undone = match other_connection_lives(&*client).await {
        Ok(true) => Ok(Abandoned::StillLoading),
        Ok(false) => undo(client).await,
        Err(error) => Err(error),
    };
    let released = release(&*client).await;
    let undone = undone?;
    released?;
    Ok(undone)
}

async fn undo(client: &mut Client) -> Result<Abandoned, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
    // Another clean-up may have finished meanwhile.
    if !in_progress(&tx).await? {
        return Ok(Abandoned::Nothing);
    }
    // Every foreign key is dropped (those the load added, checked or not) and added again on
    // the emptied tables: emptying a table that others refer to needs them emptied in the same
    // statement, and deleting meters in stock would check each one against the customers.
    // A key whose index the load built but had not yet attached to it loses that index.
    let rows = tx
        .query(
            &format!(
                "SELECT step, table_name, name, definition, first_id,
                        CASE step
                            WHEN 'foreign key' THEN EXISTS (SELECT 1 FROM pg_constraint c
                                WHERE c.conrelid = m.table_name::regclass AND c.conname = m.name)
                            WHEN 'key' THEN to_regclass(quote_ident(name)) IS NOT NULL
                            ELSE false END AS to_drop
                 FROM {MARKER} m
                 WHERE step = 'foreign key' OR NOT CASE step
                     WHEN 'index' THEN to_regclass(name) IS NOT NULL
                     WHEN 'key' THEN EXISTS (SELECT 1 FROM pg_constraint c
                         WHERE c.conrelid = m.table_name::regclass AND c.conname = m.name)
                     ELSE false END
                 ORDER BY position"
            ),
            &[],
        )
        .await?;
    let mut emptied = Vec::new();
    let mut drops = String::new();
    let mut statements = String::new();
    for row in &rows {
        let table: &str = row.get("table_name");
        match row.get::<_, &str>("step") {
            "empty" => emptied.push(table.to_owned()),
            "rows from" => {
                let column: &str = row.get("name");
                let first: i64 = row.get("first_id");
                statements += &with_guards_off(
                    &tx,
                    &[table.to_owned()],
                    8,
                    &format!("DELETE FROM {table} WHERE {} >= {first}", quoted(column)),
                )
                .await?;
            }
            step => {
                let definition = Definition {
                    kind: match step {
                        "key" => Kind::Key,
                        "index" => Kind::Index,
                        _ => Kind::ForeignKey,
                    },
                    table: table.to_owned(),
                    name: row.get("name"),
                    definition: row.get("definition"),
                    index: None,
                    references: None,
                };
                if row.get("to_drop") {
                    match definition.kind {
                        // Before the keys' indexes that foreign keys may depend on.
                        Kind::ForeignKey => {
                            drops.insert_str(0, &(definition.drop_statement() + ";\n"))
                        }
                        _ => drops += &format!("DROP INDEX {};\n", quoted(&definition.name)),
                    }
                }
                statements += &(definition.statement() + ";\n");
            }
        }
    }
    if !emptied.is_empty() {
        let truncate = with_guards_off(
            &tx,
            &emptied,
            32,
            &format!("TRUNCATE {}", emptied.join(", ")),
        )
        .await?;
        statements = truncate + &statements;
    }
    tx.batch_execute(&(drops + &statements)).await?;
    end(&tx).await?;
    tx.commit().await?;
    Ok(Abandoned::Undone)
}

/// `statement` with the user triggers of `tables` that fire on `event` (pg_trigger's tgtype
/// bit: 8 delete, 32 truncate) and refuse it off around it.
async fn with_guards_off(
    tx: &Transaction<'_>,
    tables: &[String],
    event: i16,
    statement: &str,
) -> Result<String, tokio_postgres::Error> {
    let guards = tx
        .query(
            "SELECT tgrelid::regclass::text AS table_name, tgname::text AS name FROM pg_trigger
             WHERE tgrelid = ANY($1::text[]::regclass[]) AND NOT tgisinternal
               AND tgenabled <> 'D' AND tgtype & $2 <> 0",
            &[&tables, &event],
        )
        .await?;
    let switch = |on: &str| -> String {
        guards
            .iter()
            .map(|row| {
                format!(
                    "ALTER TABLE {} {on} TRIGGER {};\n",
                    row.get::<_, &str>("table_name"),
                    quoted(row.get("name"))
                )
            })
            .collect()
    };
    Ok(format!(
        "{}{statement};\n{}",
        switch("DISABLE"),
        switch("ENABLE")
    ))
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
