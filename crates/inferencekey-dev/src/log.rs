//! The platform's own log lines: appended to a file, never to stdout (stdout belongs to the
//! embedding program). Every line is passed through token redaction first.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::tokens::redact_text;
use crate::util::now_rfc3339;

pub struct Logger {
    file: Mutex<Option<File>>,
}

impl Logger {
    /// Appends to `path`, creating it (and its folder) if needed.
    pub fn open(path: &Path) -> std::io::Result<Logger> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Logger {
            file: Mutex::new(Some(file)),
        })
    }

    pub fn info(&self, message: impl AsRef<str>) {
        self.write("INFO", message.as_ref());
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        self.write("WARN", message.as_ref());
    }

    fn write(&self, level: &str, message: &str) {
        let line = format!("{} {level} {}\n", now_rfc3339(), redact_text(message));
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = guard.as_mut() {
            // Logging must never take the platform down.
            let _ = file.write_all(line.as_bytes());
        }
    }

    /// Stops writing (the file may live in a temporary folder about to be removed).
    pub fn close(&self) {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        *guard = None;
    }
}
