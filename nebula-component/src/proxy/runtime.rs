//! The output's one span runtime, shared by all its proxies: the prebuilt
//! `runtime/spans/` module with the descriptors of every wrapped function of
//! the output appended to its memory, made a component that imports
//! `wasi:otel` (in the chosen flavor), the clock and the random source, and
//! exports `nebula:spans/spans` (for the proxies) and `nebula:served-otel`
//! (for components of the output that import `wasi:otel/tracing`
//! themselves, see [`crate::compose`]'s `served`).
//!
//! Proxies are generated first (each adds its descriptors here and learns
//! their addresses), the runtime last, once the output's descriptors are
//! all known; the composer instantiates it once and wires every proxy's
//! `nebula:spans/spans` import to it.

use wasmparser::ExternalKind;
use wit_parser::{Docs, Stability, WorldItem, WorldKey};

use super::descriptor::DescriptorData;
use super::module::{CoreNames, ImportPhase, Prebuilt};
use super::{Names, world};
use crate::compose::Served;
use crate::wit_sources::RuntimeImports;
use crate::{Error, OtelFlavor};

/// The span runtime, a core module built from `runtime/spans/` by
/// `build.rs`.
static SPAN_RUNTIME: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nebula_span_runtime.wasm"));

/// The span runtime of one output, gathering descriptors while its proxies
/// are generated.
pub struct SpanRuntime {
    descriptors: DescriptorData,
    proxies: usize,
    served: Served,
    /// The in-guest exporter component put in front of the runtime
    /// (`--export-to`), if any.
    exporter: Option<Vec<u8>>,
}

impl SpanRuntime {
    /// A runtime with no descriptors yet.
    pub fn new() -> Result<Self, Error> {
        let prebuilt = Prebuilt::parse(SPAN_RUNTIME)?;
        Ok(SpanRuntime {
            descriptors: DescriptorData::new(prebuilt.data_base()),
            proxies: 0,
            served: Served::default(),
            exporter: None,
        })
    }

    /// Where proxies add their descriptors.
    pub(crate) fn descriptors(&mut self) -> &mut DescriptorData {
        &mut self.descriptors
    }

    /// Notes one more proxy that imports the runtime.
    pub(crate) fn count_proxy(&mut self) {
        self.proxies += 1;
    }

    /// Makes the runtime serve the output's `wasi:otel` imports `served`
    /// names.
    pub(crate) fn serve(&mut self, served: Served) {
        self.served = served;
    }

    /// The output's `wasi:otel` imports the runtime serves.
    pub(crate) fn served(&self) -> &Served {
        &self.served
    }

    /// Puts the in-guest `exporter` component in front of the runtime:
    /// [`Self::component`] then implements `wasi:otel` itself.
    pub(crate) fn export_through(&mut self, exporter: Vec<u8>) {
        self.exporter = Some(exporter);
    }

    /// Whether any proxy needs the runtime.
    pub fn is_used(&self) -> bool {
        self.proxies > 0
    }

    /// The runtime component, for `flavor`, with the in-guest exporter in
    /// front of it when there is one.
    pub fn component(&self, flavor: &OtelFlavor) -> Result<Vec<u8>, Error> {
        let runtime = self.runtime_alone(flavor)?;
        match &self.exporter {
            Some(exporter) => crate::compose::with_exporter(&runtime, exporter),
            None => Ok(runtime),
        }
    }

    /// The runtime component alone, importing `flavor`'s `wasi:otel`.
    fn runtime_alone(&self, flavor: &OtelFlavor) -> Result<Vec<u8>, Error> {
        let prebuilt = Prebuilt::parse(SPAN_RUNTIME)?;
        let mut imports = RuntimeImports::load(flavor)?;
        let spans = imports.spans;
        let mut resolve = std::mem::take(&mut imports.resolve);
        let mut world_imports = wit_parser::IndexMap::default();
        for id in &imports.interfaces {
            world::import_with_deps(&resolve, &mut world_imports, *id);
        }
        let mut world_exports = wit_parser::IndexMap::default();
        for id in std::iter::once(spans).chain(imports.served.iter().copied()) {
            world_exports.insert(
                WorldKey::Interface(id),
                WorldItem::Interface {
                    id,
                    stability: Stability::default(),
                    external_id: None,
                    docs: Docs::default(),
                    span: Default::default(),
                },
            );
        }
        let world = world::add_world(&mut resolve, "span-runtime", world_imports, world_exports);

        // The module is built against the `inner` flavor, with the legacy
        // (`module#name`) names `wit-bindgen` gives it; its `wasi:otel`
        // imports take the flavor's names.
        let rename = |module: &str, name: &str| imports.core_import(module, name);
        let keep = |_: ExternalKind, name: &str| Some(name.to_string());
        let names = CoreNames {
            import: &rename,
            export: &keep,
        };
        let mut code = ImportPhase::new(&prebuilt).code();
        code.data(self.descriptors.bytes());
        let module = code.finish(&names)?;
        super::encode_component(module, &resolve, world, Names::Legacy, "span runtime")
    }
}
