//! The `faults` guest: a `wasi:http/incoming-handler` whose behaviour is
//! chosen by the request path, for the `nebula serve` fault tests.
//!
//! | path | what the guest does |
//! | --- | --- |
//! | `/trap-before` | panics (a trap) before setting the response |
//! | `/trap-mid-body` | sets `200`, writes `partial` and flushes, waits 200 ms, then panics |
//! | `/drop-outparam` | drops the response outparam without setting it, returns |
//! | `/unfinished-body` | sets `200`, writes `partial`, returns with the body still open (never finished nor dropped) |
//! | `/dropped-body` | sets `200`, writes `partial`, drops the body without finishing it |
//! | `/loop` | loops forever without yielding |
//! | `/alloc` | allocates (and touches) 1 MiB after 1 MiB without bound |
//! | `/sleep/<ms>` | waits `<ms>` milliseconds on the monotonic clock, then answers like `/ok` |
//! | `/echo` | answers with the request body's length: `read <n> bytes` |
//! | anything else | `200`, `content-type: text/plain`, body `ok <path>` |

use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

struct Handler;

impl wasip2::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        match path.as_str() {
            "/trap-before" => panic!("the faults guest traps before setting the response"),
            "/trap-mid-body" => {
                let body = start(out, 200);
                write(&body, b"partial");
                sleep_ms(200);
                panic!("the faults guest traps in the middle of the body");
            }
            "/drop-outparam" => drop(out),
            "/unfinished-body" => {
                let body = start(out, 200);
                write(&body, b"partial");
                // Still owned by the instance when `handle` returns.
                std::mem::forget(body);
            }
            "/dropped-body" => {
                let body = start(out, 200);
                write(&body, b"partial");
                drop(body);
            }
            "/loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/alloc" => {
                let mut held = Vec::new();
                loop {
                    held.push(std::hint::black_box(vec![1u8; 1 << 20]));
                }
            }
            "/echo" => {
                let n = read_body(request);
                answer(out, &format!("read {n} bytes"));
            }
            other => {
                if let Some(ms) = other.strip_prefix("/sleep/") {
                    sleep_ms(ms.parse().unwrap_or(0));
                }
                answer(out, &format!("ok {other}"));
            }
        }
    }
}

/// Sets a `status` response with a `text/plain` body and returns the body.
fn start(out: ResponseOutparam, status: u16) -> OutgoingBody {
    let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())])
        .expect("valid headers");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let body = response.body().expect("the body, once");
    ResponseOutparam::set(out, Ok(response));
    body
}

/// Writes `bytes` to `body` and flushes.
fn write(body: &OutgoingBody, bytes: &[u8]) {
    let stream = body.write().expect("the stream, once");
    stream
        .blocking_write_and_flush(bytes)
        .expect("writing the body");
}

/// A complete `200` answer with `text`.
fn answer(out: ResponseOutparam, text: &str) {
    let body = start(out, 200);
    write(&body, text.as_bytes());
    OutgoingBody::finish(body, None).expect("finishing the body");
}

/// Waits `ms` milliseconds.
fn sleep_ms(ms: u64) {
    wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
}

/// Reads the request body to its end; its length (stops at a read error).
fn read_body(request: IncomingRequest) -> usize {
    let body = request.consume().expect("the body, once");
    let mut n = 0;
    {
        let stream = body.stream().expect("the stream, once");
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => n += chunk.len(),
                Err(StreamError::Closed | StreamError::LastOperationFailed(_)) => break,
            }
        }
    }
    let _trailers = IncomingBody::finish(body);
    n
}

wasip2::http::proxy::export!(Handler);
