//! Bad input gets a typed error that names the problem and the fix, never a
//! panic.

mod common;

use nebula_component::{Error, ErrorKind, Options, OptionsError, instrument};

fn error_of(bytes: &[u8]) -> Error {
    match instrument(bytes, &Options::default()) {
        Ok(_) => panic!("instrumenting {} bytes of bad input succeeded", bytes.len()),
        Err(e) => e,
    }
}

fn sample() -> Vec<u8> {
    common::component(
        r#"
        package a:b;
        interface api { echo: func(s: string) -> string; }
        world w { export api; }
        "#,
    )
}

#[test]
fn empty_input() {
    let e = error_of(&[]);
    assert!(e.kind() == ErrorKind::NotAComponent, "{e:?}");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn random_bytes() {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let e = error_of(&bytes);
    assert!(e.kind() == ErrorKind::NotAComponent, "{e:?}");
    assert!(e.to_string().contains("not WebAssembly"), "{e}");
}

#[test]
fn text_files() {
    let e = error_of(b"hello, world\n");
    assert!(e.to_string().contains("text, not WebAssembly"), "{e}");
    let e = error_of(b"(component (core module))");
    assert!(e.to_string().contains("wasm-tools parse"), "{e}");
}

#[test]
fn core_module_says_how_to_make_a_component() {
    let module = wasm_encoder::Module::new().finish();
    let e = error_of(&module);
    assert!(e.kind() == ErrorKind::NotAComponent, "{e:?}");
    let message = e.to_string();
    assert!(message.contains("core WebAssembly module"), "{message}");
    assert!(message.contains("wasm-tools component new"), "{message}");
}

#[test]
fn truncated_component_is_invalid() {
    let bytes = sample();
    for len in [9, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        let e = error_of(&bytes[..len]);
        assert!(e.kind() == ErrorKind::Invalid, "truncated at {len}: {e:?}");
    }
}

#[test]
fn every_prefix_and_flipped_byte_gives_an_error_or_an_output() {
    // No input may panic: errors are typed, outputs validate.
    let bytes = sample();
    for len in 0..bytes.len() {
        let _ = instrument(&bytes[..len], &Options::default());
    }
    for i in (8..bytes.len()).step_by(7) {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x5a;
        if let Ok(out) = instrument(&flipped, &Options::default()) {
            wasmparser::Validator::new()
                .validate_all(&out.component)
                .expect("output of a mutated input validates");
        }
    }
}

#[test]
fn unknown_version_is_named() {
    let mut bytes = sample();
    bytes[4] = 0x0e;
    let e = error_of(&bytes);
    assert!(e.kind() == ErrorKind::NotAComponent, "{e:?}");
    assert!(e.to_string().contains("unknown version"), "{e}");
}

#[test]
fn wit_package_is_not_a_component() {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve
        .push_str("p.wit", "package a:b;\ninterface i { f: func(); }\n")
        .unwrap();
    let bytes = wit_component::encode(&resolve, pkg, false).unwrap();
    let e = error_of(&bytes);
    assert!(e.kind() == ErrorKind::NotAComponent, "{e:?}");
    assert!(e.to_string().contains("WIT package"), "{e}");
}

#[test]
fn bad_options_are_typed() {
    assert!(matches!(
        nebula_component::Pattern::new(""),
        Err(OptionsError::EmptyPattern)
    ));
}

/// `nebula.wasm`'s native shim makes the skeleton while the input is still
/// being validated: on bytes that are not a valid component it may fail or
/// make a skeleton of no use, but it never panics.
#[test]
fn a_skeleton_of_bad_bytes_does_not_panic() {
    let good = sample();
    for cut in (0..good.len()).step_by(7) {
        let _ = nebula_component::Skeleton::of(&good[..cut]);
    }
    for at in (8..good.len()).step_by(3) {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[at] ^= flip;
            let _ = nebula_component::Skeleton::of(&bad);
        }
    }
}
