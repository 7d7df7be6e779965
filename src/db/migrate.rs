//! The schema lives in `sql/V<n>__<name>.sql`, embedded into the binary at build time, so a
//! meterdesk binary always brings its database to the schema it was built for.

refinery::embed_migrations!("sql");

/// Applies every migration the database has not seen yet, each in its own transaction.
pub async fn run(client: &mut tokio_postgres::Client) -> Result<(), refinery::Error> {
    migrations::runner().run_async(client).await?;
    Ok(())
}
