//! Where finished spans go: a bounded queue in front of one worker thread
//! that feeds every configured exporter.
//!
//! ```text
//! OtelHost ──SpanSink::send──► bounded queue ──► worker ──┬─► tree printer (stderr)
//!  (guest thread, never blocks;  (capacity N spans,       ├─► OTLP JSON file
//!   a full queue drops the spans  in batches; dropped     └─► OTLP/HTTP collector
//!   and counts them)              spans counted)
//! ```
//!
//! Each sink gathers up to [`SINK_BATCH`] spans before queueing them, and
//! queues at once when a trace's local part ends or the sink is dropped:
//! one queue operation (and one wake-up of the worker) per batch, not per
//! span. Exported batches come back to the sinks to be freed on the guest's
//! thread, the one that allocated them: freeing them on the export thread
//! made the allocator's cross-thread path cost microseconds per span.
//!
//! - the queue is the only buffer between the guest and the exporters, so a
//!   guest emitting spans faster than they are exported runs in bounded
//!   memory: what does not fit is dropped and counted, and
//!   [`Exporter::finish`] reports it;
//! - each exporter keeps at most a bounded batch (the tree printer: at most
//!   [`TREE_SPAN_LIMIT`] spans per open trace; the file and the collector:
//!   batches of [`BATCH_SIZE`]);
//! - the worker flushes the batches every [`FLUSH_INTERVAL`] and on
//!   [`Exporter::finish`], which waits for everything queued to be exported.

pub mod collector;
pub mod json_file;
pub mod otlp;
pub mod tree;

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::span_types::SpanData;

pub use collector::CollectorConfig;

/// Spans per OTLP request and per line of the trace file.
pub const BATCH_SIZE: usize = 512;

/// How often the worker flushes partial batches.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The default capacity of the queue between the guest and the exporters.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;

/// At most this many spans of one trace are kept for the tree printer.
pub const TREE_SPAN_LIMIT: usize = 10_000;

/// Spans a sink gathers before queueing them.
pub const SINK_BATCH: usize = 64;

/// What the worker receives: finished spans, each with whether it ended
/// the local part of its trace (the host's stack became empty).
type Item = Vec<(SpanData, bool)>;

/// Counts shared by the senders and the worker.
#[derive(Default, Debug)]
struct Counters {
    queued: AtomicU64,
    dropped: AtomicU64,
}

/// The handle the `wasi:otel` host gives finished spans to; a clone starts
/// with an empty batch, and dropping a sink queues what it gathered.
pub struct SpanSink {
    sender: SyncSender<Item>,
    counters: Arc<Counters>,
    batch: Vec<(SpanData, bool)>,
    /// Batches the worker is done with, to be freed here.
    done: Arc<Mutex<Receiver<Item>>>,
}

impl Clone for SpanSink {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
            counters: self.counters.clone(),
            batch: Vec::new(),
            done: self.done.clone(),
        }
    }
}

impl Drop for SpanSink {
    fn drop(&mut self) {
        self.flush();
    }
}

impl fmt::Debug for SpanSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanSink")
            .field("counters", &self.counters)
            .finish()
    }
}

impl SpanSink {
    /// Takes `span`, never blocking; `trace_done` says that no span of the
    /// trace is open any more on the host's stack. Spans are queued by
    /// batches; when the queue is full a batch is dropped and counted.
    pub fn send(&mut self, span: SpanData, trace_done: bool) {
        self.batch.push((span, trace_done));
        if trace_done || self.batch.len() >= SINK_BATCH {
            self.flush();
        }
    }

    /// Queues the spans gathered so far.
    pub fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        if let Ok(done) = self.done.try_lock() {
            while let Ok(spent) = done.try_recv() {
                drop(spent);
            }
        }
        let batch = std::mem::take(&mut self.batch);
        let count = batch.len() as u64;
        match self.sender.try_send(batch) {
            Ok(()) => self.counters.queued.fetch_add(count, Ordering::Relaxed),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(count, Ordering::Relaxed)
            }
        };
    }
}

/// The attributes of the exported resource.
#[derive(Clone, Debug)]
pub struct Resource {
    /// `service.name`: `OTEL_SERVICE_NAME`, else the component's name.
    pub service_name: String,
}

/// Which exporters run, and where they write.
pub struct ExportConfig {
    /// The tree printer's output (stderr for the CLI), or none.
    pub tree: Option<Box<dyn Write + Send>>,
    /// Where warnings go (stderr for the CLI).
    pub warnings: Box<dyn Write + Send>,
    /// The OTLP JSON file (one `ExportTraceServiceRequest` per line).
    pub trace_file: Option<std::fs::File>,
    /// The OTLP/HTTP collector.
    pub collector: Option<CollectorConfig>,
    /// The capacity of the queue in front of the exporters.
    pub queue_capacity: usize,
    /// The resource every span is exported with.
    pub resource: Resource,
}

/// One exporter fed by the worker.
trait SpanExporter: Send {
    /// Takes one finished span.
    fn span(&mut self, span: &SpanData, trace_done: bool, warn: &mut dyn Write);
    /// Writes out what it holds (periodically and before finishing).
    fn flush(&mut self, warn: &mut dyn Write);
    /// Spans it could not export (e.g. the collector failed).
    fn lost(&self) -> u64;
}

/// What [`Exporter::finish`] reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Spans that went through the queue to the exporters.
    pub exported: u64,
    /// Spans dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Spans an exporter could not deliver (e.g. unreachable collector).
    pub lost: u64,
    /// The queue's capacity, in spans.
    pub queue_capacity: usize,
}

impl Summary {
    /// A warning line when spans were dropped or lost, else `None`.
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.dropped_queue_full > 0 {
            parts.push(format!(
                "{} spans dropped: the export queue (capacity {}) was full \
                 (raise it with --queue-size)",
                self.dropped_queue_full, self.queue_capacity
            ));
        }
        if self.lost > 0 {
            parts.push(format!(
                "{} spans not delivered to the collector",
                self.lost
            ));
        }
        (!parts.is_empty()).then(|| format!("warning: {}", parts.join("; ")))
    }
}

/// The running export pipeline: the queue and its worker thread.
pub struct Exporter {
    sink: Option<SpanSink>,
    worker: Option<JoinHandle<u64>>,
    counters: Arc<Counters>,
    queue_capacity: usize,
}

impl Exporter {
    /// Starts the worker thread with the exporters `config` asks for.
    pub fn start(config: ExportConfig) -> Self {
        let ExportConfig {
            tree,
            mut warnings,
            trace_file,
            collector,
            queue_capacity,
            resource,
        } = config;
        let mut exporters: Vec<Box<dyn SpanExporter>> = Vec::new();
        if let Some(out) = tree {
            exporters.push(Box::new(tree::TreePrinter::new(out, TREE_SPAN_LIMIT)));
        }
        if let Some(file) = trace_file {
            exporters.push(Box::new(json_file::JsonFile::new(file, resource.clone())));
        }
        if let Some(config) = collector {
            exporters.push(Box::new(collector::Collector::new(config, resource)));
        }
        let capacity = queue_capacity.max(1);
        let batches = capacity.div_ceil(SINK_BATCH);
        let (sender, receiver) = mpsc::sync_channel::<Item>(batches);
        // Spent batches go back (bounded too: when full, the worker frees).
        let (spent, done) = mpsc::sync_channel::<Item>(batches);
        let counters = Arc::new(Counters::default());
        let worker = std::thread::Builder::new()
            .name("nebula-export".into())
            .spawn(move || {
                loop {
                    match receiver.recv_timeout(FLUSH_INTERVAL) {
                        Ok(batch) => {
                            for (span, done) in &batch {
                                for e in &mut exporters {
                                    e.span(span, *done, &mut warnings);
                                }
                            }
                            let _ = spent.try_send(batch);
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            for e in &mut exporters {
                                e.flush(&mut warnings);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                for e in &mut exporters {
                    e.flush(&mut warnings);
                }
                let _ = warnings.flush();
                exporters.iter().map(|e| e.lost()).sum()
            })
            .expect("spawning the export thread");
        Self {
            sink: Some(SpanSink {
                sender,
                counters: counters.clone(),
                batch: Vec::new(),
                done: Arc::new(Mutex::new(done)),
            }),
            worker: Some(worker),
            counters,
            queue_capacity: capacity,
        }
    }

    /// A sink feeding this pipeline (one per store).
    pub fn sink(&self) -> SpanSink {
        self.sink.clone().expect("the exporter is running")
    }

    /// Closes the queue, waits until every queued span is exported and the
    /// exporters are flushed, and reports the counts. Sinks still alive
    /// elsewhere must be dropped first, or this waits for them.
    pub fn finish(mut self) -> Summary {
        self.sink = None;
        let lost = self
            .worker
            .take()
            .and_then(|w| w.join().ok())
            .unwrap_or_default();
        Summary {
            exported: self.counters.queued.load(Ordering::Relaxed),
            dropped_queue_full: self.counters.dropped.load(Ordering::Relaxed),
            lost,
            queue_capacity: self.queue_capacity,
        }
    }
}
