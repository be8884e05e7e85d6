//! [`Runner`]: instantiates a component in wasmtime with WASI 0.2, the
//! `wasi:otel` host and the fixtures' `store` host (or WASI alone, as a
//! plain runtime), and calls its exports with dynamic values; stdout and
//! stderr are captured.
//!
//! The engine is the hosts' own configuration (`nebula_native::engine`).

use std::sync::OnceLock;

use nebula_native::host::otel::{self, OtelHost, Recorded, SpanData};
use wasmtime::component::{Component, Func, Instance, Linker, ResourceAny, ResourceTable, Val};
use wasmtime::error::Context as _;
use wasmtime::{Engine, Result, Store, bail, format_err};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::blobs::{self, BlobStore};
use crate::exports::{self, ExportedFunc};
use crate::spin_otel::{self, SpinOtel};

/// How much a component may print to the captured stdout.
const STDOUT_CAPACITY: usize = 1 << 20;

/// The engine shared by every [`Runner`] (compiling is the costly part).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(&nebula_native::engine::config()).expect("a valid wasmtime configuration")
    })
}

/// The store data of a [`Runner`]: every host the component may import.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The `wasi:otel` host: span stack and recorded spans.
    pub otel: OtelHost,
    /// The `wasi:otel/tracing@0.2.0-rc.2` host with Spin's rules.
    pub spin: SpinOtel,
    /// The `nebula:fixtures/store` host.
    pub blobs: BlobStore,
    memory: MemoryWatch,
}

impl HostState {
    /// The largest size, in bytes, any linear memory of the store reached.
    pub fn memory_high_water(&self) -> usize {
        self.memory.high_water
    }
}

/// A resource limiter that allows everything and remembers the largest
/// memory size asked for, so tests can check memory stays flat.
#[derive(Default)]
struct MemoryWatch {
    high_water: usize,
}

impl wasmtime::ResourceLimiter for MemoryWatch {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        self.high_water = self.high_water.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool> {
        Ok(true)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The linker defining every host of [`HostState`].
pub fn linker() -> Result<Linker<HostState>> {
    let mut linker = wasi_linker()?;
    otel::add_to_linker(&mut linker, |s: &mut HostState| &mut s.otel)?;
    spin_otel::add_to_linker(&mut linker, |s: &mut HostState| &mut s.spin)?;
    blobs::add_to_linker(&mut linker, |s: &mut HostState| &mut s.blobs)?;
    Ok(linker)
}

/// A linker defining only `wasmtime-wasi`'s WASI 0.2: the plain runtime a
/// component gets from `wasmtime run`, no `wasi:otel` at all.
pub fn wasi_linker() -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    Ok(linker)
}

/// A host function defined by a test: results from arguments.
pub type HostFn = std::sync::Arc<dyn Fn(&[Val]) -> Vec<Val> + Send + Sync>;

/// Options for building a [`Runner`].
#[derive(Default)]
pub struct RunnerBuilder {
    args: Vec<String>,
    otel: OtelHost,
    spin: Option<SpinOtel>,
    /// Functions the test defines: (instance name, function name, body).
    host_fns: Vec<(String, String, HostFn)>,
    /// Link only WASI (see [`wasi_linker`]).
    wasi_only: bool,
    /// Host directories preopened as (host path, guest path).
    dirs: Vec<(std::path::PathBuf, String)>,
}

impl RunnerBuilder {
    /// The command-line arguments the component sees (`argv[0]` included).
    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Self {
        self.args = args.iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// The `wasi:otel` host to start with (e.g. one with a remote parent).
    pub fn otel(mut self, otel: OtelHost) -> Self {
        self.otel = otel;
        self
    }

    /// The `wasi:otel@0.2.0-rc.2` host (Spin's rules) to start with.
    pub fn spin(mut self, spin: SpinOtel) -> Self {
        self.spin = Some(spin);
        self
    }

    /// Defines the function `func` of the imported instance `instance`
    /// (e.g. an interface the component imports that no host here
    /// serves); `body` maps arguments to results.
    pub fn host_fn(mut self, instance: &str, func: &str, body: HostFn) -> Self {
        self.host_fns.push((instance.into(), func.into(), body));
        self
    }

    /// Links only `wasmtime-wasi` (no `wasi:otel`, no fixture hosts), as
    /// a plain WASI runtime does.
    pub fn wasi_only(mut self) -> Self {
        self.wasi_only = true;
        self
    }

    /// Preopens the host directory `host` as `guest`, read and write.
    pub fn dir(mut self, host: &std::path::Path, guest: &str) -> Self {
        self.dirs.push((host.to_path_buf(), guest.into()));
        self
    }

    /// Compiles and instantiates `component` (binary or text format).
    pub fn build(self, component: &[u8]) -> Result<Runner> {
        let component = Component::new(engine(), component).context("compiling the component")?;
        let stdout = MemoryOutputPipe::new(STDOUT_CAPACITY);
        let stderr = MemoryOutputPipe::new(STDOUT_CAPACITY);
        let mut wasi = WasiCtx::builder();
        wasi.args(&self.args)
            .stdout(stdout.clone())
            .stderr(stderr.clone());
        for (host, guest) in &self.dirs {
            wasi.preopened_dir(host, guest, wasmtime_wasi::FsPerms::ReadWrite)?;
        }
        let wasi = wasi.build();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            otel: self.otel,
            spin: self.spin.unwrap_or_else(|| {
                SpinOtel::with_request("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", true)
            }),
            blobs: BlobStore::default(),
            memory: MemoryWatch::default(),
        };
        let mut store = Store::new(engine(), state);
        store.limiter(|s| &mut s.memory);
        let mut linker = if self.wasi_only {
            wasi_linker()?
        } else {
            linker()?
        };
        for (instance, func, body) in self.host_fns {
            // The rc.2 host makes a span of its own for each call, as Spin
            // does for outbound requests.
            let span = format!("host {instance}#{func}");
            linker
                .instance(&instance)?
                .func_new(&func, move |mut cx, _, params, results| {
                    cx.data_mut().spin.host_span(&span);
                    for (slot, value) in results.iter_mut().zip(body(params)) {
                        *slot = value;
                    }
                    Ok(())
                })?;
        }
        let instance = linker
            .instantiate(&mut store, &component)
            .context("instantiating the component")?;
        Ok(Runner {
            store,
            instance,
            component,
            stdout,
            stderr,
        })
    }
}

/// One instantiated component and its hosts.
pub struct Runner {
    store: Store<HostState>,
    instance: Instance,
    component: Component,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Runner {
    /// Compiles and instantiates `component` with default options.
    pub fn new(component: &[u8]) -> Result<Self> {
        Self::builder().build(component)
    }

    /// Options for a runner: arguments, the initial `wasi:otel` host.
    pub fn builder() -> RunnerBuilder {
        RunnerBuilder::default()
    }

    /// Calls the export `name`: `iface#func` (e.g.
    /// `nebula:fixtures/types@0.1.0#echo-u8`; the interface may omit its
    /// version when only one is exported) or a freestanding function's bare
    /// name. Returns the results (zero or one value).
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let func = self.func(name)?;
        let count = func.ty(&self.store).results().len();
        let mut results = vec![Val::Bool(false); count];
        func.call(&mut self.store, args, &mut results)
            .with_context(|| format!("calling `{name}`"))?;
        Ok(results)
    }

    /// The exported function `name` (as in [`Self::call`]).
    pub fn func(&mut self, name: &str) -> Result<Func> {
        let engine = engine();
        let index = match name.split_once('#') {
            Some((iface, func)) => {
                let iface = exports::resolve_instance_name(engine, &self.component, iface)
                    .ok_or_else(|| format_err!("no exported instance `{iface}`"))?;
                let instance = self
                    .component
                    .get_export_index(None, &iface)
                    .ok_or_else(|| format_err!("no export `{iface}`"))?;
                self.component.get_export_index(Some(&instance), func)
            }
            None => self.component.get_export_index(None, name),
        };
        let Some(index) = index else {
            bail!("no exported function `{name}`");
        };
        self.instance
            .get_func(&mut self.store, index)
            .ok_or_else(|| format_err!("export `{name}` is not a function"))
    }

    /// Every exported function with its parameter and result types.
    pub fn exports(&self) -> Vec<ExportedFunc> {
        exports::exported_funcs(engine(), &self.component)
    }

    /// The `wasi:otel` events recorded so far, in call order.
    pub fn spans(&self) -> &[Recorded] {
        self.store.data().otel.recorded()
    }

    /// Takes the recorded `wasi:otel` events, leaving the record empty.
    pub fn take_spans(&mut self) -> Vec<Recorded> {
        self.store.data_mut().otel.take_recorded()
    }

    /// The `wasi:otel` host (span stack, records).
    pub fn otel(&self) -> &OtelHost {
        &self.store.data().otel
    }

    /// The `wasi:otel@0.2.0-rc.2` host with Spin's rules.
    pub fn spin(&self) -> &SpinOtel {
        &self.store.data().spin
    }

    /// The `store` host (blob counters).
    pub fn blobs(&self) -> &BlobStore {
        &self.store.data().blobs
    }

    /// Everything the component printed to stderr so far, lossily decoded
    /// (the in-guest exporter's lines, with `--export-to stderr`).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// Everything the component printed to stdout so far, lossily decoded.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents()).into_owned()
    }

    /// Drops a resource handle the component returned.
    pub fn drop_resource(&mut self, handle: ResourceAny) -> Result<()> {
        handle.resource_drop(&mut self.store)
    }

    /// Drops every owned resource handle inside `value` (records, lists,
    /// variants, ... are searched); returns how many were dropped.
    pub fn drop_owned(&mut self, value: &Val) -> Result<usize> {
        let mut handles = Vec::new();
        collect_owned(value, &mut handles);
        let count = handles.len();
        for handle in handles {
            self.drop_resource(handle)?;
        }
        Ok(count)
    }

    /// The store, for direct use of wasmtime APIs.
    pub fn store(&mut self) -> &mut Store<HostState> {
        &mut self.store
    }

    /// The instance of the component.
    pub fn instance(&self) -> Instance {
        self.instance
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
    }
}

/// Pushes every owned handle in `value` onto `out`.
fn collect_owned(value: &Val, out: &mut Vec<ResourceAny>) {
    match value {
        Val::Resource(r) if r.owned() => out.push(*r),
        Val::List(vs) | Val::Tuple(vs) | Val::FixedLengthList(vs) => {
            vs.iter().for_each(|v| collect_owned(v, out))
        }
        Val::Record(fields) => fields.iter().for_each(|(_, v)| collect_owned(v, out)),
        Val::Map(entries) => entries.iter().for_each(|(k, v)| {
            collect_owned(k, out);
            collect_owned(v, out);
        }),
        Val::Variant(_, Some(v)) | Val::Option(Some(v)) => collect_owned(v, out),
        Val::Result(Ok(Some(v)) | Err(Some(v))) => collect_owned(v, out),
        _ => {}
    }
}

/// The ended spans among recorded `events`, in order.
pub fn ended(events: &[Recorded]) -> Vec<&SpanData> {
    events
        .iter()
        .filter_map(|e| match e {
            Recorded::Ended(span) => Some(span),
            Recorded::Started(_) => None,
        })
        .collect()
}

/// `wasmtime` on `PATH`, if the machine has the CLI (CI does not build it:
/// it takes longer than the whole suite), for the tests that run outputs
/// under it and say `SKIPPED` without it.
pub fn wasmtime_cli() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("wasmtime"))
        .find(|candidate| candidate.is_file())
}
