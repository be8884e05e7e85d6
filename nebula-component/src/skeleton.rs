//! Skeletons: a valid component with every core module's code, data and
//! custom sections left out, for handing a large input across a boundary
//! that copies it (into `nebula.wasm`) and putting the real modules back
//! into what comes out.
//!
//! The instrumenter needs only a component's type and its component-level
//! sections: it instruments a stand-in of each part ([`crate::stand_in`])
//! and splices the real bytes back at the end. A 37 MiB Rust command with
//! its debug info is almost all core-module code and DWARF custom
//! sections; its skeleton is a few kilobytes. So `nebula.wasm`'s native
//! shim validates the input (natively, on every core), gives the guest the
//! skeleton, and [`Skeleton::restore`]s the guest's output.
//!
//! The skeleton keeps every component-level section as it is and replaces
//! each core module, at any depth, by one of the same type
//! ([`crate::stand_in`]'s module stand-in) marked with its number, so the
//! instrumenter's stand-ins of a skeleton are those of the real component
//! and its output is the real output with skeleton parts where the real
//! parts go. [`Skeleton::restore`] puts back each (nested) component whose
//! skeleton it finds, and each core module on its own (a re-composed
//! composition copies its own top-level modules): the result is byte for
//! byte what [`crate::instrument`] gives for the real component.

use std::borrow::Cow;
use std::collections::HashMap;

use wasm_encoder::{ComponentSectionId, Encode, RawSection, Section};
use wasmparser::{BinaryReaderError, Payload};

use crate::Error;
use crate::stand_in;
use crate::toplevel::{each_section, usize_range};

/// The custom section that numbers a module in a skeleton (not the
/// stand-ins' mark: the instrumenter's own splice looks for that one).
const MARK: &str = "nebula:skeleton";

/// A component's skeleton and the real parts to put back.
pub struct Skeleton<'a> {
    bytes: Vec<u8>,
    /// Each skeleton module (its section's contents) and the whole real
    /// module section, header included.
    modules: HashMap<Vec<u8>, &'a [u8]>,
    /// Each nested component's skeleton and the real component.
    components: HashMap<Vec<u8>, &'a [u8]>,
    /// The real component's length: what a restored output needs at least.
    largest: usize,
}

impl<'a> Skeleton<'a> {
    /// The skeleton of `component`. Only a valid component's skeleton is
    /// of its type (so validate it, before or meanwhile); bytes that are
    /// not one give an error or a skeleton of no use, never a panic.
    pub fn of(component: &'a [u8]) -> Result<Self, Error> {
        let mut skeleton = Skeleton {
            bytes: Vec::new(),
            modules: HashMap::new(),
            components: HashMap::new(),
            largest: component.len(),
        };
        skeleton.bytes = skeleton
            .component(component)
            .map_err(|e| Error::internal("making the input's skeleton", e))?;
        Ok(skeleton)
    }

    /// The skeleton's bytes: a valid component of the real one's type.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `output` (what the instrumenter made of the skeleton) with the real
    /// components and modules in place of their skeletons.
    pub fn restore(&self, output: &[u8]) -> Result<Vec<u8>, Error> {
        if let Some(real) = self.components.get(output) {
            return Ok(real.to_vec());
        }
        self.restore_nested(output)
            .map(Cow::into_owned)
            .map_err(|e| Error::internal("putting the input's code back into the output", e))
    }

    fn component(&mut self, real: &'a [u8]) -> Result<Vec<u8>, BinaryReaderError> {
        let mut out = Vec::with_capacity(1024);
        each_section(real, |payload, range| {
            match payload {
                Payload::ModuleSection {
                    unchecked_range, ..
                } => {
                    let mut module = stand_in::module(&real[usize_range(unchecked_range)])?;
                    stand_in::append_mark(&mut module, MARK, self.modules.len());
                    RawSection {
                        id: ComponentSectionId::CoreModule as u8,
                        data: &module,
                    }
                    .append_to(&mut out);
                    self.modules.insert(module, &real[range]);
                }
                Payload::ComponentSection {
                    unchecked_range, ..
                } => {
                    let inner = self.component(&real[usize_range(unchecked_range)])?;
                    RawSection {
                        id: ComponentSectionId::Component as u8,
                        data: &inner,
                    }
                    .append_to(&mut out);
                }
                _ => out.extend_from_slice(&real[range]),
            }
            Ok(())
        })?;
        self.components.insert(out.clone(), real);
        Ok(out)
    }

    /// `bytes` with every skeleton component and module in it replaced;
    /// borrowed when there was none.
    fn restore_nested<'b>(&self, bytes: &'b [u8]) -> Result<Cow<'b, [u8]>, BinaryReaderError>
    where
        'a: 'b,
    {
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        each_section(bytes, |payload, range| {
            // The whole real section, or a component section's new contents.
            let (section, component): (Option<&[u8]>, Option<Cow<'_, [u8]>>) = match payload {
                Payload::ModuleSection {
                    unchecked_range, ..
                } => (
                    self.modules
                        .get(&bytes[usize_range(unchecked_range)])
                        .copied(),
                    None,
                ),
                Payload::ComponentSection {
                    unchecked_range, ..
                } => {
                    let inner = &bytes[usize_range(unchecked_range)];
                    let restored = match self.components.get(inner) {
                        Some(real) => Some(Cow::Borrowed(*real)),
                        None => match self.restore_nested(inner)? {
                            Cow::Owned(changed) => Some(Cow::Owned(changed)),
                            Cow::Borrowed(_) => None,
                        },
                    };
                    (None, restored)
                }
                _ => (None, None),
            };
            if section.is_none() && component.is_none() {
                return Ok(());
            }
            let out = out.get_or_insert_with(|| Vec::with_capacity(self.largest + bytes.len()));
            out.extend_from_slice(&bytes[copied..range.start]);
            if let Some(section) = section {
                out.extend_from_slice(section);
            }
            if let Some(component) = component {
                // Written in place: the contents can be tens of megabytes.
                out.push(ComponentSectionId::Component as u8);
                component.len().encode(out);
                out.extend_from_slice(&component);
            }
            copied = range.end;
            Ok(())
        })?;
        Ok(match out {
            Some(mut out) => {
                out.extend_from_slice(&bytes[copied..]);
                Cow::Owned(out)
            }
            None => Cow::Borrowed(bytes),
        })
    }
}
