//! Validation on every core, as `wasm-tools validate` does it: the module
//! and component structure in order, the function bodies in parallel.
//!
//! The native shim of `nebula.wasm` validates a large input here before it
//! hands the guest the input's skeleton (see [`nebula_component::Skeleton`]);
//! the instrument benchmark uses it as its "parallel validation" figure.

use wasmparser::{
    BinaryReaderError, FuncToValidate, FuncValidatorAllocations, FunctionBody, Parser,
    ValidPayload, Validator, ValidatorResources, WasmFeatures,
};

/// Validates `bytes` (a module or a component) with every feature
/// `nebula-component` accepts, spreading the function bodies over the
/// available cores.
pub fn in_parallel(bytes: &[u8]) -> Result<(), BinaryReaderError> {
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut bodies: Vec<(FuncToValidate<ValidatorResources>, FunctionBody<'_>)> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        if let ValidPayload::Func(func, body) = validator.payload(&payload?)? {
            bodies.push((func, body));
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = bodies.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let mut workers = Vec::new();
        while !bodies.is_empty() {
            let chunk: Vec<_> = bodies.drain(..per_thread.min(bodies.len())).collect();
            workers.push(scope.spawn(move || {
                let mut allocations = FuncValidatorAllocations::default();
                for (func, body) in chunk {
                    let mut validator = func.into_validator(allocations);
                    validator.validate(&body)?;
                    allocations = validator.into_allocations();
                }
                Ok(())
            }));
        }
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a validation thread panicked"))
    })
}
