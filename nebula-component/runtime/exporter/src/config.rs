//! The exporter's configuration, which the generator
//! (`nebula-component/src/exporter.rs`) appends to the module's memory just
//! past its own end (`__heap_end`), all little-endian:
//!
//! ```text
//! "NBEX"  format: u32  service.len: u32  service  target.len: u32  target
//! ```
//!
//! `format` is a [`Format`]; `service` the `service.name` resource
//! attribute; `target` what the destination needs (the file's path, the
//! collector's URL).

/// How a batch is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OTLP JSON, one `ExportTraceServiceRequest` per line.
    OtlpJson,
    /// A readable span tree per trace.
    Tree,
    /// OTLP protobuf, one `ExportTraceServiceRequest` per batch (the body
    /// of an OTLP/HTTP request).
    OtlpProto,
}

/// The configuration the generator wrote.
pub struct Config {
    /// How batches are written.
    pub format: Format,
    /// The `service.name` resource attribute.
    pub service_name: &'static str,
    /// The destination's target (a file path), or empty.
    pub target: &'static str,
}

unsafe extern "C" {
    /// Where the module's memory ended when it was linked: the generator's
    /// data starts here.
    static __heap_end: u8;
}

const MAGIC: &[u8; 4] = b"NBEX";

/// Reads the configuration; without one (a module nobody configured), OTLP
/// JSON for a service called `component`.
pub fn get() -> Config {
    // Safety: the generator's data segment lies at `__heap_end`, within
    // the memory's initial size; it is never written.
    unsafe {
        let base = core::ptr::addr_of!(__heap_end);
        let size = core::arch::wasm32::memory_size(0) * 65536;
        let at = |offset: usize| base.add(offset);
        let fits = |offset: usize, len: usize| (base as usize) + offset + len <= size;
        if !fits(0, 12) || core::slice::from_raw_parts(base, 4) != MAGIC {
            return Config {
                format: Format::OtlpJson,
                service_name: "component",
                target: "",
            };
        }
        let word = |offset: usize| u32::from_le_bytes(*(at(offset) as *const [u8; 4])) as usize;
        let text = |offset: usize, len: usize| {
            if fits(offset, len) {
                core::str::from_utf8(core::slice::from_raw_parts(at(offset), len)).unwrap_or("")
            } else {
                ""
            }
        };
        let format = match word(4) {
            1 => Format::Tree,
            2 => Format::OtlpProto,
            _ => Format::OtlpJson,
        };
        let service_len = word(8);
        let service_name = text(12, service_len);
        let target_at = 12 + service_len;
        let target = if fits(target_at, 4) {
            text(target_at + 4, word(target_at))
        } else {
            ""
        };
        Config {
            format,
            service_name,
            target,
        }
    }
}
