//! Schema migrations: `sql/V<n>__<name>.sql`, embedded at build time and applied by refinery.

refinery::embed_migrations!("sql");

/// Applies every migration not yet applied to the database `client` is connected to.
pub async fn run(client: &mut tokio_postgres::Client) -> Result<refinery::Report, refinery::Error> {
    migrations::runner().run_async(client).await
}
