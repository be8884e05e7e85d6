//! The core module every Nebula proxy is made of: the generator appends one
//! forwarder per wrapped function (see `nebula-component/src/proxy/module.rs`)
//! and they call the three functions exported by `calls.rs`:
//!
//! - `nebula_span_start(descriptor) -> handle` and
//!   `nebula_span_end(handle, code, a, b)` pass the call on to the output's
//!   one span runtime (`nebula:spans/spans`); a string error payload (`a`, `b`
//!   its address and length in this module's memory) goes as the message;
//! - `nebula_reset()`, called from every lifted export's `post-return`,
//!   frees the arena the canonical ABI allocated the call's values in.
#![no_std]

mod calls;

use nebula_arena::ArenaAlloc;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "nebula:instrument/proxy-base",
    generate_all,
});

#[global_allocator]
static GLOBAL: ArenaAlloc = ArenaAlloc;
