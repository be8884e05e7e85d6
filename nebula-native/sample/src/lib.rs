//! The sample component of `nebula instrument`'s README command.

wit_bindgen::generate!({
    path: "wit",
    world: "nebula:sample/sample@0.1.0",
});

use exports::nebula::sample::{calculator, greeter};

struct Sample;

impl calculator::Guest for Sample {
    fn add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }

    fn divide(a: f64, b: f64) -> Result<f64, String> {
        if b == 0.0 {
            Err(format!("cannot divide {a} by zero"))
        } else {
            Ok(a / b)
        }
    }

    fn sum(values: Vec<f64>) -> f64 {
        values.iter().sum()
    }
}

impl greeter::Guest for Sample {
    fn greet(name: String) -> String {
        format!("Hello, {name}!")
    }

    fn shout(words: Vec<String>) -> Vec<String> {
        words.iter().map(|w| w.to_uppercase()).collect()
    }
}

impl Guest for Sample {
    fn version() -> String {
        env!("CARGO_PKG_VERSION").into()
    }
}

export!(Sample);
