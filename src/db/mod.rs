//! The only place with SQL: the pool, the embedded cluster, migrations, one file per aggregate.

pub mod demo;
pub mod embedded;
pub mod migrate;
pub mod operators;

pub use deadpool_postgres::Pool;
