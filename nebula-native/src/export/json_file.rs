//! `--trace-file`: OTLP JSON, as the OpenTelemetry file exporter writes it
//! (JSON Lines): one `ExportTraceServiceRequest` per line, each holding at
//! most [`BATCH_SIZE`](super::BATCH_SIZE) spans, so memory stays bounded
//! however many spans a run makes.

use std::fs::File;
use std::io::{BufWriter, Write};

use super::{BATCH_SIZE, Resource, SpanExporter, otlp};
use crate::span_types::SpanData;

/// The trace file writer.
pub struct JsonFile {
    out: BufWriter<File>,
    resource: Resource,
    batch: Vec<SpanData>,
    failed: bool,
    lost: u64,
}

impl JsonFile {
    /// Writes to `file` (created by the caller, so that errors show early).
    pub fn new(file: File, resource: Resource) -> Self {
        Self {
            out: BufWriter::new(file),
            resource,
            batch: Vec::with_capacity(BATCH_SIZE),
            failed: false,
            lost: 0,
        }
    }
}

impl SpanExporter for JsonFile {
    fn span(&mut self, span: &SpanData, _trace_done: bool, warn: &mut dyn Write) {
        self.batch.push(span.clone());
        if self.batch.len() >= BATCH_SIZE {
            self.flush(warn);
        }
    }

    fn flush(&mut self, warn: &mut dyn Write) {
        if self.batch.is_empty() {
            return;
        }
        let spans = std::mem::take(&mut self.batch);
        if self.failed {
            self.lost += spans.len() as u64;
            return;
        }
        let request = otlp::request(&self.resource, &spans);
        let written = serde_json::to_writer(&mut self.out, &request)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.failed = true;
            self.lost += spans.len() as u64;
            let _ = writeln!(warn, "warning: cannot write the trace file: {e}");
        }
    }

    fn lost(&self) -> u64 {
        self.lost
    }
}
