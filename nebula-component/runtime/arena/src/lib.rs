//! The bump allocator of the span runtime and of every proxy's base module.
//!
//! Nothing either allocates outlives what it was allocated for: a proxy's
//! allocations die with the call it forwards (its `post-return` calls
//! [`reset`]), the runtime's with the span they belong to (it calls
//! [`release_to`] when a span ends). So allocation is a bump and freeing is
//! moving the bump pointer back; `free` does nothing.
//!
//! Also `cabi_realloc` and the panic handler of both modules (a trap).
#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;

const PAGE: usize = 65536;

struct Arena {
    start: usize,
    next: usize,
    end: usize,
}

static mut ARENA: Arena = Arena {
    start: 0,
    next: 0,
    end: 0,
};

fn grow(pages: usize) -> usize {
    let old = wasm32::memory_grow(0, pages);
    if old == usize::MAX {
        wasm32::unreachable();
    }
    old * PAGE
}

/// A block of `size` bytes aligned to `align`, past everything handed out.
///
/// # Safety
///
/// Single-threaded use only (as every component instance is).
#[allow(static_mut_refs)]
pub unsafe fn bump(size: usize, align: usize) -> *mut u8 {
    let arena = unsafe { &mut ARENA };
    if arena.start == 0 {
        // The first page past the module's data and stack (and whatever
        // the generator appended to its memory).
        arena.start = grow(1);
        arena.next = arena.start;
        arena.end = arena.start + PAGE;
    }
    let ptr = (arena.next + align - 1) & !(align - 1);
    let next = ptr + size;
    if next > arena.end {
        let pages = (next - arena.end).div_ceil(PAGE);
        grow(pages);
        arena.end += pages * PAGE;
    }
    arena.next = next;
    ptr as *mut u8
}

/// The canonical ABI's `cabi_realloc`: a bump, growing in place when the
/// block is the last one handed out.
///
/// # Safety
///
/// `old_ptr` is null or a block of `old_size` bytes from this arena.
#[allow(static_mut_refs)]
pub unsafe fn realloc(old_ptr: *mut u8, old_size: usize, align: usize, new_size: usize) -> *mut u8 {
    if old_ptr.is_null() {
        return unsafe { bump(new_size, align) };
    }
    if new_size <= old_size {
        return old_ptr;
    }
    let arena = unsafe { &mut ARENA };
    if old_ptr as usize + old_size == arena.next {
        arena.next = old_ptr as usize;
        let ptr = unsafe { bump(new_size, align) };
        if ptr == old_ptr {
            return ptr;
        }
        arena.next = old_ptr as usize + old_size;
    }
    let new = unsafe { bump(new_size, align) };
    unsafe { core::ptr::copy_nonoverlapping(old_ptr, new, old_size) };
    new
}

/// The canonical ABI's allocator, exported by both modules (lowered
/// arguments and results land here).
///
/// # Safety
///
/// Called by the canonical ABI with a block it got from here (or null).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    unsafe { realloc(old_ptr, old_size, align, new_size) }
}

/// Where the next allocation starts: pass it to [`release_to`] to free
/// everything allocated after this point.
#[allow(static_mut_refs)]
pub fn mark() -> usize {
    unsafe { ARENA.next }
}

/// Frees everything allocated after `mark` (from [`mark`]).
///
/// # Safety
///
/// Nothing allocated after `mark` is still in use.
#[allow(static_mut_refs)]
pub unsafe fn release_to(mark: usize) {
    unsafe {
        if mark >= ARENA.start && mark <= ARENA.next {
            ARENA.next = mark;
        }
    }
}

/// Frees everything.
///
/// # Safety
///
/// Nothing allocated is still in use.
#[allow(static_mut_refs)]
pub unsafe fn reset() {
    unsafe { ARENA.next = ARENA.start }
}

/// The arena as Rust's global allocator.
pub struct ArenaAlloc;

unsafe impl GlobalAlloc for ArenaAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { bump(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    wasm32::unreachable()
}
