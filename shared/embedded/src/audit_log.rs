//! The JSON-lines audit sink: CloudTrail-shaped records, one per line, appended to
//! `<data-dir>/audit/events.jsonl` (mode 0600) in local mode, or written to standard output
//! (where a container or Lambda log collector picks them up) in the stateless AWS mode. The core
//! hands every event here; a line is written and flushed before the call returns, and writes
//! are serialized (one mutex), so lines never interleave.
//!
//! Tamper evidence (file mode only; see `coffer_core::audit::chain` and `::digest`):
//!
//! - Every record is sealed with the stream's hash chain (`previousHash`, `hash`) and written in
//!   its canonical form. On open, the sink reads the file to its last line and continues the
//!   chain from that record's `hash`, so the chain spans restarts. A torn last line (a crash in
//!   the middle of a write, never acknowledged to a client) is moved to
//!   `events.jsonl.torn-<epoch ms>` and cut off; a file written before the chain existed (its
//!   last record has no `hash`) is renamed to `events.unchained-<epoch ms>.jsonl` and a new
//!   chain starts; a last line that is not JSON at all refuses the open (someone edited the
//!   trail: run `coffer audit verify` and move the file aside to start a new one).
//! - With a digest key ([`JsonLinesAuditSink::open_with_digests`]), [`AuditSink::checkpoint`]
//!   fsyncs the stream and appends a signed digest of its head to `audit/digests.jsonl` (a
//!   chained stream of its own), unless the head has not moved since the last digest. The server
//!   calls it every `--audit-digest-interval-secs` and on clean shutdown.
//!
//! The stdout stream carries no chain: it has no file to resume from, and its collectors (and
//! the AWS sinks) have their own integrity story.

use async_trait::async_trait;
use coffer_core::audit::chain::{AuditChain, HASH_FIELD};
use coffer_core::audit::digest::{named_head, seal_digest, DigestKey, StreamHead};
use coffer_core::audit::AuditEvent;
use coffer_core::clock::Clock;
use coffer_core::ports::{AuditError, AuditSink};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The event stream's file name inside the audit directory.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The digest stream's file name inside the audit directory.
pub const DIGESTS_FILE: &str = "digests.jsonl";

pub struct JsonLinesAuditSink {
    path: PathBuf,
    state: Mutex<State>,
}

enum Output {
    File(ChainedFile),
    Stdout(io::Stdout),
}

/// An append-only, chained JSON-lines file.
struct ChainedFile {
    path: PathBuf,
    file: File,
    /// Bytes in the file; a failed write is cut back to this length so that a half-written
    /// line cannot break the chain for every record after it.
    len: u64,
    chain: AuditChain,
}

struct Digests {
    stream: ChainedFile,
    key: DigestKey,
    clock: Arc<dyn Clock>,
    /// The head the last digest named (`None`: no digest yet).
    last: Option<StreamHead>,
}

struct State {
    output: Output,
    digests: Option<Digests>,
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

/// The last complete line of `file` (without its newline), the number of complete lines, and
/// the offset just past the last newline.
fn scan(file: &mut File) -> io::Result<(Option<Vec<u8>>, u64, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(&mut *file);
    let (mut last, mut lines, mut end) = (None, 0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break;
        }
        lines += 1;
        end += n as u64;
        buf.pop();
        last = Some(std::mem::take(&mut buf));
    }
    Ok((last, lines, end))
}

impl ChainedFile {
    /// Opens (creating if needed) a chained stream and positions its chain after the last
    /// record; see the module documentation for torn and unchained files.
    fn open(path: &Path) -> io::Result<Self> {
        let mut file = open_append(path)?;
        let (last, lines, end) = scan(&mut file)?;
        let len = file.metadata()?.len();
        if len > end {
            let torn = PathBuf::from(format!("{}.torn-{}", path.display(), now_millis()));
            let mut tail = Vec::new();
            file.seek(SeekFrom::Start(end))?;
            file.read_to_end(&mut tail)?;
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&torn)?;
            out.write_all(&tail)?;
            out.sync_all()?;
            file.set_len(end)?;
            file.sync_all()?;
            tracing::warn!(path = %path.display(), moved_to = %torn.display(), bytes = tail.len(), "audit stream ended in a torn line (a crash during a write); moved it aside");
        }
        let chain = match last {
            None => AuditChain::new(),
            Some(line) => {
                let record: serde_json::Value = serde_json::from_slice(&line)
                    .ok()
                    .filter(serde_json::Value::is_object)
                    .ok_or_else(|| {
                        io::Error::other(format!(
                            "the last line of {} is not a JSON record: the audit trail was \
                             edited. Run `coffer audit verify`, then move the file aside to \
                             start a new trail",
                            path.display()
                        ))
                    })?;
                match record.get(HASH_FIELD).and_then(|h| h.as_str()) {
                    Some(hash) => AuditChain::resume(hash, lines),
                    None => {
                        drop(file);
                        let stem = path
                            .file_stem()
                            .and_then(|s| s.to_str())
                            .unwrap_or("events");
                        let aside =
                            path.with_file_name(format!("{stem}.unchained-{}.jsonl", now_millis()));
                        std::fs::rename(path, &aside)?;
                        tracing::warn!(path = %path.display(), moved_to = %aside.display(), "audit stream was written without a hash chain; moved it aside and started a chained one");
                        return ChainedFile::open(path);
                    }
                }
            }
        };
        Ok(ChainedFile {
            path: path.to_path_buf(),
            file,
            len: end,
            chain,
        })
    }

    /// Seals and appends one record; the chain advances only when the line was written.
    fn append(&mut self, record: serde_json::Value) -> io::Result<serde_json::Value> {
        self.append_with(|chain| chain.seal(record))
    }

    /// Appends the record `seal` builds on a copy of the chain (which it must advance by one),
    /// adopting that copy only when the line was written.
    fn append_with(
        &mut self,
        seal: impl FnOnce(&mut AuditChain) -> serde_json::Value,
    ) -> io::Result<serde_json::Value> {
        let mut next = self.chain.clone();
        let sealed = seal(&mut next);
        let mut line = coffer_core::audit::chain::canonical_json(&sealed);
        line.push('\n');
        match self
            .file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
        {
            Ok(()) => {
                self.len += line.len() as u64;
                self.chain = next;
                Ok(sealed)
            }
            Err(e) => {
                // Best effort: remove a partial line so the next record still links.
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    fn head(&self, stream: &str) -> StreamHead {
        StreamHead {
            stream: stream.to_string(),
            head_hash: self.chain.head().to_string(),
            record_count: self.chain.records(),
        }
    }
}

impl JsonLinesAuditSink {
    /// Opens (creating if needed) `<dir>/events.jsonl` for appending, continuing its chain.
    pub fn open(dir: &Path) -> io::Result<Self> {
        Self::open_inner(dir, None)
    }

    /// As [`open`](Self::open), and signs digests of the stream with `key` into
    /// `<dir>/digests.jsonl` on every [`AuditSink::checkpoint`].
    pub fn open_with_digests(
        dir: &Path,
        key: DigestKey,
        clock: Arc<dyn Clock>,
    ) -> io::Result<Self> {
        Self::open_inner(dir, Some((key, clock)))
    }

    fn open_inner(dir: &Path, digests: Option<(DigestKey, Arc<dyn Clock>)>) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(EVENTS_FILE);
        let events = ChainedFile::open(&path)?;
        let digests = match digests {
            Some((key, clock)) => {
                let stream = ChainedFile::open(&dir.join(DIGESTS_FILE))?;
                let last = last_digest_head(&stream.path)?;
                Some(Digests {
                    stream,
                    key,
                    clock,
                    last,
                })
            }
            None => None,
        };
        Ok(JsonLinesAuditSink {
            path,
            state: Mutex::new(State {
                output: Output::File(events),
                digests,
            }),
        })
    }

    /// A sink that writes unchained records to standard output.
    pub fn stdout() -> Self {
        JsonLinesAuditSink {
            path: PathBuf::from("<stdout>"),
            state: Mutex::new(State {
                output: Output::Stdout(io::stdout()),
                digests: None,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The event stream's head (hash of the last record, record count); `None` for stdout.
    pub fn head(&self) -> Option<(String, u64)> {
        let state = self.state.lock().ok()?;
        match &state.output {
            Output::File(f) => Some((f.chain.head().to_string(), f.chain.records())),
            Output::Stdout(_) => None,
        }
    }

    /// Fsyncs the stream and appends a digest of its head unless the last digest already
    /// names it. Returns the digest record written, if any.
    pub fn write_digest(&self) -> io::Result<Option<serde_json::Value>> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| io::Error::other("audit log lock poisoned"))?;
        let State { output, digests } = &mut *state;
        let Output::File(events) = output else {
            return Ok(None);
        };
        events.file.sync_data()?;
        let Some(digests) = digests else {
            return Ok(None);
        };
        let head = events.head(EVENTS_FILE);
        if head.record_count == 0 || digests.last.as_ref() == Some(&head) {
            return Ok(None);
        }
        let now = digests.clock.now();
        let key = &digests.key;
        let written = digests
            .stream
            .append_with(|chain| seal_digest(chain, key, &head, now))?;
        digests.stream.file.sync_data()?;
        digests.last = Some(head);
        Ok(Some(written))
    }
}

/// The head named by the last digest of `path`, if any.
fn last_digest_head(path: &Path) -> io::Result<Option<StreamHead>> {
    let mut file = File::open(path)?;
    let (last, _, _) = scan(&mut file)?;
    Ok(last
        .and_then(|line| serde_json::from_slice::<serde_json::Value>(&line).ok())
        .and_then(|record| named_head(&record)))
}

#[async_trait]
impl AuditSink for JsonLinesAuditSink {
    async fn record(&self, event: &AuditEvent) -> Result<(), AuditError> {
        let record = event.to_cloudtrail();
        let mut state = self
            .state
            .lock()
            .map_err(|_| AuditError("audit log lock poisoned".to_string()))?;
        let written = match &mut state.output {
            Output::File(file) => file.append(record).map(drop),
            Output::Stdout(out) => {
                let mut line = record.to_string();
                line.push('\n');
                let mut out = out.lock();
                out.write_all(line.as_bytes()).and_then(|()| out.flush())
            }
        };
        written.map_err(|e| AuditError(format!("writing {}: {e}", self.path.display())))
    }

    async fn checkpoint(&self) -> Result<(), AuditError> {
        self.write_digest()
            .map(drop)
            .map_err(|e| AuditError(format!("audit digest for {}: {e}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::audit::chain::{verify_stream, PREVIOUS_HASH_FIELD};
    use coffer_core::audit::{AuditEventType, Caller};
    use coffer_core::clock::Timestamp;

    struct FixedClock;
    impl Clock for FixedClock {
        fn now(&self) -> Timestamp {
            Timestamp(1_714_567_890_000)
        }
    }

    fn event(i: u32) -> AuditEvent {
        AuditEvent {
            event_type: AuditEventType::AwsApiCall,
            event_time: Timestamp(1_714_567_890_000 + i64::from(i)),
            event_name: "DescribeSecret".into(),
            region: "us-east-1".into(),
            caller: Caller::default(),
            request_id: format!("req-{i}"),
            event_id: format!("event-{i}"),
            read_only: true,
            request_parameters: serde_json::json!({"SecretId": "app/db"}),
            response_elements: serde_json::Value::Null,
            resources: vec![],
            error_code: None,
            error_message: None,
            additional_event_data: None,
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn key() -> DigestKey {
        DigestKey::derive("arn:aws:kms:us-east-1:000000000000:key/k", &[3u8; 32])
    }

    #[tokio::test]
    async fn record_chains_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonLinesAuditSink::open(dir.path()).unwrap();
        sink.record(&event(1)).await.unwrap();
        sink.record(&event(2)).await.unwrap();
        drop(sink);
        let sink = JsonLinesAuditSink::open(dir.path()).unwrap();
        assert_eq!(sink.head().unwrap().1, 2);
        sink.record(&event(3)).await.unwrap();
        let lines = lines(&dir.path().join(EVENTS_FILE));
        let summary = verify_stream(&lines).unwrap();
        assert_eq!(summary.records, 3);
        assert_eq!(summary.head, sink.head().unwrap().0);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["eventName"], "DescribeSecret");
        assert_eq!(
            first[PREVIOUS_HASH_FIELD],
            coffer_core::audit::chain::GENESIS_HASH
        );
    }

    #[tokio::test]
    async fn open_torn_last_line_is_moved_aside_and_chain_continues() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonLinesAuditSink::open(dir.path()).unwrap();
        sink.record(&event(1)).await.unwrap();
        drop(sink);
        let path = dir.path().join(EVENTS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"eventID\":\"half").unwrap();
        drop(f);
        let sink = JsonLinesAuditSink::open(dir.path()).unwrap();
        sink.record(&event(2)).await.unwrap();
        assert_eq!(verify_stream(lines(&path)).unwrap().records, 2);
        let torn: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".torn-"))
            .collect();
        assert_eq!(torn.len(), 1);
    }

    #[tokio::test]
    async fn open_unchained_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS_FILE);
        std::fs::write(&path, format!("{}\n", event(1).to_cloudtrail())).unwrap();
        let sink = JsonLinesAuditSink::open(dir.path()).unwrap();
        sink.record(&event(2)).await.unwrap();
        assert_eq!(verify_stream(lines(&path)).unwrap().records, 1);
        assert!(std::fs::read_dir(dir.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("unchained")));
    }

    #[tokio::test]
    async fn open_last_line_not_json_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(EVENTS_FILE), "not json\n").unwrap();
        let err = JsonLinesAuditSink::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("coffer audit verify"), "{err}");
    }

    #[tokio::test]
    async fn checkpoint_signs_the_head_once_per_change() {
        let dir = tempfile::tempdir().unwrap();
        let sink =
            JsonLinesAuditSink::open_with_digests(dir.path(), key(), Arc::new(FixedClock)).unwrap();
        assert!(sink.write_digest().unwrap().is_none(), "empty stream");
        sink.record(&event(1)).await.unwrap();
        sink.record(&event(2)).await.unwrap();
        let digest = sink.write_digest().unwrap().expect("a digest");
        assert!(sink.write_digest().unwrap().is_none(), "unchanged head");
        assert_eq!(digest["streamRecordCount"], 2);
        assert_eq!(digest["streamHeadHash"], sink.head().unwrap().0.as_str());
        assert_eq!(digest["stream"], EVENTS_FILE);
        assert!(key().verify(&digest));
        drop(sink);

        // After a restart the last digest is remembered and the digest chain continues.
        let sink =
            JsonLinesAuditSink::open_with_digests(dir.path(), key(), Arc::new(FixedClock)).unwrap();
        assert!(sink.write_digest().unwrap().is_none());
        sink.record(&event(3)).await.unwrap();
        sink.checkpoint().await.unwrap();
        let digests = lines(&dir.path().join(DIGESTS_FILE));
        assert_eq!(verify_stream(&digests).unwrap().records, 2);
        let text = std::fs::read_to_string(dir.path().join(DIGESTS_FILE)).unwrap();
        assert!(
            !text.contains(&hex_of_key()),
            "the key never reaches the file"
        );
    }

    fn hex_of_key() -> String {
        // The master material of `key()`, as it would appear if it leaked.
        "03".repeat(32)
    }

    #[tokio::test]
    async fn stdout_sink_accepts_events_without_a_chain() {
        let sink = JsonLinesAuditSink::stdout();
        sink.record(&event(1)).await.unwrap();
        assert!(sink.head().is_none());
        assert!(sink.write_digest().unwrap().is_none());
    }
}
