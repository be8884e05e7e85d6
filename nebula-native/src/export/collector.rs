//! OTLP/HTTP export (`application/x-protobuf`) to a collector, in batches of
//! [`BATCH_SIZE`](super::BATCH_SIZE), from the export thread.
//!
//! The endpoint follows the usual variables: `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (a base URL; `/v1/traces` is appended), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! (used as it is), `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`) and
//! `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds, default 10 000).
//!
//! Failures never stop the program: the first one prints one warning, the
//! spans of a failed batch are counted as lost, and after
//! [`GIVE_UP_AFTER`] failures in a row the collector is not tried again.
//! Only plain `http://` endpoints are supported (no TLS).

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use prost::Message as _;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;

use super::{BATCH_SIZE, Resource, SpanExporter, otlp};
use crate::span_types::SpanData;

/// Failed batches in a row after which the collector is given up.
pub const GIVE_UP_AFTER: u32 = 3;

/// Where and how to reach the collector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorConfig {
    /// The traces endpoint, e.g. `http://localhost:4318/v1/traces`.
    pub url: hyper::Uri,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// The time one request may take.
    pub timeout: Duration,
}

impl CollectorConfig {
    /// The configuration from `--otlp URL` (a base URL like
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`) or else the environment (read through
    /// `var`); `Ok(None)` when neither asks for export.
    pub fn from_env(
        flag: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let url = match (flag, var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
            (Some(base), _) => traces_url(base),
            (None, Some(url)) if !url.is_empty() => url,
            _ => match var("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) if !base.is_empty() => traces_url(&base),
                _ => return Ok(None),
            },
        };
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("`{url}` is not a valid collector URL: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "`{url}`: https collectors are not supported; use a local \
                     collector over http (e.g. http://localhost:4318)"
                ));
            }
            _ => return Err(format!("`{url}` is not an http:// URL")),
        }
        if uri.host().is_none() {
            return Err(format!("`{url}` names no host"));
        }
        let headers = var("OTEL_EXPORTER_OTLP_HEADERS")
            .map(|h| {
                h.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let timeout = var("OTEL_EXPORTER_OTLP_TIMEOUT")
            .and_then(|t| t.parse::<u64>().ok())
            .map_or(Duration::from_secs(10), Duration::from_millis);
        Ok(Some(Self {
            url: uri,
            headers,
            timeout,
        }))
    }
}

/// `base` with `/v1/traces` appended (unless already there).
fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

/// The collector exporter.
pub struct Collector {
    config: CollectorConfig,
    resource: Resource,
    batch: Vec<SpanData>,
    runtime: Option<tokio::runtime::Runtime>,
    failures_in_a_row: u32,
    warned: bool,
    lost: u64,
}

impl Collector {
    /// An exporter posting to `config.url`.
    pub fn new(config: CollectorConfig, resource: Resource) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok();
        Self {
            config,
            resource,
            batch: Vec::with_capacity(BATCH_SIZE),
            runtime,
            failures_in_a_row: 0,
            warned: false,
            lost: 0,
        }
    }

    fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let runtime = self.runtime.as_ref().ok_or("no async runtime")?;
        let config = &self.config;
        runtime.block_on(async {
            tokio::time::timeout(config.timeout, post(config, body))
                .await
                .map_err(|_| format!("no answer within {:?}", config.timeout))?
        })
    }
}

/// One POST of `body` to the collector.
async fn post(config: &CollectorConfig, body: Vec<u8>) -> Result<(), String> {
    let uri = &config.url;
    let host = uri.host().unwrap_or("localhost");
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = hyper::Request::post(target)
        .header(
            hyper::header::HOST,
            uri.authority().map_or(host, |a| a.as_str()),
        )
        .header(hyper::header::CONTENT_TYPE, "application/x-protobuf");
    for (k, v) in &config.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    // Read the body so the connection finishes cleanly.
    let _ = response.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the collector answered {status}"))
    }
}

impl SpanExporter for Collector {
    fn span(&mut self, span: &SpanData, _trace_done: bool, warn: &mut dyn Write) {
        self.batch.push(span.clone());
        if self.batch.len() >= BATCH_SIZE {
            self.flush(warn);
        }
    }

    fn flush(&mut self, warn: &mut dyn Write) {
        if self.batch.is_empty() {
            return;
        }
        let spans = std::mem::take(&mut self.batch);
        if self.failures_in_a_row >= GIVE_UP_AFTER {
            self.lost += spans.len() as u64;
            return;
        }
        let body = otlp::request(&self.resource, &spans).encode_to_vec();
        match self.post(body) {
            Ok(()) => self.failures_in_a_row = 0,
            Err(e) => {
                self.failures_in_a_row += 1;
                self.lost += spans.len() as u64;
                if !self.warned {
                    self.warned = true;
                    let _ = writeln!(
                        warn,
                        "warning: cannot export spans to {}: {e}; the program goes on \
                         (spans that cannot be delivered are counted)",
                        self.config.url
                    );
                }
            }
        }
    }

    fn lost(&self) -> u64 {
        self.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn endpoint_from_flag_or_env() {
        let none = CollectorConfig::from_env(None, env(&[])).unwrap();
        assert_eq!(none, None);
        let flag = CollectorConfig::from_env(Some("http://h:1"), env(&[])).unwrap();
        assert_eq!(flag.unwrap().url, "http://h:1/v1/traces");
        let base = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]);
        let cfg = CollectorConfig::from_env(None, base).unwrap().unwrap();
        assert_eq!(cfg.url, "http://c:4318/v1/traces");
        let full = env(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:1/x"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1, b = 2"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
        ]);
        let cfg = CollectorConfig::from_env(None, full).unwrap().unwrap();
        assert_eq!(cfg.url, "http://c:1/x");
        assert_eq!(
            cfg.headers,
            [("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(cfg.timeout, Duration::from_millis(500));
        assert!(CollectorConfig::from_env(Some("https://x"), env(&[])).is_err());
        assert!(CollectorConfig::from_env(Some("ftp://x"), env(&[])).is_err());
    }
}
