//! A typed host for the fixtures' `nebula:fixtures/store` interface: byte
//! blobs kept in a resource table, with counts of the blobs made and
//! dropped so tests can check destructors.

use wasmtime::Result;
use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: ["../wit/deps/clocks", "../wit/deps/otel", "fixtures/wit"],
        world: "nebula:fixtures/store-host@0.1.0",
        imports: { default: trappable },
        with: { "nebula:fixtures/store.blob": super::Blob },
    });
}

use bindings::nebula::fixtures::store;

/// The host-side state of one `blob`.
#[derive(Debug, Default)]
pub struct Blob {
    data: Vec<u8>,
}

/// The state of the `store` host: live blobs and counters.
#[derive(Debug, Default)]
pub struct BlobStore {
    table: ResourceTable,
    created: u32,
    dropped: u32,
}

impl BlobStore {
    /// How many blobs were constructed.
    pub fn created(&self) -> u32 {
        self.created
    }

    /// How many blob destructors ran.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// How many blobs are alive: constructed and not dropped.
    pub fn alive(&self) -> u32 {
        self.created - self.dropped
    }
}

impl store::HostBlob for BlobStore {
    fn new(&mut self, data: Vec<u8>) -> Result<Resource<Blob>> {
        self.created += 1;
        Ok(self.table.push(Blob { data })?)
    }

    fn read(&mut self, blob: Resource<Blob>) -> Result<Vec<u8>> {
        Ok(self.table.get(&blob)?.data.clone())
    }

    fn append(&mut self, blob: Resource<Blob>, more: Vec<u8>) -> Result<()> {
        self.table.get_mut(&blob)?.data.extend(more);
        Ok(())
    }

    fn merge(&mut self, a: Resource<Blob>, b: Resource<Blob>) -> Result<Resource<Blob>> {
        let mut data = self.table.get(&a)?.data.clone();
        data.extend_from_slice(&self.table.get(&b)?.data);
        self.new(data)
    }

    fn drop(&mut self, blob: Resource<Blob>) -> Result<()> {
        self.table.delete(blob)?;
        self.dropped += 1;
        Ok(())
    }
}

impl store::Host for BlobStore {
    fn blobs_alive(&mut self) -> Result<u32> {
        Ok(self.alive())
    }

    fn take(&mut self, blob: Resource<Blob>) -> Result<Vec<u8>> {
        let data = self.table.delete(blob)?.data;
        self.dropped += 1;
        Ok(data)
    }
}

/// Defines `nebula:fixtures/store@0.1.0` in `linker`, backed by the
/// [`BlobStore`] that `get` finds in the store data.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut BlobStore,
) -> Result<()> {
    store::add_to_linker::<T, HasSelf<BlobStore>>(linker, get)
}
