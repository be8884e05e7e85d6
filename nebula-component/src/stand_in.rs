//! Stand-ins: for each input component (or inner component) that goes into
//! an output, a small component of exactly its type, which every later
//! stage handles in its place; the real bytes go back in at the very end.
//!
//! Everything after reading the input needs only the input's *type*:
//! recovering its world (`wit-parser`'s decoder), registering it with
//! `wac-graph` (`Package::from_bytes`), validating the composed output.
//! Each of those validates whatever bytes it is given, so given the input
//! itself, a 20 MB component with debug info would be validated four more
//! times. Given a stand-in, each reads a few kilobytes, and the input is
//! validated exactly once, by [`crate::input`].
//!
//! A stand-in is the component with every core module replaced by one of
//! the same type: the module's type, import, function, table, memory, tag,
//! global and export sections as they are, each function body
//! `unreachable`, and no start, element, data or custom section (debug
//! info is custom sections). Nested components get stand-ins of their own;
//! component-level sections are kept as they are, so every component-level
//! index and type is the real one's. A custom section naming the stand-in's
//! number makes each stand-in unique.
//!
//! `wac-graph` embeds a registered component's bytes as they are
//! (`define_components`), so [`StandIns::splice`] finds each stand-in in
//! the output by its bytes and puts the real component there. The output
//! has been validated with the stand-ins in it; the real components have
//! the same types and were validated as part of the input, so the spliced
//! output is valid too.

use std::borrow::Cow;

use wasm_encoder::{Encode, RawSection, Section};
use wasmparser::{BinaryReaderError, Payload};

use crate::Error;
use crate::toplevel::{each_section, usize_range};

/// The custom section that numbers a stand-in.
const MARK: &str = "nebula:stand-in";

/// The stand-ins handed out for one output, with the real bytes of each.
#[derive(Default)]
pub(crate) struct StandIns<'a> {
    entries: Vec<(Vec<u8>, &'a [u8])>,
}

impl<'a> StandIns<'a> {
    /// A stand-in for the (valid) component `real`, to be replaced by it
    /// in the output.
    pub(crate) fn add(&mut self, real: &'a [u8]) -> Result<Vec<u8>, Error> {
        let mut stand_in = of(real).map_err(|e| Error::internal("making a stand-in", e))?;
        append_mark(&mut stand_in, MARK, self.entries.len());
        self.entries.push((stand_in.clone(), real));
        Ok(stand_in)
    }

    /// `bytes` (a component holding stand-ins as nested components, at any
    /// depth, or a stand-in itself) with each stand-in replaced by its
    /// real component.
    pub(crate) fn splice(&self, bytes: &[u8]) -> Result<Vec<u8>, Error> {
        if let Some(real) = self.real(bytes) {
            return Ok(real.to_vec());
        }
        self.splice_nested(bytes)
            .map_err(|e| Error::internal("putting the input back into the output", e))
    }

    fn real(&self, bytes: &[u8]) -> Option<&'a [u8]> {
        self.entries
            .iter()
            .find(|(stand_in, _)| stand_in == bytes)
            .map(|(_, real)| *real)
    }

    fn splice_nested(&self, bytes: &[u8]) -> Result<Vec<u8>, BinaryReaderError> {
        let mut out = Vec::with_capacity(bytes.len());
        each_section(bytes, |payload, range| {
            match payload {
                Payload::ComponentSection {
                    unchecked_range, ..
                } => {
                    let inner = &bytes[usize_range(unchecked_range)];
                    let inner: Cow<'_, [u8]> = match self.real(inner) {
                        Some(real) => Cow::Borrowed(real),
                        None if contains(inner, MARK.as_bytes()) => {
                            Cow::Owned(self.splice_nested(inner)?)
                        }
                        None => Cow::Borrowed(inner),
                    };
                    out.push(wasm_encoder::ComponentSectionId::Component as u8);
                    inner.encode(&mut out);
                }
                _ => out.extend_from_slice(&bytes[range]),
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// Appends the custom section `name` holding `number` to the module or
/// component `bytes`: what makes each stand-in (and each skeleton module)
/// unique and findable.
pub(crate) fn append_mark(bytes: &mut Vec<u8>, name: &str, number: usize) {
    let mut data = Vec::new();
    u32::try_from(number)
        .expect("fewer than 2^32 marked parts")
        .encode(&mut data);
    wasm_encoder::CustomSection {
        name: Cow::Borrowed(name),
        data: Cow::Owned(data),
    }
    .append_to(bytes);
}

/// A stand-in for the (valid) component `bytes`, not numbered: for the
/// component's type alone.
pub(crate) fn of(bytes: &[u8]) -> Result<Vec<u8>, BinaryReaderError> {
    let mut out = Vec::with_capacity(1024);
    each_section(bytes, |payload, range| {
        match payload {
            Payload::Version { .. } => out.extend_from_slice(&bytes[range]),
            Payload::ModuleSection {
                unchecked_range, ..
            } => RawSection {
                id: wasm_encoder::ComponentSectionId::CoreModule as u8,
                data: &module(&bytes[usize_range(unchecked_range)])?,
            }
            .append_to(&mut out),
            Payload::ComponentSection {
                unchecked_range, ..
            } => RawSection {
                id: wasm_encoder::ComponentSectionId::Component as u8,
                data: &of(&bytes[usize_range(unchecked_range)])?,
            }
            .append_to(&mut out),
            _ => out.extend_from_slice(&bytes[range]),
        }
        Ok(())
    })?;
    Ok(out)
}

/// A core module of the same type as the (valid) module `bytes`: its
/// declarations as they are, every body `unreachable`.
pub(crate) fn module(bytes: &[u8]) -> Result<Vec<u8>, BinaryReaderError> {
    let mut out = Vec::with_capacity(1024);
    each_section(bytes, |payload, range| {
        match payload {
            Payload::Version { .. }
            | Payload::TypeSection(_)
            | Payload::ImportSection(_)
            | Payload::TableSection(_)
            | Payload::MemorySection(_)
            | Payload::TagSection(_)
            | Payload::GlobalSection(_)
            | Payload::FunctionSection(_)
            | Payload::ExportSection(_) => out.extend_from_slice(&bytes[range]),
            Payload::CodeSectionStart { count, .. } => {
                let mut code = wasm_encoder::CodeSection::new();
                let mut body = wasm_encoder::Function::new([]);
                body.instructions().unreachable().end();
                for _ in 0..*count {
                    code.function(&body);
                }
                code.append_to(&mut out);
            }
            // Start, elements, data, custom sections (names, debug info):
            // none is part of the module's type.
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
