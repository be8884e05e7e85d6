//! The span runtime linked into every Nebula proxy.
//!
//! Generated forwarders call three functions exported here:
//!
//! - `nebula_span_start(descriptor) -> handle`: reads the parent from
//!   `inner-span-context`, makes the new span context (parent's trace id, or
//!   a fresh one when the parent is invalid; a fresh span id; the parent's
//!   flags and trace-state), records the start time and calls `on-start`;
//!   when the parent is valid but not sampled it makes no span at all;
//! - `nebula_span_end(handle, status, a, b)`: records the end time, builds
//!   the `span-data` and calls `on-end`;
//! - `nebula_reset()`: called from every lifted export's `post-return`,
//!   resets the bump arena, since nothing a proxy allocates outlives a call.
//!
//! Limits:
//! - all memory comes from one bump arena (also the global allocator and
//!   `cabi_realloc`), so this module keeps no heap data across calls;
//! - at most [`MAX_OPEN`] spans are open at once in one instance (a proxy
//!   cannot be re-entered, so one is the norm); beyond that calls are
//!   forwarded without spans.
//!
//! The descriptor layout (all fields little-endian u32, written by
//! `nebula-component/src/proxy/descriptor.rs`):
//!
//! ```text
//! descriptor: name.ptr name.len kind attrs.ptr attrs.len
//!             scope.ptr scope.len version.ptr version.len
//!             cases.ptr cases.len
//! attrs:      [key.ptr key.len value.ptr value.len] * attrs.len
//! cases:      [name.ptr name.len] * cases.len
//! ```
#![no_std]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;

wit_bindgen::generate!({
    path: "../../wit",
    world: "nebula:instrument/span-runtime",
    generate_all,
});

use wasi::clocks::wall_clock::{self, Datetime};
use wasi::otel::tracing::{self, SpanContext, SpanData, SpanKind, Status, TraceFlags};
use wasi::otel::types::{InstrumentationScope, KeyValue};

/// How many spans may be open at once in one proxy instance.
const MAX_OPEN: usize = 16;

const PAGE: usize = 65536;

// ---------------------------------------------------------------------------
// Bump arena: global allocator and `cabi_realloc`.

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

#[allow(static_mut_refs)]
unsafe fn bump(size: usize, align: usize) -> *mut u8 {
    let arena = unsafe { &mut ARENA };
    if arena.start == 0 {
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

struct ArenaAlloc;

unsafe impl GlobalAlloc for ArenaAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { bump(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { cabi_realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}

#[global_allocator]
static GLOBAL: ArenaAlloc = ArenaAlloc;

/// The canonical ABI's allocator: a bump in the arena, growing in place when
/// the block is the last one handed out.
///
/// # Safety
///
/// Called by the canonical ABI with a block it got from here (or null).
#[unsafe(no_mangle)]
#[allow(static_mut_refs)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
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

/// Forgets everything allocated since the last reset.
///
/// # Safety
///
/// Only from a `post-return`, when no span is open and nothing allocated
/// is still in use.
#[unsafe(no_mangle)]
#[allow(static_mut_refs)]
pub unsafe extern "C" fn nebula_reset() {
    unsafe {
        ARENA.next = ARENA.start;
        if OPEN_DEPTH == 0 {
            for slot in OPEN.iter_mut() {
                core::ptr::write(slot, None);
            }
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    wasm32::unreachable()
}

// ---------------------------------------------------------------------------
// Descriptors written by the generator.

#[repr(C)]
#[derive(Clone, Copy)]
struct Str {
    ptr: *const u8,
    len: usize,
}

impl Str {
    fn to_string(self) -> String {
        let bytes = unsafe { core::slice::from_raw_parts(self.ptr, self.len) };
        // The generator writes UTF-8; anything else would be its bug.
        String::from(core::str::from_utf8(bytes).unwrap_or("?"))
    }
}

#[repr(C)]
struct Attr {
    key: Str,
    value: Str,
}

/// What the generator knows about one wrapped function.
#[repr(C)]
pub struct Descriptor {
    name: Str,
    kind: u32,
    attrs: *const Attr,
    attrs_len: usize,
    scope: Str,
    version: Str,
    cases: *const Str,
    cases_len: usize,
}

// ---------------------------------------------------------------------------
// Span ids.

static mut RNG: u64 = 0;

#[allow(static_mut_refs)]
fn next_random() -> u64 {
    unsafe {
        if RNG == 0 {
            RNG = wasi::random::random::get_random_u64() | 1;
        }
        // splitmix64
        RNG = RNG.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = RNG;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn hex(words: &[u64]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(words.len() * 16);
    for word in words {
        for shift in (0..16).rev() {
            out.push(DIGITS[((word >> (shift * 4)) & 0xf) as usize] as char);
        }
    }
    out
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().any(|b| b != b'0')
}

// ---------------------------------------------------------------------------
// Open spans.

struct Open {
    descriptor: *const Descriptor,
    context: SpanContext,
    parent_span_id: String,
    start: Datetime,
}

static mut OPEN: [Option<Open>; MAX_OPEN] = [const { None }; MAX_OPEN];
static mut OPEN_DEPTH: usize = 0;

/// Starts a span for the function `descriptor` describes; returns the handle
/// to pass to [`nebula_span_end`] (-1 for no span: the parent is not
/// sampled, or too many spans are open).
///
/// # Safety
///
/// `descriptor` points at a descriptor written by the generator.
#[unsafe(no_mangle)]
#[allow(static_mut_refs)]
pub unsafe extern "C" fn nebula_span_start(descriptor: *const Descriptor) -> i32 {
    let depth = unsafe { OPEN_DEPTH };
    if depth >= MAX_OPEN {
        return -1;
    }
    let parent = tracing::inner_span_context();
    let valid = is_valid_id(&parent.trace_id) && is_valid_id(&parent.span_id);
    if valid && !parent.trace_flags.contains(TraceFlags::SAMPLED) {
        // The parent is not sampled, so neither is this span: a span that
        // is never recorded needs no `on-start`/`on-end`, and the calls
        // made inside see the parent's context, so the trace id and the
        // unsampled decision still propagate.
        return -1;
    }
    let context = if valid {
        SpanContext {
            trace_id: parent.trace_id,
            span_id: hex(&[next_random()]),
            trace_flags: parent.trace_flags,
            is_remote: false,
            trace_state: parent.trace_state,
        }
    } else {
        SpanContext {
            trace_id: hex(&[next_random(), next_random()]),
            span_id: hex(&[next_random()]),
            trace_flags: TraceFlags::SAMPLED,
            is_remote: false,
            trace_state: Vec::new(),
        }
    };
    let parent_span_id = if valid { parent.span_id } else { String::new() };
    let start = wall_clock::now();
    tracing::on_start(&context);
    unsafe {
        OPEN[depth] = Some(Open {
            descriptor,
            context,
            parent_span_id,
            start,
        });
        OPEN_DEPTH = depth + 1;
    }
    depth as i32
}

/// The status a forwarder observed, with its two payload words.
const STATUS_UNSET: u32 = 0;
const STATUS_ERROR: u32 = 1;
const STATUS_ERROR_STRING: u32 = 2;
const STATUS_ERROR_CASE: u32 = 3;
const STATUS_ERROR_UNSIGNED: u32 = 4;
const STATUS_ERROR_SIGNED: u32 = 5;

fn status(descriptor: &Descriptor, code: u32, a: u32, b: u32) -> Status {
    let message = match code {
        STATUS_UNSET => return Status::Unset,
        STATUS_ERROR_STRING => Str {
            ptr: a as *const u8,
            len: b as usize,
        }
        .to_string(),
        STATUS_ERROR_CASE if (a as usize) < descriptor.cases_len => {
            unsafe { *descriptor.cases.add(a as usize) }.to_string()
        }
        STATUS_ERROR_UNSIGNED => alloc::format!("{}", (a as u64) | ((b as u64) << 32)),
        STATUS_ERROR_SIGNED => alloc::format!("{}", ((a as u64) | ((b as u64) << 32)) as i64),
        STATUS_ERROR | _ => String::from("error"),
    };
    Status::Error(message)
}

fn span_kind(kind: u32) -> SpanKind {
    match kind {
        0 => SpanKind::Client,
        1 => SpanKind::Server,
        2 => SpanKind::Producer,
        3 => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

/// Ends the span `handle` names with the status the forwarder observed.
///
/// # Safety
///
/// `handle` comes from [`nebula_span_start`]; string payloads point at
/// valid UTF-8 in this instance's memory.
#[unsafe(no_mangle)]
#[allow(static_mut_refs)]
pub unsafe extern "C" fn nebula_span_end(handle: i32, code: u32, a: u32, b: u32) {
    if handle < 0 {
        return;
    }
    let end_time = wall_clock::now();
    let open = unsafe {
        OPEN_DEPTH = handle as usize;
        OPEN[handle as usize].take()
    };
    let Some(open) = open else { return };
    let descriptor = unsafe { &*open.descriptor };
    let attrs = unsafe { core::slice::from_raw_parts(descriptor.attrs, descriptor.attrs_len) };
    let span = SpanData {
        span_context: open.context,
        parent_span_id: open.parent_span_id,
        span_kind: span_kind(descriptor.kind),
        name: descriptor.name.to_string(),
        start_time: open.start,
        end_time,
        attributes: attrs
            .iter()
            .map(|attr| KeyValue {
                key: attr.key.to_string(),
                value: attr.value.to_string(),
            })
            .collect(),
        events: Vec::new(),
        links: Vec::new(),
        status: status(descriptor, code, a, b),
        instrumentation_scope: InstrumentationScope {
            name: descriptor.scope.to_string(),
            version: Some(descriptor.version.to_string()),
            schema_url: None,
            attributes: Vec::new(),
        },
        dropped_attributes: 0,
        dropped_events: 0,
        dropped_links: 0,
    };
    tracing::on_end(&span);
}
