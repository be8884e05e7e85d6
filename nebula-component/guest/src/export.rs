//! The `nebula:instrument/instrumenter` export: converts between the WIT
//! types and the library's (by [`nebula_component::wit_conversions!`], the
//! same code the native host uses) and calls
//! [`nebula_component::instrument`].

wit_bindgen::generate!({
    path: "../../wit",
    world: "nebula:instrument/instrument",
});

use exports::nebula::instrument::instrumenter as wit;

nebula_component::wit_conversions!(wit);

struct Instrumenter;

impl wit::Guest for Instrumenter {
    fn instrument(
        component: Vec<u8>,
        options: wit::Options,
    ) -> Result<wit::Instrumented, wit::Error> {
        let options = options_from_wit(options).map_err(|e| error_to_wit(&e.into()))?;
        nebula_component::instrument(&component, &options)
            .map(instrumented_to_wit)
            .map_err(|e| error_to_wit(&e))
    }
}

export!(Instrumenter);
