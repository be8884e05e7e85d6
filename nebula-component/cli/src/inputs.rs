//! Expanding the command line's files and directories into the inputs to
//! instrument.
//!
//! - a file is always an input, whatever it holds: the instrumenter says
//!   precisely why a text file or a core module is not a component;
//! - a directory contributes the components directly inside it, sorted by
//!   name; other files there are skipped with a note, as are earlier
//!   outputs (`*.instrumented.wasm`) and nested directories;
//! - a path that does not exist is an error of its own, so the other inputs
//!   still run.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};

/// The first eight bytes of a binary component: magic, version 0xd, layer 1.
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// The suffix of the instrumented component in the output directory.
pub const INSTRUMENTED_SUFFIX: &str = ".instrumented.wasm";

/// What the command line's paths expand to, in order.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The files to instrument.
    pub inputs: Vec<PathBuf>,
    /// Paths that could not be used, each with why.
    pub errors: Vec<anyhow::Error>,
    /// Files skipped inside directories, each with why (shown as notes).
    pub skipped: Vec<String>,
}

/// Expands `paths` into the inputs to instrument.
pub fn expand(paths: &[PathBuf]) -> Expanded {
    let mut out = Expanded::default();
    for path in paths {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                if let Err(e) = expand_dir(path, &mut out) {
                    out.errors.push(e);
                }
            }
            Ok(_) => out.inputs.push(path.clone()),
            Err(e) => out.errors.push(anyhow!(e).context(format!(
                "cannot read `{}`; check the path (inputs are component files or directories)",
                path.display()
            ))),
        }
    }
    out
}

/// Adds the components directly inside `dir`, sorted by file name.
fn expand_dir(dir: &Path, out: &mut Expanded) -> anyhow::Result<()> {
    let read = || format!("cannot list the directory `{}`", dir.display());
    let mut entries = fs::read_dir(dir)
        .with_context(read)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(read)?;
    entries.sort();
    let before = out.inputs.len();
    for path in entries {
        let shown = path.display();
        if path.is_dir() {
            out.skipped.push(format!(
                "skipping `{shown}`: nested directories are not searched"
            ));
        } else if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(INSTRUMENTED_SUFFIX))
        {
            out.skipped.push(format!(
                "skipping `{shown}`: an output of `nebula instrument`"
            ));
        } else if is_component(&path) {
            out.inputs.push(path);
        } else {
            out.skipped
                .push(format!("skipping `{shown}`: not a WebAssembly component"));
        }
    }
    if out.inputs.len() == before {
        out.errors.push(anyhow!(
            "no WebAssembly component in the directory `{}`; \
             pass component files or a directory holding some",
            dir.display()
        ));
    }
    Ok(())
}

/// Whether the file at `path` starts like a binary component.
fn is_component(path: &Path) -> bool {
    use std::io::Read as _;
    let mut header = [0; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok_and(|()| header == COMPONENT_HEADER)
}

/// An input file's bytes: mapped natively (a 40 MB component is not copied
/// into the process before it is instrumented), read where files cannot be
/// mapped (`nebula.wasm`).
pub struct InputBytes(Contents);

enum Contents {
    #[cfg(not(target_family = "wasm"))]
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for InputBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            #[cfg(not(target_family = "wasm"))]
            Contents::Mapped(map) => map,
            Contents::Read(bytes) => bytes,
        }
    }
}

/// Reads (or maps) the input file at `path`.
pub fn read(path: &Path) -> std::io::Result<InputBytes> {
    #[cfg(not(target_family = "wasm"))]
    {
        let file = fs::File::open(path)?;
        // An empty file cannot be mapped; small ones are not worth it.
        if file.metadata()?.len() >= 1 << 20 {
            // SAFETY: the map is only read, while this input is
            // instrumented, and Nebula never writes to an input (outputs
            // are other files). Another process changing the file meanwhile
            // gives a wrong input (which validation reports) or, truncating
            // it, a fault, as for every tool that maps its inputs.
            let map = unsafe { memmap2::MmapOptions::new().populate().map(&file)? };
            return Ok(InputBytes(Contents::Mapped(map)));
        }
    }
    fs::read(path).map(|bytes| InputBytes(Contents::Read(bytes)))
}
