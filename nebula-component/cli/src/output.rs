//! The files written for each input, and the report's text.
//!
//! For an input `<stem>.wasm`, the output directory receives:
//!
//! ```text
//! <stem>.instrumented.wasm   the instrumented component
//! <stem>.proxy.wit           the proxy world (empty when nothing was wrapped)
//! <stem>.report.txt          wrapped functions with span names; skipped items
//! ```
//!
//! Every file depends only on the input's bytes, its file name and the
//! options, so the native CLI, `nebula.wasm` and a second run all write the
//! same bytes.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::inputs::INSTRUMENTED_SUFFIX;
use nebula_component::{Instrumented, Options, OtelFlavor};

/// The three output paths of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPaths {
    /// `<stem>.instrumented.wasm`.
    pub component: PathBuf,
    /// `<stem>.proxy.wit`.
    pub proxy_wit: PathBuf,
    /// `<stem>.report.txt`.
    pub report: PathBuf,
}

impl OutputPaths {
    /// The outputs of `input` in `dir`.
    pub fn new(dir: &Path, input: &Path) -> Self {
        let stem = stem(input);
        Self {
            component: dir.join(format!("{stem}{INSTRUMENTED_SUFFIX}")),
            proxy_wit: dir.join(format!("{stem}.proxy.wit")),
            report: dir.join(format!("{stem}.report.txt")),
        }
    }

    /// The three paths, component first.
    pub fn all(&self) -> [&Path; 3] {
        [&self.component, &self.proxy_wit, &self.report]
    }

    /// Fails when an output exists and overwriting was not asked for.
    pub fn check_overwrite(&self, force: bool) -> anyhow::Result<()> {
        if force {
            return Ok(());
        }
        if let Some(existing) = self.all().into_iter().find(|p| p.exists()) {
            bail!(
                "`{}` already exists; pass `--force` to overwrite it, \
                 or choose another directory with `-o`",
                existing.display()
            );
        }
        Ok(())
    }

    /// Writes the component, the proxy world and `report`.
    pub fn write(&self, instrumented: &Instrumented, report: &str) -> anyhow::Result<()> {
        let files: [(&Path, &[u8]); 3] = [
            (&self.component, &instrumented.component),
            (&self.proxy_wit, instrumented.report.proxy_wit.as_bytes()),
            (&self.report, report.as_bytes()),
        ];
        for (path, bytes) in files {
            fs::write(path, bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        Ok(())
    }
}

/// The file name of `input` without its `.wasm` extension.
pub fn stem(input: &Path) -> String {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".into());
    match name.strip_suffix(".wasm") {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => name,
    }
}

/// The text of `<stem>.report.txt`: what was wrapped (span names) and what
/// was skipped (with the reason). Deterministic: no paths, no times.
pub fn render_report(
    input_name: &str,
    input_len: usize,
    options: &Options,
    instrumented: &Instrumented,
) -> String {
    let report = &instrumented.report;
    let mut out = String::new();
    let flavor = match &options.flavor {
        OtelFlavor::Inner => "inner (wasi:otel/tracing@0.3.0, inner-span-context)".to_string(),
        OtelFlavor::Outer => "outer (wasi:otel/tracing@0.2.0-rc.2, outer-span-context)".to_string(),
        OtelFlavor::Current(v) => format!("current (wasi:otel/tracing@{v}, current-span-context)"),
    };
    let patterns = |ps: &[nebula_component::Pattern]| {
        if ps.is_empty() {
            "-".to_string()
        } else {
            ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" ")
        }
    };
    // `write!` to a `String` cannot fail.
    let _ = writeln!(
        out,
        "nebula {} instrument report",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "input:   {input_name} ({input_len} bytes)");
    let _ = writeln!(
        out,
        "output:  {}{INSTRUMENTED_SUFFIX} ({} bytes)",
        stem(Path::new(input_name)),
        instrumented.component.len()
    );
    let _ = writeln!(out, "flavor:  {flavor}");
    let _ = writeln!(out, "include: {}", patterns(&options.include));
    let _ = writeln!(out, "exclude: {}", patterns(&options.exclude));
    if !report.components.is_empty() {
        let _ = writeln!(
            out,
            "\ninner components instrumented ({}):",
            report.components.len()
        );
        for c in &report.components {
            let _ = writeln!(out, "  {c}");
        }
    }
    let _ = writeln!(out, "\nwrapped ({}):", report.wrapped.len());
    for f in &report.wrapped {
        let _ = writeln!(out, "  {:<6}  {}", f.direction.as_str(), f.span_name);
    }
    if report.wrapped.is_empty() {
        let _ = writeln!(out, "  (none: the output is the input unchanged)");
    }
    let _ = writeln!(out, "\nskipped ({}):", report.skipped.len());
    for s in &report.skipped {
        let _ = writeln!(out, "  {s}");
    }
    out
}

/// `1234567` as `1.2 MiB`.
pub fn human_size(bytes: usize) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_paths() {
        assert_eq!(stem(Path::new("a/b/service.wasm")), "service");
        assert_eq!(stem(Path::new("x.component.wasm")), "x.component");
        assert_eq!(stem(Path::new("noext")), "noext");
        assert_eq!(stem(Path::new(".wasm")), ".wasm");
        let paths = OutputPaths::new(Path::new("out"), Path::new("in/s.wasm"));
        assert_eq!(paths.component, Path::new("out/s.instrumented.wasm"));
        assert_eq!(paths.proxy_wit, Path::new("out/s.proxy.wit"));
        assert_eq!(paths.report, Path::new("out/s.report.txt"));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 + 1), "5.0 MiB");
    }
}
