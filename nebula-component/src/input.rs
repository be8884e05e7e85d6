//! The input, read once: what it is (a component, or an error that says
//! what it is instead and how to make a component of it), validated in one
//! pass, and its top level.
//!
//! This is the only place the input's code is read: the later stages work
//! on the top level read here and on stand-ins ([`crate::stand_in`]).

use wasmparser::{Parser, Validator, WasmFeatures};

use crate::toplevel::TopLevel;

/// A valid component and its top level.
pub(crate) struct Input<'a> {
    /// The component's bytes.
    pub bytes: &'a [u8],
    /// Its top level.
    pub top: TopLevel<'a>,
}

impl<'a> Input<'a> {
    /// Checks that `bytes` is a valid binary component and reads its top
    /// level.
    pub(crate) fn read(bytes: &'a [u8]) -> Result<Self, InputError> {
        check_kind(bytes)?;
        Validator::new_with_features(WasmFeatures::all())
            .validate_all(bytes)
            .map_err(InputError::Invalid)?;
        let top = TopLevel::read(bytes).map_err(InputError::Invalid)?;
        Ok(Input { bytes, top })
    }
}

/// Why the input is not a valid component; each message says what it is
/// instead and how to make a component of it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// No bytes at all.
    #[error("the input is empty; expected a WebAssembly component")]
    Empty,
    /// The WebAssembly text format.
    #[error(
        "the input is WebAssembly text, not binary; encode it with \
         `wasm-tools parse input.wat -o output.wasm`"
    )]
    WasmText,
    /// Some other text.
    #[error("the input is text, not WebAssembly; expected a binary component (`.wasm`)")]
    Text,
    /// Bytes without the wasm header.
    #[error(
        "the input is not WebAssembly (it lacks the `\\0asm` header); \
         expected a binary component (`.wasm`)"
    )]
    NotWasm,
    /// A core module.
    #[error(
        "the input is a core WebAssembly module, not a component; \
         make a component of it with `wasm-tools component new module.wasm -o component.wasm` \
         (add `--adapt wasi_snapshot_preview1.wasm` for a WASI preview1 module), \
         or build it for the `wasm32-wasip2` target"
    )]
    CoreModule,
    /// The wasm header with a version or layer this is not.
    #[error(
        "the input has the WebAssembly header but an unknown version or layer; \
         expected a component (version 0x0d, layer 1)"
    )]
    UnknownVersion,
    /// A WIT package encoded as wasm.
    #[error(
        "the input is a WIT package encoded as wasm, not a component; \
         instrument the component built from it instead"
    )]
    WitPackage,
    /// A component that does not validate.
    #[error("invalid component")]
    Invalid(#[source] wasmparser::BinaryReaderError),
}

/// Checks that `bytes` starts as a binary component does; says what it is
/// otherwise.
fn check_kind(bytes: &[u8]) -> Result<(), InputError> {
    if bytes.is_empty() {
        return Err(InputError::Empty);
    }
    if !bytes.starts_with(b"\0asm") {
        let text = std::str::from_utf8(&bytes[..bytes.len().min(4096)]).ok();
        return Err(match text.map(str::trim_start) {
            Some(t) if t.starts_with("(component") || t.starts_with("(module") => {
                InputError::WasmText
            }
            Some(_) => InputError::Text,
            None => InputError::NotWasm,
        });
    }
    if Parser::is_core_wasm(bytes) {
        return Err(InputError::CoreModule);
    }
    if !Parser::is_component(bytes) {
        return Err(InputError::UnknownVersion);
    }
    Ok(())
}
