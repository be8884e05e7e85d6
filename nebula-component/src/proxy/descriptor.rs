//! The data segment a proxy hands its span runtime: one descriptor per
//! wrapped function, naming the span and carrying its attributes.
//!
//! Layout (little-endian u32 words; must match `runtime/src/lib.rs`):
//!
//! ```text
//! descriptor: name.ptr name.len kind(+flags) attrs.ptr attrs.len
//!             scope.ptr scope.len version.ptr version.len
//!             cases.ptr cases.len
//! attrs:      [key.ptr key.len value.ptr value.len] * attrs.len
//! cases:      [name.ptr name.len] * cases.len
//! ```
//!
//! Attribute values are JSON-encoded `AnyValue`s, as `wasi:otel` wants
//! them, rendered here once rather than on every span.

use std::collections::HashMap;

use crate::{Direction, WrappedFunction};

/// `span-kind` cases as the runtime numbers them (`wasi:otel` order).
const KIND_CLIENT: u32 = 0;
const KIND_SERVER: u32 = 1;

/// A flag on `kind`: the runtime asks the host for the parent of this span
/// even when its own stack has open spans (the output has a component that
/// makes spans of its own through a `wasi:otel` the runtime cannot serve,
/// so only the host sees them: see `compose/served.rs`).
const ASK_HOST_FOR_PARENT: u32 = 0x100;

/// Builds the descriptor segment, placed at a fixed address in memory.
pub(crate) struct DescriptorData {
    base: u32,
    bytes: Vec<u8>,
    strings: HashMap<String, (u32, u32)>,
    ask_host_for_parents: bool,
}

impl DescriptorData {
    /// An empty segment that will live at `base`.
    pub fn new(base: u32) -> Self {
        DescriptorData {
            base,
            bytes: Vec::new(),
            strings: HashMap::new(),
            ask_host_for_parents: false,
        }
    }

    /// Makes every descriptor added from now on ask the host for its span's
    /// parent: for an output in which a component makes spans of its own.
    pub fn ask_host_for_parents(&mut self) {
        self.ask_host_for_parents = true;
    }

    /// The segment's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn string(&mut self, s: &str) -> (u32, u32) {
        if let Some(&loc) = self.strings.get(s) {
            return loc;
        }
        let loc = (self.base + self.bytes.len() as u32, s.len() as u32);
        self.bytes.extend_from_slice(s.as_bytes());
        self.strings.insert(s.to_string(), loc);
        loc
    }

    fn words(&mut self, words: &[u32]) -> u32 {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
        let addr = self.base + self.bytes.len() as u32;
        for w in words {
            self.bytes.extend_from_slice(&w.to_le_bytes());
        }
        addr
    }

    /// Adds the descriptor of one wrapped function; returns its address.
    /// `cases` names the error cases (enum or variant) the status reports.
    pub fn add(&mut self, component: &str, func: &WrappedFunction, cases: &[String]) -> u32 {
        let mut attrs = vec![("wasm.component.name", component.to_string())];
        if let Some(interface) = &func.interface {
            attrs.push(("wasm.interface", interface.clone()));
        }
        attrs.push(("wasm.function", func.function.clone()));
        attrs.push(("wasm.direction", func.direction.as_str().to_string()));
        let mut attr_words = Vec::new();
        for (key, value) in attrs {
            let (kp, kl) = self.string(key);
            let (vp, vl) = self.string(&json_string(&value));
            attr_words.extend([kp, kl, vp, vl]);
        }
        let case_words: Vec<u32> = cases
            .iter()
            .flat_map(|c| {
                let (p, l) = self.string(c);
                [p, l]
            })
            .collect();
        let name = self.string(&func.span_name);
        let scope = self.string("nebula");
        let version = self.string(env!("CARGO_PKG_VERSION"));
        let attrs_ptr = self.words(&attr_words);
        let cases_ptr = self.words(&case_words);
        let kind = match func.direction {
            Direction::Export => KIND_SERVER,
            Direction::Import => KIND_CLIENT,
        } | if self.ask_host_for_parents {
            ASK_HOST_FOR_PARENT
        } else {
            0
        };
        self.words(&[
            name.0,
            name.1,
            kind,
            attrs_ptr,
            attr_words.len() as u32 / 4,
            scope.0,
            scope.1,
            version.0,
            version.1,
            cases_ptr,
            cases.len() as u32,
        ])
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(json_string("x\u{1}"), "\"x\\u0001\"");
    }

    #[test]
    fn layout_points_inside_the_segment() {
        let mut data = DescriptorData::new(1000);
        let func = WrappedFunction {
            span_name: "a:b/c#f".into(),
            direction: Direction::Export,
            interface: Some("a:b/c@1.0.0".into()),
            function: "f".into(),
        };
        let addr = data.add("comp", &func, &["x".into()]);
        let word = |a: u32| {
            let i = (a - 1000) as usize;
            u32::from_le_bytes(data.bytes()[i..i + 4].try_into().unwrap())
        };
        let text = |p: u32, l: u32| {
            let i = (p - 1000) as usize;
            std::str::from_utf8(&data.bytes()[i..i + l as usize])
                .unwrap()
                .to_string()
        };
        assert_eq!(addr % 4, 0);
        assert_eq!(text(word(addr), word(addr + 4)), "a:b/c#f");
        assert_eq!(word(addr + 8), KIND_SERVER);
        assert_eq!(word(addr + 16), 4, "four attributes");
        let attrs = word(addr + 12);
        assert_eq!(text(word(attrs), word(attrs + 4)), "wasm.component.name");
        assert_eq!(text(word(attrs + 8), word(attrs + 12)), "\"comp\"");
        assert_eq!(word(addr + 40), 1);
        let cases = word(addr + 36);
        assert_eq!(text(word(cases), word(cases + 4)), "x");
    }
}
