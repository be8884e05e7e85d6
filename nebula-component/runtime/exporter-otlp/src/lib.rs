//! `--export-to otlp:URL`: the in-guest exporter sending each batch (the
//! spans of one top-level call, e.g. one incoming HTTP request) as one
//! OTLP/HTTP protobuf request through `wasi:http/outgoing-handler`. A
//! collector that is down, slow to refuse or answering an error never
//! fails the guest's own call: the batch is dropped.
#![no_std]

extern crate alloc;

use alloc::string::ToString;
use alloc::vec;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "nebula:instrument/http-sink",
    generate_all,
});

use nebula_exporter::{Config, Sink};
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

/// Where OTLP/HTTP collectors take traces, when the URL names no path.
const TRACES_PATH: &str = "/v1/traces";

/// Sends to the collector at the configured URL.
struct Collector;

impl Sink for Collector {
    fn write(&mut self, config: &Config, bytes: &[u8]) {
        let _ = send(config.target, bytes);
    }
}

/// `url` split into scheme, authority and path (`http://host:port/path`).
fn split(url: &str) -> Option<(Scheme, &str, &str)> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else {
        return None;
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let path = if path.is_empty() || path == "/" {
        TRACES_PATH
    } else {
        path
    };
    Some((scheme, authority, path))
}

/// Posts `body` to `url`; `None` on any failure.
fn send(url: &str, body: &[u8]) -> Option<()> {
    let (scheme, authority, path) = split(url)?;
    let headers = Fields::from_list(&[
        ("content-type".into(), b"application/x-protobuf".to_vec()),
        ("content-length".into(), body.len().to_string().into_bytes()),
    ])
    .ok()?;
    let request = OutgoingRequest::new(headers);
    request.set_method(&Method::Post).ok()?;
    request.set_scheme(Some(&scheme)).ok()?;
    request.set_authority(Some(authority)).ok()?;
    request.set_path_with_query(Some(path)).ok()?;
    let outgoing = request.body().ok()?;
    let response = outgoing_handler::handle(request, None).ok()?;
    {
        let stream = outgoing.write().ok()?;
        // `blocking-write-and-flush` takes at most 4096 bytes a call.
        for chunk in body.chunks(4096) {
            stream.blocking_write_and_flush(chunk).ok()?;
        }
    }
    OutgoingBody::finish(outgoing, None).ok()?;
    let pollables = vec![response.subscribe()];
    loop {
        if let Some(result) = response.get() {
            // The response itself (and its body) is dropped unread.
            return result.ok()?.ok().map(drop);
        }
        wasi::io::poll::poll(&[&pollables[0]]);
    }
}

nebula_exporter::export_to!(Collector);
