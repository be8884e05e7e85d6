//! Edge-case values for any component type, and a structural equality that
//! compares floats by bit pattern.
//!
//! [`edge_values`] is driven by the type alone, so it works for components
//! nobody here wrote. Values nested in lists, records, variants, ... are
//! sampled (at most [`NESTED_SAMPLES`] per type) so nested types stay small.

use wasmtime::component::{Type, Val};

/// How many values of a type nested in another are used.
pub const NESTED_SAMPLES: usize = 4;

/// How many values a record, tuple or list of several elements gets beyond
/// its first and last combinations.
const COMBINATIONS: usize = 4;

/// Edge-case values of `ty`. Scalars: both booleans; integers 0, 1, min,
/// max (and -1 when signed); floats 0, -0, 1.5, NaNs with payload bits,
/// infinities, a subnormal, the extremes; chars 'a', '€', '\u{10FFFF}';
/// strings "", "hello", "héllo wörld 🌍" and 1000 characters. Composites
/// combine their parts' values: lists empty/one/several, records and tuples
/// field-wise combinations (first values, last values, ...), every variant
/// and enum case, options none/some, results ok/err, flags none/all/some.
///
/// Handle types (`own`, `borrow`) and async types give no values: tests
/// supply handles themselves. A type containing one gives only the values
/// that need none (the empty list, `none`, the other result case), or none
/// at all (a record with a handle field).
pub fn edge_values(ty: &Type) -> Vec<Val> {
    values(ty, false)
}

/// Values of `ty`; `nested` values are sampled down to [`NESTED_SAMPLES`].
fn values(ty: &Type, nested: bool) -> Vec<Val> {
    let all = match ty {
        Type::Bool => vec![Val::Bool(false), Val::Bool(true)],
        Type::S8 => signed(i8::MIN.into(), i8::MAX.into(), |v| Val::S8(v as i8)),
        Type::S16 => signed(i16::MIN.into(), i16::MAX.into(), |v| Val::S16(v as i16)),
        Type::S32 => signed(i32::MIN.into(), i32::MAX.into(), |v| Val::S32(v as i32)),
        Type::S64 => signed(i64::MIN, i64::MAX, Val::S64),
        Type::U8 => unsigned(u8::MAX.into(), |v| Val::U8(v as u8)),
        Type::U16 => unsigned(u16::MAX.into(), |v| Val::U16(v as u16)),
        Type::U32 => unsigned(u32::MAX.into(), |v| Val::U32(v as u32)),
        Type::U64 => unsigned(u64::MAX, Val::U64),
        Type::Float32 => f32_values().into_iter().map(Val::Float32).collect(),
        Type::Float64 => f64_values().into_iter().map(Val::Float64).collect(),
        Type::Char => ['a', '€', '\u{10FFFF}'].map(Val::Char).to_vec(),
        Type::String => string_values().into_iter().map(Val::String).collect(),
        Type::List(list) => list_values(&values(&list.ty(), true)),
        Type::FixedLengthList(list) => {
            let len = list.len() as usize;
            combine(&vec![values(&list.ty(), true); len], Val::FixedLengthList)
        }
        Type::Map(map) => map_values(&values(&map.key(), true), &values(&map.value(), true)),
        Type::Record(record) => {
            let (names, parts): (Vec<String>, Vec<Vec<Val>>) = record
                .fields()
                .map(|f| (f.name.to_owned(), values(&f.ty, true)))
                .unzip();
            combine(&parts, |vs| {
                Val::Record(names.iter().cloned().zip(vs).collect())
            })
        }
        Type::Tuple(tuple) => {
            let parts: Vec<_> = tuple.types().map(|t| values(&t, true)).collect();
            combine(&parts, Val::Tuple)
        }
        Type::Variant(variant) => variant
            .cases()
            .flat_map(|case| {
                let name = case.name.to_owned();
                payloads(case.ty.as_ref())
                    .into_iter()
                    .map(move |p| Val::Variant(name.clone(), p))
            })
            .collect(),
        Type::Enum(e) => e.names().map(|n| Val::Enum(n.to_owned())).collect(),
        Type::Option(opt) => std::iter::once(Val::Option(None))
            .chain(ends(values(&opt.ty(), true)).map(|v| Val::Option(Some(Box::new(v)))))
            .collect(),
        Type::Result(res) => {
            let ok = payloads(res.ok().as_ref()).into_iter().map(Ok);
            let err = payloads(res.err().as_ref()).into_iter().map(Err);
            ok.chain(err).map(Val::Result).collect()
        }
        Type::Flags(flags) => flag_values(&flags.names().collect::<Vec<_>>()),
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            Vec::new()
        }
    };
    if nested { sample(all) } else { all }
}

/// 0, 1, -1, `min`, `max`.
fn signed(min: i64, max: i64, make: impl Fn(i64) -> Val) -> Vec<Val> {
    [0, 1, -1, min, max].into_iter().map(make).collect()
}

/// 0, 1, `max`.
fn unsigned(max: u64, make: impl Fn(u64) -> Val) -> Vec<Val> {
    [0, 1, max].into_iter().map(make).collect()
}

/// Zeros, a plain value, NaNs with payloads, infinities, extremes, a
/// subnormal.
fn f32_values() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        1.5,
        f32::from_bits(0x7fc0_0001),
        f32::from_bits(0xffc0_1234),
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::from_bits(1),
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
    ]
}

/// Like [`f32_values`], for `f64`.
fn f64_values() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        1.5,
        f64::from_bits(0x7ff8_0000_0000_0001),
        f64::from_bits(0xfff8_0000_dead_beef),
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::from_bits(1),
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
    ]
}

/// Empty, ASCII, non-ASCII with a 4-byte character, 1000 characters.
fn string_values() -> Vec<String> {
    let long: String = "abcdé€🌍xyz".chars().cycle().take(1000).collect();
    vec![String::new(), "hello".into(), "héllo wörld 🌍".into(), long]
}

/// Empty, one element, every element.
fn list_values(elems: &[Val]) -> Vec<Val> {
    let mut out = vec![Val::List(Vec::new())];
    if let Some(first) = elems.first() {
        out.push(Val::List(vec![first.clone()]));
    }
    if elems.len() > 1 {
        out.push(Val::List(elems.to_vec()));
    }
    out
}

/// Empty, one entry, every key with the values in turn.
fn map_values(keys: &[Val], vals: &[Val]) -> Vec<Val> {
    let mut out = vec![Val::Map(Vec::new())];
    if keys.is_empty() || vals.is_empty() {
        return out;
    }
    out.push(Val::Map(vec![(keys[0].clone(), vals[0].clone())]));
    let all = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), vals[i % vals.len()].clone()))
        .collect();
    out.push(Val::Map(all));
    out
}

/// Field-wise combinations of `parts`: the i-th value takes each part's
/// value `i` (wrapping), for a few `i`, then each part's last value. No
/// values when a part has none.
fn combine(parts: &[Vec<Val>], make: impl Fn(Vec<Val>) -> Val) -> Vec<Val> {
    if parts.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    let widest = parts.iter().map(Vec::len).max().unwrap_or(0);
    let mut out: Vec<Val> = (0..widest.clamp(1, COMBINATIONS))
        .map(|i| make(parts.iter().map(|p| p[i % p.len()].clone()).collect()))
        .collect();
    if widest > 1 {
        out.push(make(parts.iter().map(|p| p[p.len() - 1].clone()).collect()));
    }
    out
}

/// The payloads of a case: `None` when it has no type, else the first and
/// last values of the type.
fn payloads(ty: Option<&Type>) -> Vec<Option<Box<Val>>> {
    match ty {
        None => vec![None],
        Some(ty) => ends(values(ty, true)).map(|v| Some(Box::new(v))).collect(),
    }
}

/// None, all, every other one, the last one.
fn flag_values(names: &[&str]) -> Vec<Val> {
    let pick = |keep: &dyn Fn(usize) -> bool| {
        let set = names.iter().enumerate().filter(|(i, _)| keep(*i));
        Val::Flags(set.map(|(_, n)| n.to_string()).collect())
    };
    let last = names.len().saturating_sub(1);
    vec![
        pick(&|_| false),
        pick(&|_| true),
        pick(&|i| i % 2 == 0),
        pick(&|i| i == last),
    ]
}

/// The first and last of `vals` (one value when there is only one).
fn ends(vals: Vec<Val>) -> impl Iterator<Item = Val> {
    let n = vals.len();
    vals.into_iter()
        .enumerate()
        .filter(move |(i, _)| *i == 0 || *i + 1 == n)
        .map(|(_, v)| v)
}

/// At most [`NESTED_SAMPLES`] of `vals`, evenly spread, first and last kept.
fn sample(vals: Vec<Val>) -> Vec<Val> {
    let n = vals.len();
    if n <= NESTED_SAMPLES {
        return vals;
    }
    let keep: Vec<usize> = (0..NESTED_SAMPLES)
        .map(|k| k * (n - 1) / (NESTED_SAMPLES - 1))
        .collect();
    vals.into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, v)| v)
        .collect()
}

/// Argument lists for a function with parameters `params`: call `i` takes
/// each parameter's value `i` (wrapping), for as many calls as the widest
/// parameter has values, so every value of every parameter is used. No
/// calls when a parameter has no values (e.g. a handle).
pub fn arg_combinations(params: &[Type]) -> Vec<Vec<Val>> {
    let parts: Vec<Vec<Val>> = params.iter().map(edge_values).collect();
    if parts.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    let widest = parts.iter().map(Vec::len).max().unwrap_or(1);
    (0..widest)
        .map(|i| parts.iter().map(|p| p[i % p.len()].clone()).collect())
        .collect()
}

/// Structural equality of two values; floats compare by bit pattern (so NaN
/// payloads and the sign of zero count), flags as sets.
pub fn same(a: &Val, b: &Val) -> bool {
    use Val::*;
    match (a, b) {
        (Float32(x), Float32(y)) => x.to_bits() == y.to_bits(),
        (Float64(x), Float64(y)) => x.to_bits() == y.to_bits(),
        (List(x), List(y)) | (Tuple(x), Tuple(y)) | (FixedLengthList(x), FixedLengthList(y)) => {
            all_same(x, y)
        }
        (Record(x), Record(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((n, v), (m, w))| n == m && same(v, w))
        }
        (Map(x), Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k, v), (l, w))| same(k, l) && same(v, w))
        }
        (Variant(n, x), Variant(m, y)) => n == m && same_opt(x, y),
        (Option(x), Option(y)) => same_opt(x, y),
        (Result(Ok(x)), Result(Ok(y))) | (Result(Err(x)), Result(Err(y))) => same_opt(x, y),
        (Flags(x), Flags(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            x.sort();
            y.sort();
            x == y
        }
        _ => a == b,
    }
}

/// [`same`] over two slices of equal length.
pub fn all_same(a: &[Val], b: &[Val]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

fn same_opt(a: &Option<Box<Val>>, b: &Option<Box<Val>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => same(x, y),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_compare_by_bits() {
        let nan = Val::Float32(f32::from_bits(0x7fc0_0001));
        assert!(same(&nan, &nan.clone()));
        assert!(!same(&nan, &Val::Float32(f32::NAN)));
        assert!(!same(&Val::Float64(0.0), &Val::Float64(-0.0)));
    }

    #[test]
    fn combinations_use_every_value() {
        let parts = vec![
            vec![Val::U8(0), Val::U8(1), Val::U8(2)],
            vec![Val::Bool(false)],
        ];
        let out = combine(&parts, Val::Tuple);
        assert_eq!(out.len(), 4);
        assert!(same(
            &out[3],
            &Val::Tuple(vec![Val::U8(2), Val::Bool(false)])
        ));
    }

    #[test]
    fn sampling_keeps_ends() {
        let vals: Vec<Val> = (0..10).map(Val::U32).collect();
        let kept = sample(vals);
        assert_eq!(kept.len(), NESTED_SAMPLES);
        assert!(same(&kept[0], &Val::U32(0)));
        assert!(same(&kept[NESTED_SAMPLES - 1], &Val::U32(9)));
    }
}
