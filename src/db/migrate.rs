//! The schema lives in `sql/V<n>__<name>.sql`, embedded into the binary at build time, so a
//! meterdesk binary always brings its database to the schema it was built for.

use refinery::error::WrapMigrationError;

refinery::embed_migrations!("sql");

/// The session lock that makes installers migrate one at a time (its key spells `md_migra`).
/// Two started in the same second ran the same migrations at once, and one stopped with "tuple
/// concurrently updated" (two writes of one catalog row: a function replaced, a grant); the
/// second now waits for the first, then finds every migration applied. Session-level, as the
/// migrations are each their own transaction; the owner keeps `pg_advisory_lock` (db::embedded).
const MIGRATING: &str = "x'6d645f6d69677261'::bigint";

/// Applies every migration the database has not seen yet, each in its own transaction, then
/// pins the day rules to the utility's zone again (`md_pin_today`, sql/V280: a function a
/// migration replaced lost its pin) and gives the database its own privileges again
/// ([`database_privileges`]); one installer at a time ([`MIGRATING`]). A database's first
/// run takes the utility's zone from `client`'s session (the installer's desk's, db::zone).
pub async fn run(client: &mut tokio_postgres::Client) -> Result<(), refinery::Error> {
    client
        .batch_execute(&format!("SELECT pg_advisory_lock({MIGRATING})"))
        .await
        .migration_err("waiting for another installer's migrations", None)?;
    let migrated = migrate(client).await;
    let unlocked = client
        .batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATING})"))
        .await
        .migration_err("letting the next installer migrate", None);
    migrated.and(unlocked)
}

async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), refinery::Error> {
    migrations::runner().run_async(client).await?;
    // A day rule replaced by a migration lost its pin to the utility's zone (sql/V280).
    client
        .batch_execute("SELECT md_pin_today()")
        .await
        .migration_err(
            "pinning the day rules to the utility's zone (md_pin_today)",
            None,
        )?;
    database_privileges(client).await.migration_err(
        "giving the database its privileges (md_grant_temporary)",
        None,
    )
}

/// What the migrations set on the database itself, which a copy of it does not keep (CREATE
/// DATABASE … TEMPLATE, pg_dump without `--create`): who may create temporary tables (no
/// operator, sql/V256). As the owner.
pub async fn database_privileges(
    client: &tokio_postgres::Client,
) -> Result<(), tokio_postgres::Error> {
    client.batch_execute("SELECT md_grant_temporary()").await
}

/// A database whose text order is not the characters' code points.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database {database} sorts text by the collation {collation} ({provider}); meterdesk \
     needs the C collation, where text sorts by its characters' code points: a search reads a \
     typed prefix as a range of that order, and in another would miss customers. Create the \
     database with `CREATE DATABASE {database} OWNER … ENCODING 'UTF8' LOCALE 'C' TEMPLATE \
     template0` (README, \"Installation\") and load it again"
)]
pub struct CollationRefused {
    database: String,
    collation: String,
    provider: &'static str,
}

/// Whether the database's default collation orders text by code point (else why not). The customer
/// search sends a prefix as `>= start AND < end` (db::customers, docs/decisions.md), which is
/// what `LIKE 'prefix%'` finds only in such an order: C and POSIX, and glibc's C.UTF-8, which
/// sorts by code point as well. The embedded cluster is made with `--no-locale` (C).
pub async fn require_code_point_order(
    client: &tokio_postgres::Client,
) -> Result<Result<(), CollationRefused>, super::DbError> {
    let row = client
        .query_one(
            "SELECT datname::text AS database, datcollate::text AS collation,
                    datlocprovider = 'c' AS libc
             FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await?;
    let collation: String = row.get("collation");
    let libc: bool = row.get("libc");
    let code_point_order = matches!(
        collation.to_ascii_lowercase().as_str(),
        "c" | "posix" | "c.utf8" | "c.utf-8"
    );
    if libc && code_point_order {
        return Ok(Ok(()));
    }
    Ok(Err(CollationRefused {
        database: row.get("database"),
        collation,
        provider: if libc { "libc" } else { "ICU" },
    }))
}
