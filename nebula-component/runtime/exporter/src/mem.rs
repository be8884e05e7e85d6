//! `memcmp`, which comparisons of byte slices and strings (here and in
//! `serde_json`) call: the module is linked without a C library, and no
//! host provides one, so the exporter defines it.

/// Compares `n` bytes at `a` and `b`, as C's `memcmp`.
///
/// # Safety
///
/// `a` and `b` must be valid for reads of `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // Safety: the caller's promise, `i < n`.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}
