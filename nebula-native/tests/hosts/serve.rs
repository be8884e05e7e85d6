//! `nebula serve`: real HTTP over loopback, plain and instrumented, with
//! and without a `traceparent`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use nebula_component::OtelFlavor;
use nebula_native::guests;

use crate::support::*;

/// A `nebula serve` process and its address.
struct Served {
    child: Child,
    addr: String,
}

impl Served {
    fn start(component: &str, trace: &std::path::Path) -> Self {
        let mut child = nebula(&[
            "serve",
            component,
            "--addr",
            "127.0.0.1:0",
            "--trace-file",
            trace.to_str().unwrap(),
            "--no-tree",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("a listening line, got {line:?}"))
            .to_string();
        Self { child, addr }
    }

    /// Status line, the `content-type` and `x-guest` headers, and the body.
    fn get(&self, path: &str, traceparent: Option<&str>) -> (String, Vec<String>, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let extra = traceparent.map_or(String::new(), |tp| format!("traceparent: {tp}\r\n"));
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: {}\r\n{extra}connection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().to_string();
        let mut headers: Vec<String> = lines
            .map(str::to_ascii_lowercase)
            .filter(|h| h.starts_with("content-type") || h.starts_with("x-guest"))
            .collect();
        headers.sort();
        (status, headers, dechunk(body))
    }

    /// Stops the server with SIGINT (it flushes its spans) and waits.
    fn stop(mut self) -> String {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        assert!(status.success(), "{status}: {err}");
        err
    }
}

/// The body of a chunked HTTP/1.1 response (or the body itself).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

#[test]
fn serve_answers_like_the_plain_component_and_parents_spans() {
    let dir = scratch("serve");
    let instrumented = instrument(guests::HTTP, &dir, OtelFlavor::Inner);
    let (plain_trace, traced_trace) = (dir.join("plain.json"), dir.join("traced.json"));
    let plain = Served::start(guests::HTTP, &plain_trace);
    let traced = Served::start(instrumented.to_str().unwrap(), &traced_trace);

    let (trace_id, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let tp = format!("00-{trace_id}-{parent}-01");
    for (path, tp) in [("/a?q=1", None), ("/b", Some(tp.as_str()))] {
        let expected = plain.get(path, tp);
        assert_eq!(expected.0, "HTTP/1.1 200 OK");
        assert_eq!(expected.2, format!("hello GET {path}"));
        assert_eq!(traced.get(path, tp), expected, "{path}");
    }
    plain.stop();
    traced.stop();

    // Plain: only the host's server spans.
    let spans = spans_of_file(&plain_trace);
    assert_eq!(names(&spans), ["GET /a", "GET /b"]);

    // Instrumented: the guest's span under each server span.
    let spans = spans_of_file(&traced_trace);
    assert_eq!(spans.len(), 4, "{:?}", names(&spans));
    let a = named(&spans, "GET /a");
    let b = named(&spans, "GET /b");
    assert!(
        a.parent_span_id.is_empty(),
        "a new trace without traceparent"
    );
    assert_ne!(hex(&a.trace_id), trace_id);
    assert_eq!(hex(&b.trace_id), trace_id);
    assert_eq!(hex(&b.parent_span_id), parent);
    assert_eq!(a.kind, 2);
    let handles: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "wasi:http/incoming-handler#handle")
        .collect();
    assert_eq!(handles.len(), 2);
    for server in [a, b] {
        assert!(
            handles
                .iter()
                .any(|h| h.parent_span_id == server.span_id && h.trace_id == server.trace_id),
            "a handle span under {}",
            server.name
        );
    }
}
