//! The entry points every proxy's forwarders call (shared by
//! `nebula-proxy-base` and `nebula-proxy-base-http`, which includes this
//! file).

use crate::nebula::spans::spans;

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
