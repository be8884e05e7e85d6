//! What an instrumentation did, for people and for tests.

/// Whether a span wraps a call into the component or out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A call into one of the component's exports (`server` span).
    Export,
    /// A call out through one of the component's imports (`client` span).
    Import,
}

impl Direction {
    /// `export` or `import`, as in the `wasm.direction` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Export => "export",
            Direction::Import => "import",
        }
    }
}

/// One function the proxies wrap in a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedFunction {
    /// The span name, e.g. `ns:pkg/iface#func`, or the bare name of a
    /// freestanding world function.
    pub span_name: String,
    /// Into the component or out of it.
    pub direction: Direction,
    /// The interface with its version; `None` for freestanding functions.
    pub interface: Option<String>,
    /// The function's name within its interface or world.
    pub function: String,
}

/// What [`crate::instrument`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The proxy world as WIT text (empty when nothing needed a proxy).
    pub proxy_wit: String,
    /// Every wrapped function, in the order of the component's exports.
    pub wrapped: Vec<WrappedFunction>,
    /// Items passed through without spans, each with the reason.
    pub skipped: Vec<String>,
    /// The inner components instrumented inside a composition (their own
    /// names, else `#index`; nested ones as `outer/inner`); empty when only
    /// the outer boundary was wrapped.
    pub components: Vec<String>,
}
