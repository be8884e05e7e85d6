//! A small JSON writer (the OTLP JSON lines), and the typed form of
//! `wasi:otel`'s JSON-encoded attribute values.

use alloc::vec::Vec;
use core::fmt::Write as _;

use serde_json::Value;

/// Appends `text` as a JSON string.
pub fn string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(Bytes(out), "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Appends `"key":` (a field name and its colon).
pub fn key(out: &mut Vec<u8>, key: &str) {
    string(out, key);
    out.push(b':');
}

/// Appends a number, or anything else `Display` writes as JSON.
pub fn display(out: &mut Vec<u8>, value: impl core::fmt::Display) {
    let _ = write!(Bytes(out), "{value}");
}

/// Appends a `u64` as proto3 JSON writes 64-bit integers: a string.
pub fn u64_string(out: &mut Vec<u8>, value: u64) {
    let _ = write!(Bytes(out), "\"{value}\"");
}

/// Appends `items`, each written by `each`, as a JSON array.
pub fn array<T>(out: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        each(out, item);
    }
    out.push(b']');
}

/// The attribute value `encoded` stands for: `wasi:otel` values are JSON;
/// one that is not is the string itself.
pub fn attribute_value(encoded: &str) -> Value {
    serde_json::from_str(encoded).unwrap_or_else(|_| Value::String(encoded.into()))
}

/// Appends `value` as an OTLP `AnyValue` (`{"stringValue": …}` and so on;
/// `null` is the empty value).
pub fn any_value(out: &mut Vec<u8>, value: &Value) {
    out.push(b'{');
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            key(out, "boolValue");
            display(out, b);
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => {
                key(out, "intValue");
                let _ = write!(Bytes(out), "\"{i}\"");
            }
            None => {
                key(out, "doubleValue");
                match n.as_f64() {
                    Some(f) if f.is_finite() => display(out, f),
                    _ => string(out, "NaN"),
                }
            }
        },
        Value::String(s) => {
            key(out, "stringValue");
            string(out, s);
        }
        Value::Array(items) => {
            key(out, "arrayValue");
            out.push(b'{');
            key(out, "values");
            array(out, items, any_value);
            out.push(b'}');
        }
        Value::Object(map) => {
            key(out, "kvlistValue");
            out.push(b'{');
            key(out, "values");
            let entries: Vec<_> = map.iter().collect();
            array(out, &entries, |out, (k, v)| {
                out.push(b'{');
                key(out, "key");
                string(out, k);
                out.push(b',');
                key(out, "value");
                any_value(out, v);
                out.push(b'}');
            });
            out.push(b'}');
        }
    }
    out.push(b'}');
}

/// `core::fmt::Write` over a byte vector.
pub struct Bytes<'a>(pub &'a mut Vec<u8>);

impl core::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A JSON object being written: [`Object::field`] puts the commas in.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Object<'a> {
    /// Opens an object.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// Appends the field `name`, its value written by `value`.
    pub fn field(&mut self, name: &str, value: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        key(self.out, name);
        value(self.out);
        self
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push(b'}');
    }
}
