//! The span runtime: one instance per instrumented output, shared by all
//! its proxies (so an output carries one copy of this code however many
//! inner components it wraps).
//!
//! Proxies reach it through `nebula:spans/spans` (see `wit/deps/spans/`):
//!
//! - `start(descriptor) -> handle`: takes the parent from its own stack of
//!   open spans, and asks the host (`inner-span-context`, or the flavor's
//!   query: `outer-span-context`, `current-span-context`) only when the
//!   stack is empty, at the root of each top-level call (or always, when the
//!   output has a component making spans of its own through a `wasi:otel`
//!   this runtime cannot serve, so only the host sees them: the descriptor
//!   says so). It makes the new
//!   span context (parent's trace id, or a fresh one when the parent is
//!   invalid; a fresh span id; the parent's flags and trace-state), records
//!   the start time and calls `on-start`. Under a valid parent that is not
//!   sampled it makes no span, but keeps an entry on the stack, so calls
//!   nested in it make no host call at all (and no entry: they get -1);
//! - `end(handle, code, a, b, message)`: pops the entry; for a span, records
//!   the end time, builds the `span-data` and calls `on-end`. Only spans
//!   whose `on-start` was called are ever ended (Spin traps otherwise), and
//!   in the reverse order of their starts.
//!
//! Components of the output that import `wasi:otel/tracing` themselves (a
//! hand-instrumented target, an inner component of a composition) are
//! served by this runtime too ([`served`]): their spans go on the same
//! stack, so every span of the output nests under the innermost open one,
//! on every host, whatever its context query answers.
//!
//! The generator appends the descriptors of every wrapped function of the
//! output to this module's memory; `descriptor` is an address there.
//!
//! Memory: one bump arena (also the global allocator and `cabi_realloc`).
//! Calls across components nest, so open spans form a stack, and so do
//! their allocations: ending a span frees everything allocated since the
//! enclosing span started, and the memory stays flat however long a call
//! runs. At most [`MAX_OPEN`] spans are open at once; beyond that calls are
//! forwarded without spans.
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
use core::mem::MaybeUninit;

use nebula_arena::ArenaAlloc;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "nebula:instrument/span-runtime",
    generate_all,
});

use exports::nebula::spans::spans::Guest;
use wasi::clocks::wall_clock::{self, Datetime};
use wasi::otel::tracing::{self, SpanContext, SpanData, SpanKind, Status, TraceFlags};
use wasi::otel::types::{InstrumentationScope, KeyValue};

/// How many spans may be open at once (across all proxies of the output).
const MAX_OPEN: usize = 64;

#[global_allocator]
static GLOBAL: ArenaAlloc = ArenaAlloc;

// ---------------------------------------------------------------------------
// Descriptors written by the generator.

#[repr(C)]
#[derive(Clone, Copy)]
struct Str {
    ptr: *const u8,
    len: usize,
}

impl Str {
    /// The descriptor's string as a `String` without copying it: a span's
    /// name, scope and attributes are lowered straight from the descriptor.
    fn to_string(self) -> String {
        // SAFETY: the generator writes UTF-8 that lives as long as the
        // module; the `String` is only read, and dropping it frees nothing
        // (the arena's `dealloc` does nothing; growing it would copy).
        unsafe { String::from_raw_parts(self.ptr as *mut u8, self.len, self.len) }
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

/// Whether two strings are equal, byte by byte (`==` would call `memcmp`,
/// which no host provides).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

fn is_valid_context(context: &SpanContext) -> bool {
    is_valid_id(&context.trace_id) && is_valid_id(&context.span_id)
}

// ---------------------------------------------------------------------------
// Open spans.

/// What an open entry stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A span of a wrapped call, with the function's descriptor.
    Span(*const Descriptor),
    /// A wrapped call under an unsampled parent: no span.
    Unsampled,
    /// A span a component of the output started itself through the served
    /// `wasi:otel` (see [`served`]); `true` once it ended under open
    /// entries (it is popped with the last of them).
    Foreign(bool),
}

struct Open {
    entry: Entry,
    /// The span's context, or the unsampled parent's for no span.
    context: SpanContext,
    parent_span_id: String,
    start: Datetime,
    /// The arena's mark once this span's own data is allocated: what a
    /// span nested in it may free down to.
    top: usize,
}

/// The open spans: the first `OPEN_DEPTH` slots. (Uninitialised slots
/// rather than `Option`s keep this out of the data segment.)
static mut OPEN: [MaybeUninit<Open>; MAX_OPEN] = [const { MaybeUninit::uninit() }; MAX_OPEN];
static mut OPEN_DEPTH: usize = 0;

/// The start time of an entry that is no span.
const NO_TIME: Datetime = Datetime {
    seconds: 0,
    nanoseconds: 0,
};

/// Frees everything allocated since the innermost open span (below
/// `depth`) started: the data of spans that ended, strings lowered for
/// calls that made no span.
///
/// # Safety
///
/// The spans below `depth` are open.
#[allow(static_mut_refs)]
unsafe fn release_above(depth: usize) {
    unsafe {
        match depth.checked_sub(1) {
            Some(enclosing) => nebula_arena::release_to(OPEN[enclosing].assume_init_ref().top),
            None => nebula_arena::reset(),
        }
    }
}

/// How many entries are open.
fn depth() -> usize {
    unsafe { OPEN_DEPTH }
}

/// The innermost open entry.
#[allow(static_mut_refs)]
fn top() -> Option<&'static Open> {
    let depth = depth();
    (depth > 0).then(|| unsafe { OPEN[depth - 1].assume_init_ref() })
}

/// Pushes an entry (there is room: `depth() < MAX_OPEN`), its `top` mark
/// taken now, so its own data (allocated before) outlives what nested
/// spans allocate; returns its handle.
#[allow(static_mut_refs)]
fn push(entry: Entry, context: SpanContext, parent_span_id: String, start: Datetime) -> i32 {
    let depth = depth();
    unsafe {
        OPEN[depth].write(Open {
            entry,
            context,
            parent_span_id,
            start,
            top: nebula_arena::mark(),
        });
        OPEN_DEPTH = depth + 1;
    }
    depth as i32
}

/// Takes entry `handle` off the stack with everything above it: spans a
/// component started through the served `wasi:otel` and left open are
/// remembered (their `on-end` still goes to the host when it comes), and
/// entries below that already ended go too.
///
/// # Safety
///
/// `handle < depth()`.
#[allow(static_mut_refs)]
unsafe fn pop_to(handle: usize) -> Open {
    unsafe {
        for above in handle + 1..OPEN_DEPTH {
            let open = OPEN[above].assume_init_ref();
            if open.entry == Entry::Foreign(false) {
                served::left_open(&open.context.span_id);
            }
        }
        OPEN_DEPTH = handle;
        let open = OPEN[handle].assume_init_read();
        while let Some(below) = top() {
            if below.entry != Entry::Foreign(true) {
                break;
            }
            OPEN_DEPTH -= 1;
        }
        open
    }
}

/// The host's answer to "what is the current span": the flavor's context
/// query (the prebuilt module calls `inner-span-context`; the generator
/// renames it to `outer-span-context` or `current-span-context`).
fn host_span_context() -> SpanContext {
    tracing::inner_span_context()
}

/// The status a forwarder observed, with its two payload words.
const STATUS_UNSET: u32 = 0;
const STATUS_ERROR: u32 = 1;
const STATUS_ERROR_STRING: u32 = 2;
const STATUS_ERROR_CASE: u32 = 3;
const STATUS_ERROR_UNSIGNED: u32 = 4;
const STATUS_ERROR_SIGNED: u32 = 5;

fn status(descriptor: &Descriptor, code: u32, a: u32, b: u32, message: String) -> Status {
    let message = match code {
        STATUS_UNSET => return Status::Unset,
        STATUS_ERROR_STRING => message,
        STATUS_ERROR_CASE if (a as usize) < descriptor.cases_len => {
            unsafe { *descriptor.cases.add(a as usize) }.to_string()
        }
        STATUS_ERROR_UNSIGNED => decimal((a as u64) | ((b as u64) << 32), false),
        STATUS_ERROR_SIGNED => {
            let value = ((a as u64) | ((b as u64) << 32)) as i64;
            decimal(value.unsigned_abs(), value < 0)
        }
        STATUS_ERROR | _ => String::from("error"),
    };
    Status::Error(message)
}

/// `value` in decimal, with a minus sign when `negative` (`core::fmt`
/// would double the runtime's size).
fn decimal(mut value: u64, negative: bool) -> String {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(21);
    if negative {
        out.push('-');
    }
    out.extend(digits[i..].iter().map(|&d| d as char));
    out
}

/// The flag on a descriptor's `kind`: ask the host for the parent even with
/// spans open (see `ASK_HOST_FOR_PARENT` in `proxy/descriptor.rs`).
const ASK_HOST_FOR_PARENT: u32 = 0x100;

fn span_kind(kind: u32) -> SpanKind {
    match kind & 0xff {
        0 => SpanKind::Client,
        1 => SpanKind::Server,
        2 => SpanKind::Producer,
        3 => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

struct Runtime;

impl Guest for Runtime {
    /// Starts a span for the function `descriptor` describes; returns the
    /// handle to pass to `end` (also for the outermost call that makes no
    /// span under an unsampled parent); -1 for the calls nested in that
    /// one, and when too many spans are open.
    fn start(descriptor: u32) -> i32 {
        start_under(descriptor, || None, None)
    }

    /// `start`, with the call's own W3C trace context as the remote parent
    /// where `start` would begin a new trace.
    fn start_remote(descriptor: u32, traceparent: String, tracestate: String) -> i32 {
        start_under(
            descriptor,
            || trace_context::parse(&traceparent, &tracestate),
            None,
        )
    }

    /// The header values naming a span id reserved for the next client
    /// span (see `trace_context::reserve`).
    fn reserve_traceparent() -> (String, String) {
        trace_context::reserve()
    }

    /// `start`, taking the span id the request's `traceparent` names when
    /// it was reserved.
    fn start_client(descriptor: u32, traceparent: String) -> i32 {
        start_under(
            descriptor,
            || None,
            trace_context::take_reserved(&traceparent),
        )
    }

    /// Ends the span `handle` names with the status the forwarder observed.
    fn end(handle: i32, code: u32, a: u32, b: u32, message: String) {
        if handle < 0 || handle as usize >= depth() {
            return;
        }
        // Entries above `handle` (only spans a component left open, as
        // calls nest) are taken off with it.
        let open = unsafe { pop_to(handle as usize) };
        if let Entry::Span(descriptor) = open.entry {
            let end_time = wall_clock::now();
            let descriptor = unsafe { &*descriptor };
            let attrs =
                unsafe { core::slice::from_raw_parts(descriptor.attrs, descriptor.attrs_len) };
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
                status: status(descriptor, code, a, b, message),
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
        // No span (unsampled parent), or a foreign entry: nothing to end.
        unsafe { release_above(depth()) };
    }
}

/// The parent of a span starting now: the innermost open entry's context,
/// or the host's at the root (or when `ask_host`), or there `remote` when
/// the host's is invalid; `None` nested under an unsampled entry.
fn parent_now(ask_host: bool, remote: impl FnOnce() -> Option<SpanContext>) -> Option<SpanContext> {
    match top() {
        Some(top) if top.entry == Entry::Unsampled && !ask_host => None,
        Some(top) if !ask_host => Some(top.context.clone()),
        _ => {
            let host = host_span_context();
            Some(match top() {
                None if !is_valid_context(&host) => remote().unwrap_or(host),
                _ => host,
            })
        }
    }
}

/// Starts a span for the function `descriptor` describes (see
/// [`Guest::start`]); `remote` is the call's own trace context, the parent
/// when the stack is empty and the host's context is invalid; `reserved`,
/// the (trace id, span id) `reserve-traceparent` handed out for it.
#[allow(static_mut_refs)]
fn start_under(
    descriptor: u32,
    remote: impl FnOnce() -> Option<SpanContext>,
    reserved: Option<(String, String)>,
) -> i32 {
    let depth = depth();
    if depth >= MAX_OPEN {
        return -1;
    }
    let kind = unsafe { (*(descriptor as *const Descriptor)).kind };
    let ask_host = kind & ASK_HOST_FOR_PARENT != 0;
    let Some(parent) = parent_now(ask_host, remote) else {
        // Nested in a call under an unsampled parent: no span, no host
        // call, no entry (the one below keeps the context for the calls
        // inside), and no `end` call (the proxy skips it for -1).
        return -1;
    };
    let valid = is_valid_context(&parent);
    if valid && !parent.trace_flags.contains(TraceFlags::SAMPLED) {
        // The parent is not sampled, so neither is this span: a span
        // that is never recorded needs no `on-start`/`on-end`. The
        // entry keeps the parent's context for the calls made inside,
        // so the trace id and the unsampled decision still propagate
        // without asking the host again.
        return push(Entry::Unsampled, parent, String::new(), NO_TIME);
    }
    // A span id `reserve-traceparent` handed out for this span (in the
    // trace it starts in) is its id.
    let (reserved_trace, span_id) = match reserved {
        Some((trace, span)) if !valid || same(&trace, &parent.trace_id) => (Some(trace), span),
        _ => (None, hex(&[next_random()])),
    };
    let context = if valid {
        SpanContext {
            trace_id: parent.trace_id,
            span_id,
            trace_flags: parent.trace_flags,
            is_remote: false,
            trace_state: parent.trace_state,
        }
    } else {
        SpanContext {
            trace_id: reserved_trace.unwrap_or_else(|| hex(&[next_random(), next_random()])),
            span_id,
            trace_flags: TraceFlags::SAMPLED,
            is_remote: false,
            trace_state: Vec::new(),
        }
    };
    let parent_span_id = if valid { parent.span_id } else { String::new() };
    let start = wall_clock::now();
    tracing::on_start(&context);
    push(
        Entry::Span(descriptor as *const Descriptor),
        context,
        parent_span_id,
        start,
    )
}

mod served;
mod trace_context;

export!(Runtime);
