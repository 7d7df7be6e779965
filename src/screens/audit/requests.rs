//! What the audit viewer asks the database, on behalf of the operator signed in: a page of
//! the log, or the export of every row a filter keeps. Both are refused by the request itself
//! for an operator whose roles (as the database holds them now) lack `audit.view`.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::FixedOffset;

use crate::app::Hub;
use crate::app::file_error::FileError;
use crate::app::paging::PageApply;
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, MessageKind, Problem};
use crate::db::audit::{self, AuditCursor, AuditFilter, AuditRow};
use crate::db::customers::{Page, PageAt};
use crate::db::operators;
use crate::domain::csv;

/// The permission the viewer needs (`sql/V2`: supervisors and administrators).
pub const PERMISSION: &str = "audit.view";

/// Rows read and written per round of an export: what it holds in memory at once.
const EXPORT_BATCH: usize = 1000;

/// One of the viewer's requests, for the operator signed in (the database knows who).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditCall {
    pub work: AuditWork,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuditWork {
    Page {
        filter: AuditFilter,
        at: PageAt<AuditCursor>,
        size: usize,
        apply: PageApply,
    },
    /// Every row `filter` keeps, newest first, to the CSV file `path`; times in `zone`.
    Export {
        filter: AuditFilter,
        path: String,
        zone: FixedOffset,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuditReply {
    Page(Page<AuditRow>),
    /// `rows` rows were written to `path` (made absolute).
    Exported {
        rows: u64,
        path: String,
    },
    NotPermitted,
}

impl AuditCall {
    pub fn new(work: AuditWork) -> AuditCall {
        AuditCall { work }
    }
}

impl ScreenRequest for AuditCall {
    /// A page changes what the keys act on; an export runs while the clerk reads on.
    fn holds_input(&self) -> bool {
        matches!(self.work, AuditWork::Page { .. })
    }

    fn execute<'a>(&'a self, services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let client = services.pool.get().await?;
            if !operators::has_permission(&client, PERMISSION).await? {
                return Ok(Box::new(AuditReply::NotPermitted) as _);
            }
            let reply = match &self.work {
                AuditWork::Page {
                    filter, at, size, ..
                } => AuditReply::Page(audit::page(&client, filter, at, *size).await?),
                AuditWork::Export { filter, path, zone } => {
                    let (rows, path) = export(&client, filter, Path::new(path), *zone).await?;
                    AuditReply::Exported {
                        rows,
                        path: path.display().to_string(),
                    }
                }
            };
            Ok(Box::new(reply) as _)
        })
    }

    /// An export finished after the viewer was closed is still told.
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(reply @ AuditReply::Exported { .. }) = reply.of::<AuditReply>() {
            tell_exported(reply, hub);
        }
    }
}

/// Says how an export ended.
pub(super) fn tell_exported(reply: &AuditReply, hub: &mut Hub) {
    if let AuditReply::Exported { rows, path } = reply {
        let text = hub
            .app
            .lang
            .tf("audit_log.exported", &[("rows", rows), ("path", path)]);
        hub.say(MessageKind::Info, text);
    }
}

/// Writes every row `filter` keeps to `path` as CSV, a batch at a time, and answers how many
/// and where. The rows go to `<path>.part`, renamed to `path` once all are written (removed if
/// the export fails), so a file under the asked name is always whole; an existing file is
/// never overwritten.
async fn export(
    client: &impl crate::db::CachingClient,
    filter: &AuditFilter,
    path: &Path,
    zone: FixedOffset,
) -> Result<(u64, PathBuf), Failure> {
    let path = std::path::absolute(path).map_err(not_written(path))?;
    if path.exists() {
        return Err(Failure::Error(Problem::new(
            "failure.file_exists",
            path.display(),
        )));
    }
    let mut partial = path.clone().into_os_string();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    // The log names who did what to whom: the file is its owner's alone.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(not_written(&partial))?;
    match write_rows(client, filter, (file, &partial), zone).await {
        Ok(rows) => {
            std::fs::rename(&partial, &path).map_err(not_written(&path))?;
            Ok((rows, path))
        }
        Err(failure) => {
            let _ = std::fs::remove_file(&partial);
            Err(failure)
        }
    }
}

/// The header, then the rows `filter` keeps, newest first, into `file` (at `path`); answers
/// how many.
async fn write_rows(
    client: &impl crate::db::CachingClient,
    filter: &AuditFilter,
    (mut file, path): (std::fs::File, &Path),
    zone: FixedOffset,
) -> Result<u64, Failure> {
    let mut text = csv::record(&HEADER);
    let mut rows = 0;
    let mut at = PageAt::First;
    loop {
        let page = audit::page(client, filter, &at, EXPORT_BATCH).await?;
        for row in &page.rows {
            text.push_str(&csv_record(row, zone));
        }
        rows += page.rows.len() as u64;
        file = write_off_the_task(file, std::mem::take(&mut text))
            .await
            .map_err(not_written(path))?;
        match page.rows.last() {
            Some(last) if page.more_after => at = PageAt::After(last.cursor()),
            _ => return Ok(rows),
        }
    }
}

/// Appends `text` to `file` on a blocking thread: a batch's write may wait on a slow disk.
async fn write_off_the_task(file: std::fs::File, text: String) -> std::io::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut file = file;
        file.write_all(text.as_bytes()).map(|()| file)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The failure of writing the file at `path`.
fn not_written(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |error| {
        Failure::Error(Problem::file(
            "failure.file_write",
            FileError::new(path, &error),
        ))
    }
}

/// The export's columns: stable names for the programs that read the file, in any language.
pub const HEADER: [&str; 11] = [
    "id",
    "at",
    "operator",
    "action",
    "entity",
    "entity_id",
    "customer_no",
    "detail",
    "operation_state",
    "failure_reason",
    // Added last, so that a program reading the earlier columns by position still reads them.
    "entity_key",
];

/// One row as a CSV record: the time in ISO 8601 with its offset in `zone`, the detail as its
/// JSON text.
pub fn csv_record(row: &AuditRow, zone: FixedOffset) -> String {
    let optional = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
    csv::record(&[
        row.id.to_string(),
        row.at
            .with_timezone(&zone)
            .format("%Y-%m-%dT%H:%M:%S%.6f%:z")
            .to_string(),
        row.operator.clone().unwrap_or_default(),
        row.action.clone(),
        row.entity.clone().unwrap_or_default(),
        optional(row.entity_id),
        optional(row.customer_no),
        row.detail.to_string(),
        row.operation_state
            .map(|state| state.as_str().to_owned())
            .unwrap_or_default(),
        row.failure_reason.clone().unwrap_or_default(),
        row.entity_key.clone().unwrap_or_default(),
    ])
}
