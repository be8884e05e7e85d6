//! What to instrument and how.

/// Which revision of `wasi:otel` the proxies import.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OtelFlavor {
    /// `wasi:otel/tracing@0.3.0` with `inner-span-context`: Nebula's hosts
    /// and the original proof of concept's.
    #[default]
    Inner,
    /// `wasi:otel/tracing@0.2.0-rc.2` exactly as tagged upstream, with
    /// `outer-span-context`: what Spin 4, wasmCloud and composable-runtime
    /// serve.
    Outer,
    /// Upstream's `current-span-context`, at the given package version
    /// (for example `0.2.0-rc.2`).
    Current(String),
}

/// Where the in-guest exporter (`--export-to`) sends the output's spans:
/// composed into the output, it implements `wasi:otel` inside the guest,
/// so the output runs on hosts that serve no `wasi:otel` at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTo {
    /// OTLP JSON on stderr, one `ExportTraceServiceRequest` per line (the
    /// OpenTelemetry file exporter's format); adds `wasi:cli/stderr`.
    Stderr,
    /// A readable span tree per trace on stderr; adds `wasi:cli/stderr`.
    Console,
    /// The OTLP JSON lines appended to this file, found through the
    /// host's preopened directories; adds `wasi:filesystem`.
    File(String),
    /// OTLP/HTTP protobuf, one request per top-level call, to this
    /// collector URL (`http://host:4318`; with no path, `/v1/traces`);
    /// adds `wasi:http/outgoing-handler`. A failing collector never fails
    /// the guest's call.
    Otlp(String),
}

impl ExportTo {
    /// How the destination is written on the command line
    /// (`stderr`, `console`, `file:PATH`, `otlp:URL`).
    pub fn parse(text: &str) -> Result<Self, OptionsError> {
        let bad = || OptionsError::ExportTo(text.to_string());
        match text {
            "stderr" => Ok(ExportTo::Stderr),
            "console" => Ok(ExportTo::Console),
            _ => {
                if let Some(path) = text.strip_prefix("file:") {
                    return match path {
                        "" => Err(bad()),
                        _ => Ok(ExportTo::File(path.to_string())),
                    };
                }
                let url = text.strip_prefix("otlp:").ok_or_else(bad)?;
                ExportTo::otlp(url)
            }
        }
    }

    /// The `otlp:` destination of `url`, which must be an `http://` or
    /// `https://` URL with a host.
    pub fn otlp(url: &str) -> Result<Self, OptionsError> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| OptionsError::OtlpUrl(url.to_string()))?;
        match rest.split('/').next() {
            Some(host) if !host.is_empty() => Ok(ExportTo::Otlp(url.to_string())),
            _ => Err(OptionsError::OtlpUrl(url.to_string())),
        }
    }
}

impl std::fmt::Display for ExportTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportTo::Stderr => f.write_str("stderr"),
            ExportTo::Console => f.write_str("console"),
            ExportTo::File(path) => write!(f, "file:{path}"),
            ExportTo::Otlp(url) => write!(f, "otlp:{url}"),
        }
    }
}

impl std::str::FromStr for ExportTo {
    type Err = OptionsError;

    fn from_str(s: &str) -> Result<Self, OptionsError> {
        ExportTo::parse(s)
    }
}

/// Options of [`crate::instrument`]; `Options::default()` wraps every
/// exported function with the `inner` flavor.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only functions whose span name matches one of these are wrapped
    /// (empty: all). Defaults to empty.
    pub include: Vec<Pattern>,
    /// Functions whose span name matches one of these are not wrapped.
    /// Defaults to empty.
    pub exclude: Vec<Pattern>,
    /// The `wasi:otel` flavor. Defaults to [`OtelFlavor::Inner`].
    pub flavor: OtelFlavor,
    /// The value of the `wasm.component.name` attribute. Defaults to the
    /// component's own name section, else `component`.
    pub component_name: Option<String>,
    /// How many levels of inner components to instrument inside a
    /// composition: `Some(0)` wraps only the outer boundary; `None` (the
    /// default) goes all the way down.
    pub depth: Option<u32>,
    /// Compose the in-guest exporter into the output, sending its spans
    /// here instead of to a host's `wasi:otel` (only with the `inner`
    /// flavor, which the exporter implements). Defaults to `None`: the
    /// output imports `wasi:otel`.
    pub export_to: Option<ExportTo>,
    /// The `service.name` of the exported spans. Defaults to the
    /// component's name (as for `component_name`).
    pub service_name: Option<String>,
}

impl Options {
    /// Checks that `export_to` goes with the flavor: the exporter
    /// implements the `inner` one.
    pub fn check_export(&self) -> Result<(), OptionsError> {
        match (&self.export_to, &self.flavor) {
            (Some(_), OtelFlavor::Outer) => Err(OptionsError::ExportFlavor("outer".into())),
            (Some(_), OtelFlavor::Current(version)) => {
                Err(OptionsError::ExportFlavor(format!("current={version}")))
            }
            _ => Ok(()),
        }
    }

    /// Whether an include pattern names this span name explicitly.
    pub fn includes(&self, span_name: &str) -> bool {
        self.include.iter().any(|p| p.matches(span_name))
    }

    /// Whether the function with this span name gets a span.
    pub fn selects(&self, span_name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.matches(span_name)))
            && !self.exclude.iter().any(|p| p.matches(span_name))
    }
}

/// Why the options do not make sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// An empty `include` or `exclude` pattern (it would match nothing).
    #[error("bad options: empty pattern; use `*` to match every span name")]
    EmptyPattern,
    /// A flavor's version that is not a package version.
    #[error("bad options: `{0}` is not a package version; use one like `0.2.0-rc.2`")]
    FlavorVersion(String),
    /// An `export_to` destination that is not one.
    #[error(
        "bad options: `{0}` is not an export destination; use `stderr`, `console`, \
         `file:PATH` or `otlp:URL`"
    )]
    ExportTo(String),
    /// An `otlp:` destination whose URL is not an `http(s)://host…` one.
    #[error(
        "bad options: `{0}` is not a collector URL; write it like `http://localhost:4318` \
         (spans go to its `/v1/traces` unless the URL names a path)"
    )]
    OtlpUrl(String),
    /// `export_to` with a flavor other than `inner`.
    #[error(
        "bad options: the in-guest exporter (`--export-to`) implements only the `inner` \
         flavor's `wasi:otel`; drop `--flavor {0}` to export from inside the guest, or drop \
         `--export-to` to import the `{0}` flavor from the host"
    )]
    ExportFlavor(String),
}

/// A glob pattern on span names: `*` matches any run of characters, `?` one
/// character, everything else itself (`wasi:http/*`, `*#handle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// Parses a pattern; an empty one is refused since it would match nothing.
    pub fn new(pattern: &str) -> Result<Self, OptionsError> {
        if pattern.is_empty() {
            return Err(OptionsError::EmptyPattern);
        }
        Ok(Pattern(pattern.to_string()))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let pattern: Vec<char> = self.0.chars().collect();
        let text: Vec<char> = text.chars().collect();
        // Iterative glob matching with backtracking to the last `*`.
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(&c) if c == '?' || c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|&c| c == '*')
    }
}

impl std::str::FromStr for Pattern {
    type Err = OptionsError;

    fn from_str(s: &str) -> Result<Self, OptionsError> {
        Pattern::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let p = |s: &str| Pattern::new(s).unwrap();
        assert!(p("wasi:http/*").matches("wasi:http/incoming-handler#handle"));
        assert!(p("*#handle").matches("wasi:http/incoming-handler#handle"));
        assert!(!p("*#handle").matches("wasi:http/incoming-handler#handler"));
        assert!(p("a?c").matches("abc"));
        assert!(!p("a?c").matches("ac"));
        assert!(p("*").matches(""));
        assert!(p("my:pkg/iface#*").matches("my:pkg/iface#f"));
        assert!(!p("my:pkg/iface#*").matches("my:pkg/other#f"));
        assert!(p("*a*b*").matches("xxaxxbxx"));
        assert!(Pattern::new("").is_err());
    }

    #[test]
    fn export_destinations() {
        assert_eq!(ExportTo::parse("stderr"), Ok(ExportTo::Stderr));
        assert_eq!(ExportTo::parse("console"), Ok(ExportTo::Console));
        assert_eq!(
            ExportTo::parse("file:/tmp/spans.jsonl"),
            Ok(ExportTo::File("/tmp/spans.jsonl".into()))
        );
        assert!(ExportTo::parse("file:").is_err());
        assert!(ExportTo::parse("jaeger").is_err());
        assert_eq!(
            ExportTo::parse("otlp:http://localhost:4318"),
            Ok(ExportTo::Otlp("http://localhost:4318".into()))
        );
        assert!(ExportTo::parse("otlp:localhost:4318").is_err());
        assert!(ExportTo::parse("otlp:http://").is_err());
        for text in [
            "stderr",
            "console",
            "file:out.jsonl",
            "otlp:https://c.example/x",
        ] {
            assert_eq!(ExportTo::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn include_and_exclude() {
        let options = Options {
            include: vec![Pattern::new("a:b/*").unwrap()],
            exclude: vec![Pattern::new("*#skip").unwrap()],
            ..Options::default()
        };
        assert!(options.selects("a:b/c#f"));
        assert!(!options.selects("a:b/c#skip"));
        assert!(!options.selects("x:y/z#f"));
    }
}
