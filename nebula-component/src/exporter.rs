//! The in-guest exporter of `--export-to` ([`ExportTo`]): the prebuilt
//! `runtime/exporter-*` module of the destination, with its configuration
//! (format, `service.name`, the file's path) appended to its memory where
//! it reads it (`runtime/exporter/src/config.rs`: at `__heap_end`, which is
//! where [`Prebuilt::data_base`] puts added data), made a component that
//! exports `wasi:otel/tracing@0.3.0` and imports only what the destination
//! writes with.
//!
//! The composer puts it in front of the span runtime
//! ([`crate::compose::with_exporter`]), so the output imports no
//! `wasi:otel`.

use wasmparser::ExternalKind;

use crate::proxy::module::{CoreNames, ImportPhase, Prebuilt};
use crate::proxy::{Names, encode_component};
use crate::wit_sources;
use crate::{Error, ExportTo};

/// One prebuilt exporter module: how it writes, and what it adds to the
/// output's imports for that.
struct Writer {
    module: &'static [u8],
    /// Its world in `wit/instrument.wit`.
    world: &'static str,
    /// What the output imports for it, for the report.
    adds: &'static str,
}

/// The exporter writing through `wasi:cli/stderr`.
const STDERR: Writer = Writer {
    module: include_bytes!(concat!(env!("OUT_DIR"), "/nebula_exporter_stderr.wasm")),
    world: "exporter-stderr",
    adds: "`wasi:cli/stderr` and `wasi:io` (0.2)",
};

/// The exporter appending to a file through `wasi:filesystem`.
const FILE: Writer = Writer {
    module: include_bytes!(concat!(env!("OUT_DIR"), "/nebula_exporter_file.wasm")),
    world: "exporter-file",
    adds: "`wasi:filesystem` and `wasi:io` (0.2)",
};

/// The exporter sending OTLP/HTTP through `wasi:http/outgoing-handler`.
const OTLP: Writer = Writer {
    module: include_bytes!(concat!(env!("OUT_DIR"), "/nebula_exporter_otlp.wasm")),
    world: "exporter-otlp",
    adds: "`wasi:http/outgoing-handler` and `wasi:http/types` (0.2)",
};

/// The configuration's first bytes, which the exporter checks.
const MAGIC: &[u8; 4] = b"NBEX";

/// How a batch is written (`runtime/exporter/src/config.rs`'s `Format`).
#[derive(Clone, Copy)]
#[repr(u32)]
enum Format {
    OtlpJson = 0,
    Tree = 1,
    OtlpProto = 2,
}

/// One destination: its writer, format and target, and what it writes
/// (for the report).
struct Destination<'a> {
    writer: Writer,
    format: Format,
    target: &'a str,
    writes: &'static str,
}

impl<'a> Destination<'a> {
    fn of(export_to: &'a ExportTo) -> Self {
        let (writer, format, target, writes) = match export_to {
            ExportTo::Stderr => (STDERR, Format::OtlpJson, "", "OTLP JSON lines on stderr"),
            ExportTo::Console => (STDERR, Format::Tree, "", "span trees on stderr"),
            ExportTo::File(path) => (
                FILE,
                Format::OtlpJson,
                path.as_str(),
                "OTLP JSON lines appended to the file, found in the preopened directories",
            ),
            ExportTo::Otlp(url) => (
                OTLP,
                Format::OtlpProto,
                url.as_str(),
                "one OTLP/HTTP protobuf request per top-level call to the collector",
            ),
        };
        Destination {
            writer,
            format,
            target,
            writes,
        }
    }

    /// The bytes the exporter reads its configuration from.
    fn config(&self, service_name: &str) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend((self.format as u32).to_le_bytes());
        for text in [service_name, self.target] {
            bytes.extend((text.len() as u32).to_le_bytes());
            bytes.extend(text.as_bytes());
        }
        bytes
    }
}

/// The exporter component for `export_to`, naming its spans'
/// `service_name`.
pub(crate) fn component(export_to: &ExportTo, service_name: &str) -> Result<Vec<u8>, Error> {
    let destination = Destination::of(export_to);
    let prebuilt = Prebuilt::parse(destination.writer.module)?;
    let (resolve, world) = wit_sources::exporter_world(destination.writer.world)?;
    let keep_import = |module: &str, name: &str| (module.to_string(), name.to_string());
    let keep_export = |_: ExternalKind, name: &str| Some(name.to_string());
    let names = CoreNames {
        import: &keep_import,
        export: &keep_export,
    };
    let mut code = ImportPhase::new(&prebuilt).code();
    code.data(&destination.config(service_name));
    let module = code.finish(&names)?;
    encode_component(module, &resolve, world, Names::Legacy, "exporter")
}

/// What the report says of the exporter: what the output imports for it
/// instead of `wasi:otel`, and why.
pub(crate) fn describe(export_to: &ExportTo) -> String {
    let destination = Destination::of(export_to);
    format!(
        "`wasi:otel`: implemented inside the output by the in-guest exporter \
         (`--export-to {export_to}`); the output imports {} for it: {}",
        destination.writer.adds, destination.writes
    )
}
