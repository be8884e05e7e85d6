//! `nebula serve` under faults, limits, load and shutdown: every way the
//! `faults` guest fails to answer gets an answer within the limits, the
//! server stays up, and the spans say what happened.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nebula_component::OtelFlavor;
use nebula_native::guests;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::support::*;

/// How a fault's response must look.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// `500 Internal Server Error`.
    ServerError,
    /// The connection closed before a complete response: no head at all, or
    /// a `200` head whose chunked body never got its last chunk.
    Cut,
}

/// A fault of the `faults` guest: its path, the answer, the server span's
/// error status (a part of it) and whether the guest's own `handle` span
/// was left open (then ended by the host as `(unfinished)`).
struct Fault {
    path: &'static str,
    answer: Answer,
    status: &'static str,
    handle_left_open: bool,
}

const FAULTS: &[Fault] = &[
    Fault {
        path: "/trap-before",
        answer: Answer::ServerError,
        status: "trap: wasm `unreachable` instruction executed",
        handle_left_open: true,
    },
    Fault {
        path: "/trap-mid-body",
        answer: Answer::Cut,
        status: "trap: wasm `unreachable` instruction executed",
        handle_left_open: true,
    },
    Fault {
        path: "/drop-outparam",
        answer: Answer::ServerError,
        status: "the component returned without setting the response",
        handle_left_open: false,
    },
    Fault {
        path: "/unfinished-body",
        answer: Answer::Cut,
        status: "the component returned without finishing the response body",
        handle_left_open: false,
    },
    Fault {
        path: "/dropped-body",
        answer: Answer::Cut,
        status: "the component dropped the response body without finishing it",
        handle_left_open: false,
    },
    Fault {
        path: "/loop",
        answer: Answer::ServerError,
        status: "timeout: the request ran longer than 2s",
        handle_left_open: true,
    },
    Fault {
        path: "/alloc",
        answer: Answer::ServerError,
        status: "trap: memory limit: the guest asked for",
        handle_left_open: true,
    },
];

/// `GET path` on a new connection, read until the server closes it.
fn get_raw(served: &Served, path: &str) -> String {
    served.raw(&format!(
        "GET {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        served.addr
    ))
}

/// Whether `response` is complete: a head, and a body that is either not
/// chunked or ends with the last chunk.
fn complete(response: &str) -> bool {
    match response.split_once("\r\n\r\n") {
        Some((head, body)) => {
            !head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked")
                || body.ends_with("0\r\n\r\n")
        }
        None => false,
    }
}

/// Asserts that `/ok` is answered normally.
fn assert_ok(served: &Served) {
    let (status, _, body) = served.get("/ok", &[]);
    assert_eq!(status, "HTTP/1.1 200 OK", "{}", served.stderr());
    assert_eq!(body, "ok /ok");
}

/// The server span of `path` (exactly one).
fn server_span<'a>(spans: &'a [Span], path: &str) -> &'a Span {
    named(spans, &format!("GET {path}"))
}

/// The `http.response.status_code` of `span`.
fn response_code(span: &Span) -> i64 {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    span.attributes
        .iter()
        .find(|kv| kv.key == "http.response.status_code")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::IntValue(n) => *n,
            other => panic!("an integer status code, got {other:?}"),
        })
        .expect("a status code attribute")
}

#[test]
fn serve_answers_every_guest_fault_and_stays_up() {
    let dir = scratch("serve-faults");
    let instrumented = instrument(guests::FAULTS, &dir, OtelFlavor::Inner);
    let limits = ["--request-timeout", "2s", "--max-memory", "32MiB"];
    for (component, instrumented) in [
        (guests::FAULTS, false),
        (instrumented.to_str().unwrap(), true),
    ] {
        let trace = dir.join(format!("trace-{instrumented}.json"));
        let served = Served::start(component, &trace, &limits);
        assert_ok(&served);
        for fault in FAULTS {
            let started = Instant::now();
            let response = get_raw(&served, fault.path);
            let took = started.elapsed();
            match fault.answer {
                Answer::ServerError => assert!(
                    response.starts_with("HTTP/1.1 500 Internal Server Error\r\n")
                        && complete(&response),
                    "{}: {response:?}",
                    fault.path
                ),
                Answer::Cut => {
                    assert!(!complete(&response), "{}: {response:?}", fault.path);
                    assert!(
                        response.is_empty() || response.starts_with("HTTP/1.1 200 OK\r\n"),
                        "{}: {response:?}",
                        fault.path
                    );
                }
            }
            let bound = if fault.path == "/loop" {
                assert!(
                    took >= Duration::from_secs(2),
                    "/loop answered before the timeout"
                );
                Duration::from_secs(6)
            } else {
                Duration::from_secs(3)
            };
            assert!(took < bound, "{} answered after {took:?}", fault.path);
            // The server goes on.
            assert_ok(&served);
        }
        // The head and what was written before the trap were sent.
        let mid = get_raw(&served, "/trap-mid-body");
        assert!(
            mid.starts_with("HTTP/1.1 200 OK\r\n") && mid.contains("partial"),
            "{mid:?}"
        );
        let err = served.stop();
        assert!(
            err.contains("error: GET /trap-before: the component trapped: ")
                && err.contains("wasm backtrace"),
            "{err}"
        );
        for fault in FAULTS {
            assert!(
                err.contains(&format!("error: GET {}: ", fault.path)),
                "a log line for {}: {err}",
                fault.path
            );
        }

        let spans = spans_of_file(&trace);
        for fault in FAULTS.iter().filter(|f| f.path != "/trap-mid-body") {
            let server = server_span(&spans, fault.path);
            let message = status_message(server);
            assert!(
                message.starts_with(fault.status),
                "{}: status {message:?}",
                fault.path
            );
            assert_eq!(server.status.as_ref().unwrap().code, 2, "{}", fault.path);
            let code = response_code(server);
            match fault.answer {
                Answer::ServerError => assert_eq!(code, 500, "{}", fault.path),
                Answer::Cut => assert_eq!(code, 200, "{}", fault.path),
            }
            let children: Vec<&Span> = spans
                .iter()
                .filter(|s| s.parent_span_id == server.span_id)
                .collect();
            if !instrumented {
                assert!(children.is_empty(), "{}", fault.path);
                continue;
            }
            assert_eq!(children.len(), 1, "{}: {:?}", fault.path, names(&spans));
            let handle = children[0];
            assert_eq!(handle.trace_id, server.trace_id);
            if fault.handle_left_open {
                assert_eq!(handle.name, "(unfinished)", "{}", fault.path);
                assert_eq!(status_message(handle), message, "{}", fault.path);
            } else {
                assert_eq!(handle.name, "wasi:http/incoming-handler#handle");
                assert_eq!(status_message(handle), "", "{}", fault.path);
            }
        }
        let mid: Vec<&Span> = spans
            .iter()
            .filter(|s| s.name == "GET /trap-mid-body")
            .collect();
        assert_eq!(mid.len(), 2);
        for span in mid {
            assert!(status_message(span).starts_with("trap: wasm `unreachable`"));
            assert_eq!(response_code(span), 200, "the head had gone out");
        }
        let oks: Vec<&Span> = spans.iter().filter(|s| s.name == "GET /ok").collect();
        assert_eq!(oks.len(), FAULTS.len() + 1);
        assert!(
            oks.iter()
                .all(|s| s.status.as_ref().is_none_or(|s| s.code == 0))
        );
    }
}

/// `POST /echo` with `body`, as `content-length` or as one chunk.
fn post_echo(served: &Served, body: &[u8], chunked: bool) -> String {
    let head = if chunked {
        "transfer-encoding: chunked".to_string()
    } else {
        format!("content-length: {}", body.len())
    };
    let mut request = format!(
        "POST /echo HTTP/1.1\r\nhost: {}\r\n{head}\r\nconnection: close\r\n\r\n",
        served.addr
    )
    .into_bytes();
    if chunked {
        request.extend(format!("{:x}\r\n", body.len()).bytes());
        request.extend(body);
        request.extend(b"\r\n0\r\n\r\n");
    } else {
        request.extend(body);
    }
    served.raw(&String::from_utf8(request).unwrap())
}

#[test]
fn serve_bounds_request_bodies_concurrent_requests_and_memory() {
    let dir = scratch("serve-limits");
    let served = Arc::new(Served::start(
        guests::FAULTS,
        &dir.join("trace.json"),
        &["--max-body-size", "1KiB", "--max-concurrent", "1"],
    ));
    let small = post_echo(&served, &[b'x'; 512], false);
    assert!(small.ends_with("read 512 bytes\r\n0\r\n\r\n"), "{small:?}");
    let large = post_echo(&served, &[b'x'; 2048], false);
    assert!(
        large.starts_with("HTTP/1.1 413 Payload Too Large\r\n")
            && large.contains("--max-body-size"),
        "{large:?}"
    );
    // Without a length the body is cut at the limit: the guest reads no more.
    let chunked = post_echo(&served, &[b'x'; 2048], true);
    let (_, body) = chunked.split_once("\r\n\r\n").unwrap();
    let read: usize = dechunk(body)
        .strip_prefix("read ")
        .and_then(|s| s.strip_suffix(" bytes"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{chunked:?}"));
    assert!(read <= 1024, "the guest read {read} bytes");

    // One guest at a time: two requests of 700 ms take 1.4 s in all.
    let started = Instant::now();
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let served = served.clone();
            std::thread::spawn(move || {
                let answer = served.get("/sleep/700", &[]);
                (answer, started.elapsed())
            })
        })
        .collect();
    let mut times: Vec<Duration> = clients
        .into_iter()
        .map(|c| {
            let ((status, _, body), took) = c.join().unwrap();
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(body, "ok /sleep/700");
            took
        })
        .collect();
    times.sort();
    assert!(
        times[1] >= Duration::from_millis(1400),
        "the second request waited for the first: {times:?}"
    );
    let served = Arc::into_inner(served).unwrap();
    served.stop();

    // A memory limit below the guest's initial memory: instantiation
    // fails, and every request gets a 500 and a log line.
    let trace = dir.join("trace-tiny.json");
    let served = Served::start(guests::FAULTS, &trace, &["--max-memory", "64KiB"]);
    for _ in 0..2 {
        let response = get_raw(&served, "/ok");
        assert!(
            response.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{response:?}"
        );
    }
    let err = served.stop();
    assert!(
        err.contains("error: GET /ok: the component could not be instantiated: "),
        "{err}"
    );
    let spans = spans_of_file(&trace);
    assert_eq!(names(&spans), ["GET /ok", "GET /ok"]);
    for span in &spans {
        assert!(
            status_message(span).starts_with("trap: memory limit: "),
            "{span:?}"
        );
        assert_eq!(response_code(span), 500);
    }
}

/// Reads one HTTP/1.1 response from `reader` (a `content-length` or a
/// chunked body): the status code and the body.
fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<(u16, String)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("a status line, got {line:?}")))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(n) = header.strip_prefix("content-length:") {
            length = n.trim().parse().ok();
        }
        chunked |= header == "transfer-encoding: chunked";
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend(&chunk[..n]);
        }
    } else {
        let mut chunk = vec![0; length.unwrap_or(0)];
        reader.read_exact(&mut chunk)?;
        body = chunk;
    }
    Ok((code, String::from_utf8_lossy(&body).into_owned()))
}

/// The resident set size of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Clients of the load test, its length, and a bound on each client's
/// requests (so the loop ends even on a very fast machine).
const LOAD_CLIENTS: usize = 32;
const LOAD_TIME: Duration = Duration::from_secs(20);
const LOAD_MAX_PER_CLIENT: u64 = 4000;

#[test]
fn serve_under_load_keeps_memory_flat_and_every_trace_complete() {
    let dir = scratch("serve-load");
    let instrumented = instrument(guests::HTTP, &dir, OtelFlavor::Inner);
    let trace = dir.join("trace.json");
    let served = Served::start(instrumented.to_str().unwrap(), &trace, &[]);
    let pid = served.pid();
    let addr = served.addr.clone();

    let started = Instant::now();
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            for second in [5, 20] {
                while started.elapsed() < Duration::from_secs(second)
                    && !done.load(Ordering::Relaxed)
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                samples.push((started.elapsed(), rss_kib(pid)));
            }
            samples
        })
    };
    let clients: Vec<_> = (0..LOAD_CLIENTS)
        .map(|client| {
            let (addr, ok, failed, failures) =
                (addr.clone(), ok.clone(), failed.clone(), failures.clone());
            std::thread::spawn(move || {
                let connect = || -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
                    let stream = TcpStream::connect(&addr)?;
                    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                    stream.set_nodelay(true)?;
                    let reader = BufReader::new(stream.try_clone()?);
                    Ok((stream, reader))
                };
                let mut conn = connect().ok();
                let mut sent = 0;
                while started.elapsed() < LOAD_TIME && sent < LOAD_MAX_PER_CLIENT {
                    let path = format!("/load/{client}/{sent}");
                    sent += 1;
                    let result = (|| {
                        let (stream, reader) = match &mut conn {
                            Some(c) => c,
                            None => conn.insert(connect()?),
                        };
                        write!(stream, "GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n")?;
                        read_response(reader)
                    })();
                    match result {
                        Ok((200, body)) if body == format!("hello GET {path}") => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            failures.lock().unwrap().push(format!("{path}: {other:?}"));
                            conn = None;
                        }
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let err = served.stop();

    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!(
        "load: {ok} requests in {elapsed:.1?} ({:.0}/s), RSS {samples:?}",
        ok as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(failed, 0, "{:?}", &failures.lock().unwrap()[..]);
    assert!(ok > 0);
    assert!(!err.contains("spans dropped"), "{err}");
    assert!(!err.contains("error:"), "{err}");
    if elapsed >= LOAD_TIME {
        let [(_, at5), (_, at20)] = samples[..] else {
            panic!("two samples: {samples:?}")
        };
        assert!(
            at20 * 10 <= at5 * 11,
            "RSS grew more than 10 % between the 5th and the 20th second: {samples:?}"
        );
    }

    // Every request: one server span with the guest's `handle` span under
    // it, in the same trace.
    let spans = spans_of_file(&trace);
    assert_eq!(spans.len() as u64, 2 * ok, "two spans per request");
    let mut servers = std::collections::HashMap::new();
    for span in spans.iter().filter(|s| s.name.starts_with("GET /load/")) {
        assert!(servers.insert(span.span_id.clone(), span).is_none());
    }
    assert_eq!(servers.len() as u64, ok);
    for handle in spans
        .iter()
        .filter(|s| s.name == "wasi:http/incoming-handler#handle")
    {
        let server = servers
            .remove(&handle.parent_span_id)
            .expect("a handle span under a server span");
        assert_eq!(handle.trace_id, server.trace_id);
    }
    assert!(servers.is_empty(), "server spans without their handle span");
}

#[test]
fn serve_shuts_down_gracefully_finishing_requests_in_flight() {
    let dir = scratch("serve-shutdown");
    let trace = dir.join("trace.json");
    let served = Arc::new(Served::start(guests::FAULTS, &trace, &[]));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let served = served.clone();
            std::thread::spawn(move || served.get("/sleep/1500", &[]))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let signalled = Instant::now();
    served.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect(&served.addr).is_err(),
        "no new connections after SIGTERM"
    );
    for client in clients {
        let (status, _, body) = client.join().unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, "ok /sleep/1500");
    }
    let (status, err) = Arc::into_inner(served).unwrap().wait();
    assert!(status.success(), "{status}: {err}");
    assert!(signalled.elapsed() < Duration::from_secs(5));
    let spans = spans_of_file(&trace);
    assert_eq!(names(&spans), ["GET /sleep/1500", "GET /sleep/1500"]);
    assert!(spans.iter().all(|s| response_code(s) == 200));
}

#[test]
fn serve_stops_guests_still_running_at_the_shutdown_deadline() {
    let dir = scratch("serve-shutdown-deadline");
    let trace = dir.join("trace.json");
    let served = Arc::new(Served::start(
        guests::FAULTS,
        &trace,
        &["--shutdown-timeout", "1s"],
    ));
    let client = {
        let served = served.clone();
        std::thread::spawn(move || get_raw(&served, "/loop"))
    };
    std::thread::sleep(Duration::from_millis(400));
    let signalled = Instant::now();
    served.signal("TERM");
    let response = client.join().unwrap();
    assert!(
        response.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{response:?}"
    );
    let (status, err) = Arc::into_inner(served).unwrap().wait();
    let took = signalled.elapsed();
    assert!(status.success(), "{status}: {err}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(err.contains("error: GET /loop: shutdown: "), "{err}");
    let spans = spans_of_file(&trace);
    let span = named(&spans, "GET /loop");
    assert!(status_message(span).starts_with("shutdown: "), "{span:?}");
}
