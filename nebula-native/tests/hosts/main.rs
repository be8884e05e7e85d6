//! `nebula run` and `nebula serve` end to end: the `nebula` binary over
//! fixture components, plain and instrumented, with the spans read back
//! from the tree printer, the OTLP JSON file and an OTLP/HTTP receiver;
//! `nebula serve` under guest faults, limits, load and shutdown.

mod export;
mod run;
mod serve;
mod serve_faults;
mod spin_http;
mod support;
