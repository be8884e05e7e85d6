//! The proxy base of a proxy that wraps `wasi:http/incoming-handler#handle`
//! (see `nebula-component/src/proxy/trace_context.rs`): the base's entry
//! points (`../base/src/calls.rs`) and
//!
//! - `nebula_span_start_incoming(descriptor, request) -> handle`: reads the
//!   `traceparent` and `tracestate` headers of the incoming request the
//!   forwarder holds and starts the server span with them
//!   (`nebula:spans/spans#start-remote`), so the span continues the
//!   caller's trace on any host;
//! - `nebula_outgoing_headers(fields)`: called with the headers of an
//!   `outgoing-request` the guest is constructing (the import proxy's
//!   `[constructor]outgoing-request`), adds `traceparent` and `tracestate`
//!   naming a span id reserved for the client span, unless the guest set
//!   them itself;
//! - `nebula_span_start_outgoing(descriptor, request) -> handle`: starts
//!   the client span of `wasi:http/outgoing-handler#handle` with the id the
//!   request's `traceparent` names (`nebula:spans/spans#start-client`).
//!
//! Its `wasi:http/types` imports are renamed by the generator to the
//! version the target uses.
#![no_std]

extern crate alloc;

#[path = "../../base/src/calls.rs"]
mod calls;

use alloc::string::String;
use alloc::vec::Vec;
use core::mem::ManuallyDrop;

use nebula_arena::ArenaAlloc;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "nebula:instrument/proxy-base-http",
    generate_all,
});

use nebula::spans::spans;
use wasi::http::types::{Fields, IncomingRequest, OutgoingRequest};

#[global_allocator]
static GLOBAL: ArenaAlloc = ArenaAlloc;

/// Starts the server span of the incoming request `request` (a handle the
/// forwarder owns and passes on afterwards: it is only borrowed here).
#[unsafe(no_mangle)]
pub extern "C" fn nebula_span_start_incoming(descriptor: u32, request: u32) -> i32 {
    // SAFETY: `request` is a live `incoming-request` handle of this
    // instance; `ManuallyDrop` keeps it (the target gets it next).
    let request = ManuallyDrop::new(unsafe { IncomingRequest::from_handle(request) });
    let headers = request.headers();
    let traceparent = first(&headers, "traceparent");
    let tracestate = joined(&headers, "tracestate");
    drop(headers);
    spans::start_remote(descriptor, &traceparent, &tracestate)
}

/// Adds the trace context headers to `fields`, the headers of a request
/// being constructed (owned by the caller: only borrowed here). A header
/// the guest set stays as it is; one the host refuses is left out.
#[unsafe(no_mangle)]
pub extern "C" fn nebula_outgoing_headers(fields: u32) {
    // SAFETY: `fields` is a live `fields` handle of this instance, passed
    // on to the constructor next.
    let fields = ManuallyDrop::new(unsafe { Fields::from_handle(fields) });
    let (traceparent, tracestate) = spans::reserve_traceparent();
    for (name, value) in [("traceparent", traceparent), ("tracestate", tracestate)] {
        if !value.is_empty() && !fields.has(name) {
            let _ = fields.set(name, &[value.into_bytes()]);
        }
    }
}

/// Starts the client span of sending `request` (a handle the forwarder
/// owns and passes on afterwards: it is only borrowed here).
#[unsafe(no_mangle)]
pub extern "C" fn nebula_span_start_outgoing(descriptor: u32, request: u32) -> i32 {
    // SAFETY: `request` is a live `outgoing-request` handle of this
    // instance; `ManuallyDrop` keeps it (the host gets it next).
    let request = ManuallyDrop::new(unsafe { OutgoingRequest::from_handle(request) });
    let headers = request.headers();
    let traceparent = first(&headers, "traceparent");
    drop(headers);
    spans::start_client(descriptor, &traceparent)
}

/// The first value of header `name` (empty when absent or not UTF-8).
fn first(headers: &Fields, name: &str) -> String {
    headers
        .get(name)
        .into_iter()
        .next()
        .and_then(|value| String::from_utf8(value).ok())
        .unwrap_or_default()
}

/// Every value of header `name`, joined with commas (a list-valued header
/// may come split over several lines).
fn joined(headers: &Fields, name: &str) -> String {
    let values: Vec<String> = headers
        .get(name)
        .into_iter()
        .filter_map(|value| String::from_utf8(value).ok())
        .collect();
    values.join(",")
}
