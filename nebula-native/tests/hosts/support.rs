//! Helpers of the host tests: instrumenting fixtures, running `nebula`,
//! reading exported spans, and a small OTLP/HTTP receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use nebula_component::{Options, OtelFlavor};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

/// A fresh scratch directory under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hosts-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Instruments the component at `path` into `dir`; the output's path.
pub fn instrument(path: &str, dir: &Path, flavor: OtelFlavor) -> PathBuf {
    let bytes = std::fs::read(path).unwrap();
    let options = Options {
        flavor,
        ..Options::default()
    };
    let out = nebula_component::instrument(&bytes, &options).expect("instruments");
    let stem = Path::new(path).file_stem().unwrap().to_string_lossy();
    let file = dir.join(format!("{stem}.instrumented.wasm"));
    std::fs::write(&file, out.component).unwrap();
    file
}

/// `nebula` with these arguments, no OTel variables inherited.
pub fn nebula(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nebula"));
    cmd.args(args);
    for var in [
        "TRACEPARENT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SERVICE_NAME",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `nebula` to completion.
pub fn run(args: &[&str]) -> Output {
    nebula(args).output().expect("nebula runs")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The spans of an OTLP JSON trace file, in file order.
pub fn spans_of_file(path: &Path) -> Vec<Span> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|line| {
            let request: ExportTraceServiceRequest =
                serde_json::from_str(line).expect("a line of OTLP JSON");
            spans_of(&request)
        })
        .collect()
}

/// The spans of one request.
pub fn spans_of(request: &ExportTraceServiceRequest) -> Vec<Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| s.spans.clone())
        .collect()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The span named `name` (exactly one).
pub fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one span `{name}` in {:?}", names(spans));
    found[0]
}

/// The names of `spans`.
pub fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}

/// The status message of `span` ("" when unset).
pub fn status_message(span: &Span) -> &str {
    span.status.as_ref().map_or("", |s| s.message.as_str())
}

/// A loopback HTTP/1.1 server on its own thread (it lives until the test
/// ends): `handle` reads one request per connection and says what to
/// record of it and the response to send. The request is recorded before
/// the response goes out, so a client that has its answer finds its
/// request recorded.
pub struct Loopback<T> {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<Mutex<Vec<T>>>,
}

impl<T: Clone + Send + 'static> Loopback<T> {
    /// Starts the server thread.
    pub fn start(handle: fn(&TcpStream) -> Option<(T, String)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                if let Some((request, response)) = handle(&stream) {
                    seen.lock().unwrap().push(request);
                    let _ = stream.write_all(response.as_bytes());
                }
            }
        });
        Self { url, requests }
    }

    /// What was recorded of every request so far.
    pub fn requests(&self) -> Vec<T> {
        self.requests.lock().unwrap().clone()
    }
}

/// An OTLP/HTTP receiver: records (path, content-type, request) of every
/// POST, its body decoded as an `ExportTraceServiceRequest` (protobuf).
pub fn otlp_receiver() -> Loopback<(String, String, ExportTraceServiceRequest)> {
    Loopback::start(receive)
}

/// Reads one HTTP/1.1 request from `stream`; the answer is 200.
fn receive(stream: &TcpStream) -> Option<((String, String, ExportTraceServiceRequest), String)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let (mut length, mut content_type) = (0, String::new());
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "content-type" => content_type = value.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    Some(((path, content_type, request), ok.to_string()))
}

/// The span tree printed on stderr with trace ids and durations replaced,
/// for snapshots.
pub fn normalize_tree(stderr: &str) -> String {
    stderr
        .lines()
        .map(|line| {
            if let Some(id) = line.strip_prefix("trace ") {
                return format!("trace <{} hex digits>", id.len());
            }
            strip_durations(line)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `line` without its ` (<number> <unit>)` durations.
fn strip_durations(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(" (") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end)
                if after.starts_with(|c: char| c.is_ascii_digit())
                    && [" ns", " µs", " ms", " s"]
                        .iter()
                        .any(|u| after[..end].ends_with(u)) =>
            {
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(" (");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
