//! The `http` guest: a `wasi:http/incoming-handler` answering every request
//! with a `content-type` and `x-guest` header and the body
//! `hello <method> <path>`.
//!
//! A request with an `x-upstream: http://HOST:PORT/PATH` header also makes
//! one outgoing `GET` to that URL through `wasi:http/outgoing-handler`: the
//! answer gets an `x-guest-upstream-status` header and, after a newline, the
//! line `upstream <status>: <upstream body>`. When the outgoing request
//! fails, the answer is `502` with the line `upstream error: <error>`.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};
use wasip2::io::streams::StreamError;

struct Handler;

impl wasip2::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let method = match request.method() {
            Method::Get => "GET".to_string(),
            Method::Post => "POST".to_string(),
            Method::Other(m) => m,
            other => format!("{other:?}").to_uppercase(),
        };
        let path = request.path_with_query().unwrap_or_default();
        let mut body_text = format!("hello {method} {path}");
        let mut status = 200;
        let mut headers = vec![
            ("content-type".to_string(), b"text/plain".to_vec()),
            ("x-guest".to_string(), b"nebula".to_vec()),
        ];
        let upstream = request.headers().get("x-upstream");
        if let Some(url) = upstream.first() {
            let url = String::from_utf8_lossy(url);
            match fetch(&url) {
                Ok((code, body)) => {
                    body_text.push_str(&format!("\nupstream {code}: {body}"));
                    headers.push((
                        "x-guest-upstream-status".to_string(),
                        code.to_string().into_bytes(),
                    ));
                }
                Err(e) => {
                    body_text.push_str(&format!("\nupstream error: {e}"));
                    status = 502;
                }
            }
        }
        drop(request);

        let headers = Fields::from_list(&headers).expect("valid headers");
        let response = OutgoingResponse::new(headers);
        response.set_status_code(status).expect("a valid status");
        let body = response.body().expect("the body, once");
        ResponseOutparam::set(out, Ok(response));
        {
            let stream = body.write().expect("the stream, once");
            stream
                .blocking_write_and_flush(body_text.as_bytes())
                .expect("writing the body");
        }
        OutgoingBody::finish(body, None).expect("finishing the body");
    }
}

/// `GET url` (`http://` or `https://`): the status and the body as text.
fn fetch(url: &str) -> Result<(u16, String), String> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else {
        return Err(format!("`{url}` is not an http:// or https:// URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let invalid = |what: &str| format!("invalid {what} in `{url}`");
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| invalid("authority"))?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| invalid("path"))?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = future
        .get()
        .expect("ready after blocking")
        .expect("the response, once")
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response.consume().expect("the body, once");
    let mut bytes = Vec::new();
    {
        let stream = body.stream().expect("the stream, once");
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend(chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
            }
        }
    }
    let _trailers = IncomingBody::finish(body);
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

wasip2::http::proxy::export!(Handler);
