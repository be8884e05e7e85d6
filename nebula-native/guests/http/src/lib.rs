//! The `http` guest: a `wasi:http/incoming-handler` answering every request
//! with `200`, a `content-type` and `x-guest` header and the body
//! `hello <method> <path>`.

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

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
        let body_text = format!("hello {method} {path}");

        let headers = Fields::from_list(&[
            ("content-type".to_string(), b"text/plain".to_vec()),
            ("x-guest".to_string(), b"nebula".to_vec()),
        ])
        .expect("valid headers");
        let response = OutgoingResponse::new(headers);
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

wasip2::http::proxy::export!(Handler);
