//! A scratch directory for the unit tests that read and write files: made under the system's
//! temporary directory, named by the test and the process, removed when dropped (a failed
//! test's too).

use std::path::{Path, PathBuf};

pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `meterdesk-<name>-<pid>` under the temporary directory.
    pub fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("meterdesk-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The file `name` in it, written with `text`.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
