//! The `imports` guest: `work-imports(n)` calls the host's
//! `host-work.tick` `n` times, the call the run benchmark times plain and
//! with the import wrapped in client spans by Nebula.

wit_bindgen::generate!({
    path: ["../../../wit/deps/clocks", "../../../wit/deps/otel", "../wit"],
    world: "nebula:guests/imports-guest@0.1.0",
});

use exports::nebula::guests::imports::Guest;
use nebula::guests::host_work;

struct Imports;

impl Guest for Imports {
    fn work_imports(n: u32) -> u32 {
        (0..std::hint::black_box(n)).fold(0u32, |acc, i| acc.wrapping_add(host_work::tick(i)))
    }
}

export!(Imports);
