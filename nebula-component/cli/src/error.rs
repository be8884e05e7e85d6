//! Renders errors as wasm-tools and wac do: `error:` with the outermost
//! message, then a numbered `Caused by:` list of the causes.
//!
//! ```text
//! error: failed to instrument `notes.txt`
//!
//! Caused by:
//!     0: the input is not a WebAssembly binary …; expected a component
//! ```

use std::fmt::Write as _;

/// `error` with its chain of causes, ready to print.
pub fn render(error: &anyhow::Error) -> String {
    let mut out = format!("error: {error}");
    let causes: Vec<String> = error.chain().skip(1).map(|c| c.to_string()).collect();
    if !causes.is_empty() {
        out.push_str("\n\nCaused by:");
        for (i, cause) in causes.iter().enumerate() {
            // `write!` to a `String` cannot fail.
            let _ = write!(out, "\n    {i}: {cause}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_causes() {
        let e = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(
            render(&e),
            "error: outer\n\nCaused by:\n    0: middle\n    1: inner"
        );
        assert_eq!(render(&anyhow::anyhow!("alone")), "error: alone");
    }
}
