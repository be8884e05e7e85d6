//! The input, read once: what it is (a component, or an error that says
//! what it is instead and how to make a component of it), validated in one
//! pass, and its top level.
//!
//! This is the only place the input's code is read: the later stages work
//! on the top level read here and on stand-ins ([`crate::stand_in`]).

use wasmparser::{Parser, Validator, WasmFeatures};

use crate::Error;
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
    pub(crate) fn read(bytes: &'a [u8]) -> Result<Self, Error> {
        check_kind(bytes)?;
        Validator::new_with_features(WasmFeatures::all())
            .validate_all(bytes)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let top = TopLevel::read(bytes).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(Input { bytes, top })
    }
}

const CORE_MODULE: &str = "the input is a core WebAssembly module, not a component; \
    make a component of it with `wasm-tools component new module.wasm -o component.wasm` \
    (add `--adapt wasi_snapshot_preview1.wasm` for a WASI preview1 module), \
    or build it for the `wasm32-wasip2` target";

/// Checks that `bytes` starts as a binary component does; says what it is
/// otherwise.
fn check_kind(bytes: &[u8]) -> Result<(), Error> {
    if bytes.is_empty() {
        return Err(Error::NotAComponent(
            "the input is empty; expected a WebAssembly component".into(),
        ));
    }
    if !bytes.starts_with(b"\0asm") {
        let text = std::str::from_utf8(&bytes[..bytes.len().min(4096)]).ok();
        let message = match text.map(str::trim_start) {
            Some(t) if t.starts_with("(component") || t.starts_with("(module") => {
                "the input is WebAssembly text, not binary; encode it with \
                 `wasm-tools parse input.wat -o output.wasm`"
            }
            Some(_) => "the input is text, not WebAssembly; expected a binary component (`.wasm`)",
            None => {
                "the input is not WebAssembly (it lacks the `\\0asm` header); \
                 expected a binary component (`.wasm`)"
            }
        };
        return Err(Error::NotAComponent(message.into()));
    }
    if Parser::is_core_wasm(bytes) {
        return Err(Error::NotAComponent(CORE_MODULE.into()));
    }
    if !Parser::is_component(bytes) {
        return Err(Error::NotAComponent(
            "the input has the WebAssembly header but an unknown version or layer; \
             expected a component (version 0x0d, layer 1)"
                .into(),
        ));
    }
    Ok(())
}
