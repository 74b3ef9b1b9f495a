//! The JSON-lines audit sink: CloudTrail-shaped records, one per line, appended to
//! `<data-dir>/audit/events.jsonl` (mode 0600) in local mode, or written to standard output
//! (where a container or Lambda log collector picks them up) in the stateless AWS mode. The core
//! hands every call's event here; a line is written and flushed before the call returns.

use async_trait::async_trait;
use coffer_core::audit::AuditEvent;
use coffer_core::ports::{AuditError, AuditSink};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct JsonLinesAuditSink {
    path: PathBuf,
    file: Mutex<Box<dyn Write + Send>>,
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
            file: Mutex::new(Box::new(file)),
        })
    }

    /// A sink that writes to standard output.
    pub fn stdout() -> Self {
        JsonLinesAuditSink {
            path: PathBuf::from("<stdout>"),
            file: Mutex::new(Box::new(std::io::stdout())),
        }
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
