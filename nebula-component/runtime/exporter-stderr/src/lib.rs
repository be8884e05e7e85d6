//! `--export-to stderr` and `--export-to console`: the in-guest exporter
//! writing its batches (OTLP JSON lines, or span trees) to `wasi:cli/stderr`.
#![no_std]

extern crate alloc;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "nebula:instrument/stderr-sink",
    generate_all,
});

use nebula_exporter::{Config, Sink};

/// Writes to the component's stderr.
struct Stderr;

impl Sink for Stderr {
    fn write(&mut self, _: &Config, bytes: &[u8]) {
        let stream = wasi::cli::stderr::get_stderr();
        // `blocking-write-and-flush` takes at most 4096 bytes a call.
        for chunk in bytes.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
}

nebula_exporter::export_to!(Stderr);
