//! `nebula.wasm` as an instrumenter library, run by wasmtime.
//!
//! `build.rs` builds `nebula.wasm` from `nebula-component` and precompiles
//! it for the host; [`NebulaWasm::embedded`] deserializes that code, so
//! start-up compiles nothing. Each call of [`NebulaWasm::instrument`] gets a
//! fresh instance in a fresh store whose WASI context grants nothing: no
//! preopened directory, no environment, no network. The bytes go in and
//! come out through the exported `nebula:instrument/instrumenter`
//! interface, called with typed bindings.

use nebula_cli::Backend;
use nebula_component::{Error, ErrorKind, Instrumented, Options, Skeleton};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::engine;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "nebula:instrument/instrument",
    });
}

use bindings::exports::nebula::instrument::instrumenter as wit;

nebula_component::wit_conversions!(wit);

/// Where the build put `nebula.wasm` (`<workspace>/target/nebula/nebula.wasm`).
pub const NEBULA_WASM_PATH: &str = env!("NEBULA_WASM_PATH");

/// Where the build put the sample component
/// (`<workspace>/target/nebula/sample.wasm`).
pub const SAMPLE_PATH: &str = env!("NEBULA_SAMPLE_PATH");

/// `nebula.wasm`, as built.
pub static NEBULA_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nebula.wasm"));

/// `nebula.wasm` precompiled for this host by `build.rs`.
static PRECOMPILED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nebula.cwasm"));

/// How much a failing `nebula.wasm` may print (a panic message) before the
/// rest is dropped.
const STDERR_CAPACITY: usize = 64 * 1024;

/// The store data of one `instrument` call: WASI that grants nothing.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `nebula.wasm`, loaded and linked, ready to instrument.
pub struct NebulaWasm {
    engine: Engine,
    component: Component,
    pre: bindings::InstrumentPre<State>,
    precompiled: bool,
}

impl NebulaWasm {
    /// The embedded `nebula.wasm`, from its precompiled code; compiled now
    /// instead (slower) when that code does not fit this host (a binary
    /// copied to another machine), which [`NebulaWasm::precompiled`] tells.
    pub fn embedded() -> anyhow::Result<Self> {
        let engine = Engine::new(&engine::config())?;
        // SAFETY: the bytes are what `Engine::precompile_component` produced
        // at build time for this configuration; wasmtime checks the version
        // and settings and refuses anything else.
        match unsafe { Component::deserialize(&engine, PRECOMPILED) } {
            Ok(component) => Self::new(engine, component, true),
            Err(_) => {
                let component = Component::new(&engine, NEBULA_WASM)?;
                Self::new(engine, component, false)
            }
        }
    }

    /// Compiles `nebula.wasm` from its bytes (e.g. [`NEBULA_WASM_PATH`]).
    pub fn compile(wasm: &[u8]) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine::config())?;
        let component = Component::new(&engine, wasm)?;
        Self::new(engine, component, false)
    }

    fn new(engine: Engine, component: Component, precompiled: bool) -> anyhow::Result<Self> {
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        let pre = bindings::InstrumentPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self {
            engine,
            component,
            pre,
            precompiled,
        })
    }

    /// Whether the code came precompiled (nothing compiled at start-up).
    pub fn precompiled(&self) -> bool {
        self.precompiled
    }

    /// The engine `nebula.wasm` runs in.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The compiled `nebula.wasm` component (e.g. to run it as a command).
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// Instruments `component` by calling `nebula.wasm`'s exported
    /// `instrument`; a trap is an internal error whose causes are the trap
    /// and what the guest printed.
    ///
    /// A component that validates here (natively, on every core, while
    /// the guest works) goes in as its [`Skeleton`], without its modules'
    /// code and debug info, and the real modules are put back into the
    /// output: the result is the same, byte for byte, without copying
    /// megabytes into the guest and having the guest validate them again.
    /// Anything else goes in as it is, so the guest's error describes it.
    pub fn instrument(&self, component: &[u8], options: &Options) -> Result<Instrumented, Error> {
        if !wasmparser::Parser::is_component(component) {
            return self.call(component, options);
        }
        // The guest works on the skeleton while the input validates here;
        // the skeleton's result counts only if the input is valid.
        let (valid, through_skeleton) = std::thread::scope(|scope| {
            let valid = scope.spawn(|| crate::validate::in_parallel(component).is_ok());
            let through_skeleton = Skeleton::of(component).ok().map(|skeleton| {
                let done = self.call(skeleton.bytes(), options);
                (skeleton, done)
            });
            let valid = valid.join().expect("validation does not panic");
            (valid, through_skeleton)
        });
        match through_skeleton {
            Some((skeleton, done)) if valid => {
                let mut done = done?;
                done.component = skeleton.restore(&done.component)?;
                Ok(done)
            }
            _ => self.call(component, options),
        }
    }

    /// One call of `nebula.wasm`'s `instrument`, in a fresh instance.
    fn call(&self, component: &[u8], options: &Options) -> Result<Instrumented, Error> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let state = State {
            wasi: WasiCtx::builder().stderr(stderr.clone()).build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        let trapped = |e: wasmtime::Error| {
            let printed = String::from_utf8_lossy(&stderr.contents())
                .trim()
                .to_string();
            let mut causes: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            if !printed.is_empty() {
                causes.push(format!("it printed: {printed}"));
            }
            Error::reported(
                ErrorKind::Internal,
                "internal error (please report it): `nebula.wasm` failed".into(),
                causes,
            )
        };
        let instance = self.pre.instantiate(&mut store).map_err(trapped)?;
        let result = instance
            .nebula_instrument_instrumenter()
            .call_instrument(&mut store, component, &options_to_wit(options))
            .map_err(trapped)?;
        match result {
            Ok(done) => Ok(instrumented_from_wit(done)),
            Err(e) => Err(error_from_wit(e)),
        }
    }
}

impl Backend for NebulaWasm {
    fn instrument(&mut self, component: &[u8], options: &Options) -> Result<Instrumented, Error> {
        NebulaWasm::instrument(self, component, options)
    }
}
