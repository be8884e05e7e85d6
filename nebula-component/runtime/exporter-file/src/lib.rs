//! `--export-to file:PATH`: the in-guest exporter appending its OTLP JSON
//! lines to a file in one of the component's preopened directories.
//!
//! An absolute `PATH` is looked up under the preopen whose name is its
//! longest prefix; a relative one under the preopen `.` (else the first
//! one). The file is created when missing. If it cannot be opened or
//! written, the batch is dropped: the guest's own call never fails for it.
#![no_std]

extern crate alloc;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "nebula:instrument/file-sink",
    generate_all,
});

use nebula_exporter::{Config, Sink};
use wasi::filesystem::preopens;
use wasi::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};

/// Appends to the configured file.
struct File;

impl Sink for File {
    fn write(&mut self, config: &Config, bytes: &[u8]) {
        let Some((dir, path)) = locate(config.target) else {
            return;
        };
        let Ok(file) = dir.open_at(
            PathFlags::empty(),
            path,
            OpenFlags::CREATE,
            DescriptorFlags::WRITE,
        ) else {
            return;
        };
        let Ok(stream) = file.append_via_stream() else {
            return;
        };
        for chunk in bytes.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
}

/// The preopened directory `path` lies in, and the path within it.
fn locate(path: &str) -> Option<(Descriptor, &str)> {
    let mut dirs = preopens::get_directories();
    let chosen = if path.starts_with('/') {
        dirs.iter()
            .enumerate()
            .filter(|(_, (_, name))| {
                path.strip_prefix(name.trim_end_matches('/'))
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|(_, (_, name))| name.len())
            .map(|(n, (_, name))| (n, name.trim_end_matches('/').len()))
    } else {
        let dot = dirs.iter().position(|(_, name)| name == ".");
        Some((dot.unwrap_or(0), 0)).filter(|_| !dirs.is_empty())
    };
    let (index, cut) = chosen?;
    let (dir, _) = dirs.swap_remove(index);
    Some((dir, path[cut..].trim_start_matches('/')))
}

nebula_exporter::export_to!(File);
