//! Executes requests against the database.
