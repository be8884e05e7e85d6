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
//!
//! The composition's own exports lose their directive too: `wac-graph`
//! 0.12 encodes a top-level export by its name alone. An exported label
//! (`export x: ns:pkg/i;`) would then become an anonymous interface in the
//! output's world, and the exports that `use` the types of `ns:pkg/i`
//! would no longer name the interface `x` implements. [`Labels::restore`]
//! also gives each top-level export the directive the target's export of
//! that name has ([`Labels::keep_exports`]).

use std::borrow::Cow;
use std::collections::HashMap;

use wac_graph::types::{ItemKind, Types, WorldId};
use wasm_encoder::reencode::{ReencodeComponent, RoundtripReencoder};

use crate::Error;
use crate::toplevel::TopLevel;

/// The labels whose `(implements "…")` directive the encoding loses.
#[derive(Default)]
pub(super) struct Labels {
    /// The labelled imports whose interfaces lost their identifier: import
    /// name to the interface it implements.
    imports: HashMap<String, String>,
    /// The target's labelled exports: export name to the interface it
    /// implements.
    exports: HashMap<String, String>,
}

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
            labels.imports.insert(name.clone(), iid.clone());
        }
    }
    for (name, id, _) in &instances {
        if labels.imports.contains_key(name) {
            types[*id].id = None;
        }
    }
    labels
}

impl Labels {
    /// Remembers the `(implements "…")` directives of the top-level exports
    /// of `target` (the input component), to put them back on the
    /// composition's exports of the same names.
    pub(super) fn keep_exports(&mut self, target: &TopLevel<'_>) {
        for export in &target.exports {
            if let Some(implements) = export.implements {
                self.exports
                    .insert(export.plain_name.to_string(), implements.to_string());
            }
        }
    }

    /// Encodes `bytes` again with the `(implements "…")` directive of each
    /// hidden label back on its top-level import, and of each labelled
    /// export of the target back on the composition's export.
    pub(super) fn restore(&self, bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
        if self.imports.is_empty() && self.exports.is_empty() {
            return Ok(bytes);
        }
        const CONTEXT: &str = "restoring labelled imports and exports";
        let err = |e| Error::internal(CONTEXT, e);
        let reencode_err = |e| Error::internal(CONTEXT, e);
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
                            .imports
                            .get(name.name)
                            .map(|i| Cow::Borrowed(i.as_str()))
                            .or(name.implements.map(Cow::Borrowed));
                        let ty = RoundtripReencoder
                            .component_type_ref(import.ty)
                            .map_err(reencode_err)?;
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
                wasmparser::Payload::ComponentExportSection(reader) => {
                    let mut section = wasm_encoder::ComponentExportSection::new();
                    for export in reader.clone() {
                        let export = export.map_err(err)?;
                        let name = export.name;
                        let implements = self
                            .exports
                            .get(name.name)
                            .map(|i| Cow::Borrowed(i.as_str()))
                            .or(name.implements.map(Cow::Borrowed));
                        let ty = export
                            .ty
                            .map(|ty| RoundtripReencoder.component_type_ref(ty))
                            .transpose()
                            .map_err(reencode_err)?;
                        section.export(
                            wasm_encoder::ComponentExternName {
                                name: Cow::Borrowed(name.name),
                                implements,
                                version_suffix: name.version_suffix.map(Cow::Borrowed),
                                external_id: name.external_id.map(Cow::Borrowed),
                            },
                            RoundtripReencoder.component_export_kind(export.kind),
                            export.index,
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
