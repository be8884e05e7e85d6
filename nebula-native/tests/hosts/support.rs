//! Helpers of the host tests: instrumenting fixtures, running `nebula`,
//! reading exported spans, and a small OTLP/HTTP receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
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

/// A `nebula serve` process and its address; its standard error is read
/// by a thread all along (a server logging much never blocks on the pipe).
pub struct Served {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    stderr: Arc<Mutex<String>>,
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    /// Starts `nebula serve COMPONENT --addr 127.0.0.1:0 --trace-file TRACE
    /// --no-tree EXTRA...` and waits for its `listening on` line.
    pub fn start(component: &str, trace: &Path, extra: &[&str]) -> Self {
        let mut args = vec![
            "serve",
            component,
            "--addr",
            "127.0.0.1:0",
            "--trace-file",
            trace.to_str().unwrap(),
            "--no-tree",
        ];
        args.extend(extra);
        let mut child = nebula(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (stderr, drain) = drain_stderr(&mut child);
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("a listening line, got {line:?}: {}", stderr.lock().unwrap()))
            .to_string();
        Self {
            child,
            addr,
            stderr,
            drain: Some(drain),
        }
    }

    /// Starts `wasmtime serve COMPONENT` (the CLI at `wasmtime`) on a free
    /// loopback port and waits until it accepts connections (at most 30 s).
    pub fn wasmtime(wasmtime: &Path, component: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(wasmtime)
            .args(["serve", "-Scli", "--addr", &addr])
            .arg(component)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (stderr, drain) = drain_stderr(&mut child);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "`wasmtime serve` did not listen on {addr}: {}",
                stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            addr,
            stderr,
            drain: Some(drain),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote on standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `GET path` with these extra headers: the status line, the
    /// `content-type` and `x-guest*` headers (sorted), and the body.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> (String, Vec<String>, String) {
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let response = self.raw(&format!(
            "GET {path} HTTP/1.1\r\nhost: {}\r\n{extra}connection: close\r\n\r\n",
            self.addr
        ));
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("a response head for {path}, got {response:?}"));
        let mut lines = head.lines();
        let status = lines.next().unwrap().to_string();
        let mut headers: Vec<String> = lines
            .map(str::to_ascii_lowercase)
            .filter(|h| h.starts_with("content-type") || h.starts_with("x-guest"))
            .collect();
        headers.sort();
        (status, headers, dechunk(body))
    }

    /// Sends `request` on a new connection and reads until the server
    /// closes it (at most 20 s): the raw response, as text.
    pub fn raw(&self, request: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        if let Err(e) = stream.read_to_end(&mut response) {
            // A reset after a partial answer is a closed connection too;
            // a timeout is not.
            assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "no answer within 20 s to {request:?}: got {:?}",
                String::from_utf8_lossy(&response)
            );
        }
        String::from_utf8_lossy(&response).into_owned()
    }

    /// Sends `signal` (`INT`, `TERM`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// Waits for the server to exit: its status and standard error.
    pub fn wait(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
        (status, self.stderr())
    }

    /// Stops the server with SIGINT (it flushes its spans), waits, and
    /// asserts it exited 0; its standard error.
    pub fn stop(self) -> String {
        self.signal("INT");
        let (status, err) = self.wait();
        assert!(status.success(), "{status}: {err}");
        err
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A failed test must not leave its server running.
        if self.drain.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Collects what `child` writes on standard error, on a thread of its own.
fn drain_stderr(child: &mut Child) -> (Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let stderr = Arc::new(Mutex::new(String::new()));
    let (mut pipe, seen) = (child.stderr.take().unwrap(), stderr.clone());
    let drain = std::thread::spawn(move || {
        let mut buf = [0; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            seen.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (stderr, drain)
}

/// The body of a chunked HTTP/1.1 response (or the body itself).
pub fn dechunk(body: &str) -> String {
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

/// What the loopback [`upstream`] records of a request: its request line
/// and its `traceparent` header, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// `GET /path HTTP/1.1`.
    pub line: String,
    /// The `traceparent` header's value.
    pub traceparent: Option<String>,
}

/// A loopback HTTP/1.1 server answering every request with `200` and the
/// body `upstream saw <METHOD> <path>`; it records each request.
pub fn upstream() -> Loopback<UpstreamRequest> {
    Loopback::start(answer)
}

/// The request lines `upstream` recorded.
pub fn request_lines(upstream: &Loopback<UpstreamRequest>) -> Vec<String> {
    upstream.requests().into_iter().map(|r| r.line).collect()
}

/// Reads one request head (the guest's `GET`s have no body) and answers.
fn answer(stream: &TcpStream) -> Option<(UpstreamRequest, String)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut traceparent = None;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("traceparent")
        {
            traceparent = Some(value.trim().to_string());
        }
    }
    let line = line.trim_end().to_string();
    let mut words = line.split_whitespace();
    let body = format!(
        "upstream saw {} {}",
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default()
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    Some((UpstreamRequest { line, traceparent }, response))
}
