//! The arguments of `nebula instrument`, as a clap `Args` struct that the
//! native CLI and `nebula.wasm` both flatten into their own parsers.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;

use nebula_component::{ExportTo, Options, OtelFlavor, Pattern};

/// The `wasi:otel` package version of the `current` flavor when none is
/// given (upstream's head).
pub const DEFAULT_CURRENT_VERSION: &str = "0.2.0-rc.2";

/// One line saying what `nebula instrument` does.
pub const ABOUT: &str = "Instrument WebAssembly components with `wasi:otel` tracing";

/// The long help of `nebula instrument`: worked examples and exit status.
pub const AFTER_HELP: &str = "\
Examples:

  # Instrument one component; outputs go to ./tmp
  nebula instrument service.wasm

  # Several files and every component in a directory, into ./out
  nebula instrument a.wasm b.wasm ./components/ -o out

  # Only wrap the functions of one interface, and not its `health` check
  nebula instrument service.wasm --include 'my:app/api#*' --exclude '*#health'

  # For Spin 4, wasmCloud or composable-runtime (wasi:otel 0.2.0-rc.2)
  nebula instrument service.wasm --flavor outer

  # Target upstream's `current-span-context` at a given package version
  nebula instrument service.wasm --flavor current=0.2.0-rc.3

  # Runs on any WASI 0.2 runtime (no wasi:otel host): spans go to stderr
  # as OTLP JSON lines, or as a span tree with `console`
  nebula instrument service.wasm --export-to stderr
  wasmtime run tmp/service.instrumented.wasm

  # The same, run by the portable `nebula.wasm` in any WASI 0.2 runtime
  wasmtime run --dir . nebula.wasm instrument service.wasm -o out

For each input `<stem>.wasm` the output directory receives
`<stem>.instrumented.wasm` (the instrumented component), `<stem>.proxy.wit`
(the proxy world) and `<stem>.report.txt` (wrapped functions with their
span names, skipped items with the reason).

Exit status:
  0  every input was instrumented
  1  some inputs failed (the others were still written)
  2  usage error (bad arguments)
  (`nebula.wasm` run as a WASI 0.2 command exits 1 for both failures:
  `wasi:cli/exit` carries only success or failure)";

/// Arguments of `nebula instrument`.
#[derive(Debug, Clone, Args)]
pub struct InstrumentArgs {
    /// Component files, or directories whose components (the files directly
    /// inside) are all instrumented.
    #[arg(required = true, value_name = "INPUTS")]
    pub inputs: Vec<PathBuf>,

    /// Where the outputs are written (created when missing).
    #[arg(short, long, value_name = "DIR", default_value = "./tmp")]
    pub output_dir: PathBuf,

    /// Only wrap functions whose span name matches this glob (`*`, `?`);
    /// repeatable. Default: every function.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<Pattern>,

    /// Do not wrap functions whose span name matches this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<Pattern>,

    /// The `wasi:otel` the output imports, by the hosts that serve it:
    /// `inner` (`wasi:otel/tracing@0.3.0` with `inner-span-context`:
    /// `nebula run`/`serve`, the JS host, the original project's hosts);
    /// `outer` (`@0.2.0-rc.2` as tagged, with `outer-span-context`: Spin 4,
    /// wasmCloud, composable-runtime); `current[=VERSION]` (upstream HEAD's
    /// `current-span-context`, default version 0.2.0-rc.2). Every flavor
    /// nests the same: the output keeps its own span stack.
    #[arg(long, value_name = "FLAVOR", default_value = "inner")]
    pub flavor: FlavorArg,

    /// Compose the in-guest exporter into the output, so it needs no
    /// `wasi:otel` host and runs on any WASI 0.2 runtime: `stderr` (OTLP
    /// JSON lines, one `ExportTraceServiceRequest` per top-level call, the
    /// OpenTelemetry file exporter's format; adds `wasi:cli/stderr`),
    /// `console` (a span tree on stderr), `file:PATH` (the OTLP JSON lines
    /// appended to PATH, in a directory the host preopens; adds
    /// `wasi:filesystem`), `otlp:URL` (OTLP/HTTP protobuf, one request per
    /// top-level call, to the collector at URL, e.g.
    /// `otlp:http://localhost:4318`, whose `/v1/traces` is used unless the
    /// URL names a path; adds `wasi:http/outgoing-handler`; a failing
    /// collector never fails the call). Only with the `inner` flavor.
    #[arg(long, value_name = "DEST")]
    pub export_to: Option<ExportTo>,

    /// The `service.name` of the exported spans (with `--export-to`).
    /// Default: the component's name, else `component`.
    #[arg(long, value_name = "NAME", requires = "export_to")]
    pub service_name: Option<String>,

    /// Inside a composition (a component made of inner components, e.g. by
    /// `wac`), how many levels of inner components get their own spans: 0
    /// wraps only the outer boundary. Default: every level.
    #[arg(long, value_name = "N")]
    pub depth: Option<u32>,

    /// Overwrite outputs that already exist.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub verbosity: Verbosity,
}

impl InstrumentArgs {
    /// The library options these arguments ask for.
    pub fn options(&self) -> Options {
        Options {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            flavor: self.flavor.0.clone(),
            component_name: None,
            depth: self.depth,
            export_to: self.export_to.clone(),
            service_name: self.service_name.clone(),
        }
    }
}

/// `-q` / `-v`: how much is printed.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct Verbosity {
    /// Print only errors.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also print each input's report.
    #[arg(short, long)]
    pub verbose: bool,
}

/// `--flavor`: an [`OtelFlavor`] parsed from `inner`, `outer` or
/// `current[=VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorArg(pub OtelFlavor);

impl FromStr for FlavorArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            None if s == "inner" => Ok(FlavorArg(OtelFlavor::Inner)),
            None if s == "outer" => Ok(FlavorArg(OtelFlavor::Outer)),
            None if s == "current" => Ok(FlavorArg(OtelFlavor::Current(
                DEFAULT_CURRENT_VERSION.into(),
            ))),
            Some(("current", version)) if is_version(version) => {
                Ok(FlavorArg(OtelFlavor::Current(version.into())))
            }
            Some(("current", version)) => Err(format!(
                "`{version}` is not a package version; write it like `current=0.2.0-rc.2`"
            )),
            _ => Err(format!(
                "unknown flavor `{s}`; use `inner`, `outer` or `current[=VERSION]`"
            )),
        }
    }
}

impl fmt::Display for FlavorArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            OtelFlavor::Inner => f.write_str("inner"),
            OtelFlavor::Outer => f.write_str("outer"),
            OtelFlavor::Current(version) => write!(f, "current={version}"),
        }
    }
}

/// Whether `s` looks like a semver version (`MAJOR.MINOR.PATCH[-PRE]`).
fn is_version(s: &str) -> bool {
    let (core, pre) = match s.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (s, None),
    };
    let numbers = core.split('.').collect::<Vec<_>>();
    numbers.len() == 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors() {
        let parse = |s: &str| s.parse::<FlavorArg>().map(|f| f.0);
        assert_eq!(parse("inner"), Ok(OtelFlavor::Inner));
        assert_eq!(parse("outer"), Ok(OtelFlavor::Outer));
        assert_eq!(
            parse("current"),
            Ok(OtelFlavor::Current(DEFAULT_CURRENT_VERSION.into()))
        );
        assert_eq!(
            parse("current=0.2.0-rc.3"),
            Ok(OtelFlavor::Current("0.2.0-rc.3".into()))
        );
        assert!(
            parse("current=1.2")
                .unwrap_err()
                .contains("current=0.2.0-rc.2")
        );
        assert!(
            parse("sideways")
                .unwrap_err()
                .contains("`inner`, `outer` or `current")
        );
        assert!(parse("inner=1.0.0").is_err());
    }
}
