//! A file the desk could not read or write, said in the clerk's words: where, and why in the
//! desk's language when the cause is a common one (no such file, not allowed, a folder, the
//! disk full, not UTF-8 text); the system's own text for the rest, for whoever supports the
//! desk. The system says it in English ("No such file or directory (os error 2)"), which a
//! Chinese desk showed as it came.

use std::io;
use std::path::Path;

use crate::i18n::Lang;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    path: String,
    cause: Cause,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cause {
    /// A catalogue key (section `file`).
    Known(&'static str),
    /// The system's text of a cause the catalogue has no words for.
    Other(String),
}

impl FileError {
    /// `error`, met reading or writing `path`.
    pub fn new(path: impl AsRef<Path>, error: &io::Error) -> FileError {
        let cause = match error.kind() {
            io::ErrorKind::NotFound => Cause::Known("file.not_found"),
            io::ErrorKind::PermissionDenied => Cause::Known("file.not_allowed"),
            io::ErrorKind::IsADirectory => Cause::Known("file.is_a_folder"),
            io::ErrorKind::NotADirectory => Cause::Known("file.not_a_folder"),
            io::ErrorKind::StorageFull => Cause::Known("file.disk_full"),
            io::ErrorKind::ReadOnlyFilesystem => Cause::Known("file.read_only"),
            _ => Cause::Other(error.to_string()),
        };
        FileError {
            path: path.as_ref().display().to_string(),
            cause,
        }
    }

    /// "<path>: <why>", the why in `lang` where the catalogue has words for it.
    pub fn text(&self, lang: Lang) -> String {
        let why = match &self.cause {
            Cause::Known(key) => lang.t(key),
            Cause::Other(text) => text,
        };
        lang.tf("file.at", &[("path", &self.path), ("why", &why)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_common_cause_is_said_in_the_desks_language() {
        let missing = io::Error::from(io::ErrorKind::NotFound);
        let error = FileError::new("/srv/readings.csv", &missing);
        assert_eq!(
            error.text(Lang::En),
            "/srv/readings.csv: there is no such file or folder"
        );
        assert_eq!(
            error.text(Lang::Zh),
            "/srv/readings.csv：没有这个文件或文件夹"
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(
            FileError::new("/root/a.csv", &denied)
                .text(Lang::Zh)
                .contains("无权")
        );
    }

    #[test]
    fn another_cause_keeps_the_systems_words() {
        let odd = io::Error::other("the device is on fire");
        assert_eq!(
            FileError::new("/dev/odd", &odd).text(Lang::Zh),
            "/dev/odd：the device is on fire"
        );
    }
}
