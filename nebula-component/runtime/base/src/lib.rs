//! The core module every Nebula proxy is made of: the generator appends one
//! forwarder per wrapped function (see `nebula-component/src/proxy/module.rs`)
//! and they call the three functions exported here:
//!
//! - `nebula_span_start(descriptor) -> handle` and
//!   `nebula_span_end(handle, code, a, b)` pass the call on to the output's
//!   one span runtime (`nebula:spans/spans`); a string error payload (`a`, `b`
//!   its address and length in this module's memory) goes as the message;
//! - `nebula_reset()`, called from every lifted export's `post-return`,
//!   frees the arena the canonical ABI allocated the call's values in.
#![no_std]

use nebula_arena::ArenaAlloc;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "nebula:instrument/proxy-base",
    generate_all,
});

use nebula::spans::spans;

#[global_allocator]
static GLOBAL: ArenaAlloc = ArenaAlloc;

/// `end`'s status code for an error with a string message.
const STATUS_ERROR_STRING: u32 = 2;

/// Starts the span of the function whose descriptor is at `descriptor` in
/// the runtime's memory.
#[unsafe(no_mangle)]
pub extern "C" fn nebula_span_start(descriptor: u32) -> i32 {
    spans::start(descriptor)
}

/// Ends span `handle` (nothing to do for -1, no span).
///
/// # Safety
///
/// For a string status, `a` and `b` are the address and length of UTF-8
/// text in this module's memory (the canonical ABI lowered it there).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nebula_span_end(handle: i32, code: u32, a: u32, b: u32) {
    if handle < 0 {
        return;
    }
    let message = if code == STATUS_ERROR_STRING {
        let bytes = unsafe { core::slice::from_raw_parts(a as *const u8, b as usize) };
        // Lifted by the canonical ABI, so valid UTF-8.
        unsafe { core::str::from_utf8_unchecked(bytes) }
    } else {
        ""
    };
    spans::end(handle, code, a, b, message);
}

/// Frees everything the arena handed out.
///
/// # Safety
///
/// Only from a `post-return`: nothing allocated is still in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nebula_reset() {
    unsafe { nebula_arena::reset() }
}
