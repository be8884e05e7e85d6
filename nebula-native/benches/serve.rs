//! `cargo bench -p nebula-native --bench serve`: `nebula serve` under load
//! over loopback, plain and instrumented, side by side in one run.
//!
//! The server runs in this process ([`nebula_native::serve::serve`] on a
//! multi-threaded tokio runtime, default limits) with its spans sampled
//! and written to an OTLP JSON trace file in the temporary directory, as
//! `nebula serve --trace-file` does. [`CLIENTS`] client threads, each on
//! its own keep-alive connection, send `GET /bench/<client>/<n>` to the
//! `http` guest (plain, then instrumented by Nebula: one more span per
//! request) for [`DURATION`] after a [`WARMUP`]; every answer is checked.
//! Printed: requests, throughput, p50 / p99 latency, failed requests.
//!
//! Engine: wasmtime 48, `Config::concurrency_support(false)`, epoch
//! interruption on (as `nebula serve` runs it). Clients and server share
//! the machine's cores: the figures are for comparing the two cases, not
//! absolute capacity.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nebula_component::Options;
use nebula_native::export::{ExportConfig, Exporter, Resource};
use nebula_native::guests;
use nebula_native::host::state::OutgoingHttp;
use nebula_native::serve::{self, ServeLimits, ServeOptions};

/// Concurrent clients.
const CLIENTS: usize = 32;
/// Timed load per case.
const DURATION: Duration = Duration::from_secs(8);
/// Untimed load before it (instances warm, connections open).
const WARMUP: Duration = Duration::from_secs(1);

/// What one case measured.
struct Figures {
    requests: usize,
    failed: usize,
    elapsed: Duration,
    /// Sorted latencies of the timed requests.
    latencies: Vec<Duration>,
    spans: u64,
    dropped: u64,
}

impl Figures {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let at = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[at]
    }

    fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Serves `component` in this process and loads it.
fn measure(component: &std::path::Path, trace: &std::path::Path) -> anyhow::Result<Figures> {
    let exporter = Exporter::start(ExportConfig {
        tree: None,
        warnings: Box::new(std::io::stderr()),
        trace_file: Some(std::fs::File::create(trace)?),
        collector: None,
        queue_capacity: nebula_native::export::DEFAULT_QUEUE_CAPACITY,
        resource: Resource {
            service_name: "bench".into(),
        },
    });
    let options = ServeOptions {
        component: component.to_path_buf(),
        addr: "127.0.0.1:0".parse()?,
        env: Vec::new(),
        outgoing_http: OutgoingHttp::Deny,
        limits: ServeLimits::default(),
        sampler: Default::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (ready, addr) = std::sync::mpsc::channel::<SocketAddr>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sink = exporter.sink();
    let server = runtime.spawn(async move {
        serve::serve(
            &options,
            sink,
            move |addr| {
                let _ = ready.send(addr);
            },
            async move {
                let _ = stopped.await;
            },
        )
        .await
    });
    let addr = addr.recv_timeout(Duration::from_secs(60))?;

    let started = Instant::now();
    let timed_from = started + WARMUP;
    let until = timed_from + DURATION;
    let results = Arc::new(Mutex::new((Vec::new(), 0usize)));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let results = results.clone();
            std::thread::spawn(move || {
                let (mut latencies, mut failed) = (Vec::new(), 0);
                let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
                let mut n = 0u64;
                while Instant::now() < until {
                    let path = format!("/bench/{client}/{n}");
                    n += 1;
                    let sent = Instant::now();
                    let result = (|| {
                        if conn.is_none() {
                            let stream = TcpStream::connect(addr)?;
                            stream.set_nodelay(true)?;
                            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                            let reader = BufReader::new(stream.try_clone()?);
                            conn = Some((stream, reader));
                        }
                        let (stream, reader) = conn.as_mut().expect("connected");
                        write!(stream, "GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n")?;
                        read_response(reader)
                    })();
                    let took = sent.elapsed();
                    let good =
                        matches!(&result, Ok((200, body)) if *body == format!("hello GET {path}"));
                    if !good {
                        conn = None;
                    }
                    if sent >= timed_from {
                        if good {
                            latencies.push(took);
                        } else {
                            failed += 1;
                        }
                    }
                }
                let mut all = results.lock().expect("results");
                all.0.extend(latencies);
                all.1 += failed;
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client thread");
    }
    let elapsed = timed_from.elapsed();
    let _ = stop.send(());
    runtime.block_on(server)??;
    drop(runtime);
    let summary = exporter.finish();
    let (mut latencies, failed) = std::mem::take(&mut *results.lock().expect("results"));
    latencies.sort();
    Ok(Figures {
        requests: latencies.len(),
        failed,
        elapsed,
        latencies,
        spans: summary.exported,
        dropped: summary.dropped_queue_full,
    })
}

/// Reads one HTTP/1.1 response (a `content-length` or a chunked body):
/// the status code and the body.
fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<(u16, String)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("a status line, got {line:?}")))?;
    let (mut length, mut chunked) = (0, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(n) = header.strip_prefix("content-length:") {
            length = n.trim().parse().unwrap_or(0);
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
        body = vec![0; length];
        reader.read_exact(&mut body)?;
    }
    Ok((code, String::from_utf8_lossy(&body).into_owned()))
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("nebula-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let plain = std::path::PathBuf::from(guests::HTTP);
    let instrumented = dir.join("http.instrumented.wasm");
    let bytes = std::fs::read(&plain)?;
    std::fs::write(
        &instrumented,
        nebula_component::instrument(&bytes, &Options::default())?.component,
    )?;

    println!(
        "nebula serve over loopback (wasmtime 48, concurrency_support(false), epoch \
         interruption), {CLIENTS} keep-alive clients, {DURATION:?} after {WARMUP:?} of \
         warm-up, spans sampled and written to an OTLP JSON file\n"
    );
    println!("| case | requests | req/s | p50 | p99 | failed | spans exported | spans dropped |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for (case, component) in [("plain", &plain), ("instrumented", &instrumented)] {
        let f = measure(component, &dir.join(format!("{case}.json")))?;
        println!(
            "| {case} | {} | {:.0} | {:.0} µs | {:.0} µs | {} | {} | {} |",
            f.requests,
            f.throughput(),
            f.percentile(0.5).as_secs_f64() * 1e6,
            f.percentile(0.99).as_secs_f64() * 1e6,
            f.failed,
            f.spans,
            f.dropped,
        );
        rows.push(f);
    }
    let (plain, instrumented) = (&rows[0], &rows[1]);
    println!();
    println!(
        "instrumented / plain: throughput {:.2}x, p50 {:+.0} µs, p99 {:+.0} µs",
        instrumented.throughput() / plain.throughput(),
        (instrumented.percentile(0.5).as_secs_f64() - plain.percentile(0.5).as_secs_f64()) * 1e6,
        (instrumented.percentile(0.99).as_secs_f64() - plain.percentile(0.99).as_secs_f64()) * 1e6,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
