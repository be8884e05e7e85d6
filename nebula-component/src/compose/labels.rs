//! Interfaces imported under more than one name (`import a: ns:pkg/i;`
//! next to `import ns:pkg/i;`, or two labels), which `wac-graph` 0.12 would
//! give one instance type: its import aggregator merges interfaces by their
//! identifier, and a labelled import carries the identifier of the
//! interface it implements. The output still validates, but two imports
//! sharing an instance type that exports types cannot be decoded back to
//! WIT (`wit-parser` asserts).
//!
//! The way around, in two steps around [`wac_graph::CompositionGraph::encode`]:
//!
//! 1. [`hide`]: the labelled imports' interfaces lose their identifier, so
//!    each keeps an instance type of its own (and is encoded without its
//!    `(implements "…")` directive);
//! 2. [`Labels::restore`]: the composition's import sections are encoded
//!    again with each label's directive back. Import sections hold no
//!    indices of their own kind beyond the types they refer to, so nothing
//!    else moves; every other section is copied as is.

use std::borrow::Cow;
use std::collections::HashMap;

use wac_graph::types::{ItemKind, Types, WorldId};
use wasm_encoder::reencode::{ReencodeComponent, RoundtripReencoder};

use crate::Error;

/// The labelled imports whose interfaces lost their identifier: import
/// name to the interface it implements.
#[derive(Default)]
pub(super) struct Labels(HashMap<String, String>);

/// Clears the identifier of every labelled import (in `worlds`, the
/// registered packages) whose interface is imported under another name too.
pub(super) fn hide(types: &mut Types, worlds: &[WorldId]) -> Labels {
    // Import name and interface, over all packages.
    let mut instances = Vec::new();
    for world in worlds {
        for (name, kind) in &types[*world].imports {
            if let ItemKind::Instance(id) = kind
                && let Some(iid) = &types[*id].id
            {
                instances.push((name.clone(), *id, iid.clone()));
            }
        }
    }
    let is_label = |name: &str| !name.contains(':');
    let mut labels = Labels::default();
    for (name, id, iid) in &instances {
        let repeated = instances
            .iter()
            .any(|(other, _, other_iid)| other != name && other_iid == iid);
        // An instance type shared with an import by the interface's own
        // name must keep its identifier.
        let shared = instances
            .iter()
            .any(|(other, other_id, _)| other_id == id && !is_label(other));
        if is_label(name) && repeated && !shared {
            labels.0.insert(name.clone(), iid.clone());
        }
    }
    for (name, id, _) in &instances {
        if labels.0.contains_key(name) {
            types[*id].id = None;
        }
    }
    labels
}

impl Labels {
    /// Encodes `bytes` again with the `(implements "…")` directive of each
    /// hidden label back on its top-level import.
    pub(super) fn restore(&self, bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
        if self.0.is_empty() {
            return Ok(bytes);
        }
        let err = |e| Error::internal("restoring labelled imports", e);
        let mut out = wasm_encoder::Component::new();
        let mut depth = 0usize;
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            let payload = payload.map_err(err)?;
            match &payload {
                wasmparser::Payload::Version { .. } => {
                    depth += 1;
                    continue;
                }
                wasmparser::Payload::End(_) => {
                    depth -= 1;
                    continue;
                }
                _ if depth != 1 => continue,
                wasmparser::Payload::ComponentImportSection(reader) => {
                    let mut section = wasm_encoder::ComponentImportSection::new();
                    for import in reader.clone() {
                        let import = import.map_err(err)?;
                        let name = import.name;
                        let implements = self
                            .0
                            .get(name.name)
                            .map(|i| Cow::Borrowed(i.as_str()))
                            .or(name.implements.map(Cow::Borrowed));
                        let ty = RoundtripReencoder
                            .component_type_ref(import.ty)
                            .map_err(|e| Error::internal("restoring labelled imports", e))?;
                        section.import(
                            wasm_encoder::ComponentExternName {
                                name: Cow::Borrowed(name.name),
                                implements,
                                version_suffix: name.version_suffix.map(Cow::Borrowed),
                                external_id: name.external_id.map(Cow::Borrowed),
                            },
                            ty,
                        );
                    }
                    out.section(&section);
                    continue;
                }
                _ => {}
            }
            if let Some((id, range)) = payload.as_section() {
                out.section(&wasm_encoder::RawSection {
                    id,
                    data: &bytes[range.start as usize..range.end as usize],
                });
            }
        }
        Ok(out.finish())
    }
}
