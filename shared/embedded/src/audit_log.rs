//! The local audit sink: CloudTrail-shaped records appended as JSON lines to
//! `<data-dir>/audit/events.jsonl` (mode 0600). The core hands every call's event here; a line
//! is written and flushed before the call returns, so a crash loses no acknowledged event that
//! the OS accepted.

use async_trait::async_trait;
use coffer_core::audit::AuditEvent;
use coffer_core::ports::{AuditError, AuditSink};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct JsonLinesAuditSink {
    path: PathBuf,
    file: Mutex<File>,
}

impl JsonLinesAuditSink {
    /// Opens (creating if needed) `<dir>/events.jsonl` for appending.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("events.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        Ok(JsonLinesAuditSink {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl AuditSink for JsonLinesAuditSink {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        let mut line = event.to_cloudtrail().to_string();
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| AuditError("audit log lock poisoned".to_string()))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| AuditError(format!("writing {}: {e}", self.path.display())))
    }
}
