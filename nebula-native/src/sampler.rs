//! Head sampling of the roots the host opens (`run <name>`, each served
//! request), as the OpenTelemetry SDKs configure it: `OTEL_TRACES_SAMPLER`
//! (`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`,
//! `parentbased_always_off`, `parentbased_traceidratio`; default
//! `parentbased_always_on`) with `OTEL_TRACES_SAMPLER_ARG` (the ratio,
//! default 1.0), or `--sample RATIO` (`parentbased_traceidratio`).
//!
//! The decision is the root's trace flags: a guest's spans follow their
//! parent's decision (the span runtime makes no span under an unsampled
//! parent), so a trace is exported whole or not at all.
//! `traceidratio` decides from the trace id alone (its low 63 bits against
//! the ratio, as the OpenTelemetry Rust SDK does), so every participant
//! sampling the same trace with the same ratio agrees.

use crate::host::otel::{SpanContext, TraceFlags, is_invalid};

/// Which roots are sampled.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// Every root.
    AlwaysOn,
    /// No root.
    AlwaysOff,
    /// A share of the traces, by trace id.
    TraceIdRatio(f64),
    /// The parent's decision when there is a (remote) parent, else the
    /// inner sampler's.
    ParentBased(Box<Sampler>),
}

impl Default for Sampler {
    /// `parentbased_always_on`, the OpenTelemetry default.
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

/// The sampler names `OTEL_TRACES_SAMPLER` takes.
const NAMES: &str = "always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off, parentbased_traceidratio";

impl Sampler {
    /// The sampler `--sample RATIO` (when given) or the environment
    /// (`env` reads a variable) asks for; the error names the bad value.
    pub fn configured(
        ratio: Option<f64>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        if let Some(ratio) = ratio {
            return Ok(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(
                check_ratio(ratio, "--sample")?,
            ))));
        }
        let Some(name) = env("OTEL_TRACES_SAMPLER").filter(|s| !s.trim().is_empty()) else {
            return Ok(Sampler::default());
        };
        let ratio = || -> Result<f64, String> {
            match env("OTEL_TRACES_SAMPLER_ARG").filter(|s| !s.trim().is_empty()) {
                None => Ok(1.0),
                Some(arg) => {
                    let value = arg.trim().parse::<f64>().map_err(|_| {
                        format!("OTEL_TRACES_SAMPLER_ARG `{arg}` is not a number between 0 and 1")
                    })?;
                    check_ratio(value, "OTEL_TRACES_SAMPLER_ARG")
                }
            }
        };
        let parent_based = |inner| Sampler::ParentBased(Box::new(inner));
        Ok(match name.trim() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatio(ratio()?),
            "parentbased_always_on" => parent_based(Sampler::AlwaysOn),
            "parentbased_always_off" => parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => parent_based(Sampler::TraceIdRatio(ratio()?)),
            other => {
                return Err(format!(
                    "OTEL_TRACES_SAMPLER `{other}` is not a sampler Nebula knows; use one of {NAMES}"
                ));
            }
        })
    }

    /// Whether a root with this `parent` (the invalid context for none) in
    /// trace `trace_id` is sampled.
    pub fn samples(&self, parent: &SpanContext, trace_id: &str) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(ratio) => ratio_samples(*ratio, trace_id),
            Sampler::ParentBased(inner) => {
                if is_invalid(parent) {
                    inner.samples(parent, trace_id)
                } else {
                    parent.trace_flags.contains(TraceFlags::SAMPLED)
                }
            }
        }
    }
}

fn check_ratio(ratio: f64, what: &str) -> Result<f64, String> {
    if (0.0..=1.0).contains(&ratio) {
        Ok(ratio)
    } else {
        Err(format!("{what} `{ratio}` is not a ratio between 0 and 1"))
    }
}

/// `traceidratio`'s decision: the trace id's low 64 bits, shifted to 63,
/// under `ratio` of 2^63.
fn ratio_samples(ratio: f64, trace_id: &str) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let low = trace_id
        .get(trace_id.len().saturating_sub(16)..)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    (low >> 1) < bound
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::otel::invalid_context;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn parent(sampled: bool) -> SpanContext {
        SpanContext {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            trace_flags: if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::empty()
            },
            is_remote: true,
            trace_state: Vec::new(),
        }
    }

    #[test]
    fn the_environment_names_every_sampler() {
        let on = Box::new(Sampler::AlwaysOn);
        let cases = [
            ("always_on", None, Sampler::AlwaysOn),
            ("always_off", None, Sampler::AlwaysOff),
            ("traceidratio", Some("0.5"), Sampler::TraceIdRatio(0.5)),
            ("traceidratio", None, Sampler::TraceIdRatio(1.0)),
            ("parentbased_always_on", None, Sampler::ParentBased(on)),
            (
                "parentbased_always_off",
                None,
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            ),
            (
                "parentbased_traceidratio",
                Some("0.1"),
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.1))),
            ),
        ];
        for (name, arg, want) in cases {
            let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
            vars.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
            assert_eq!(Sampler::configured(None, env(&vars)), Ok(want), "{name}");
        }
        assert_eq!(Sampler::configured(None, env(&[])), Ok(Sampler::default()));
    }

    #[test]
    fn the_flag_wins_and_bad_values_are_named() {
        let vars = [("OTEL_TRACES_SAMPLER", "always_off")];
        assert_eq!(
            Sampler::configured(Some(0.25), env(&vars)),
            Ok(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.25))))
        );
        let err = Sampler::configured(Some(1.5), env(&[])).unwrap_err();
        assert!(err.contains("--sample `1.5`"), "{err}");
        let err =
            Sampler::configured(None, env(&[("OTEL_TRACES_SAMPLER", "sometimes")])).unwrap_err();
        assert!(
            err.contains("`sometimes`") && err.contains("traceidratio"),
            "{err}"
        );
        let vars = [
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "half"),
        ];
        let err = Sampler::configured(None, env(&vars)).unwrap_err();
        assert!(err.contains("`half`"), "{err}");
    }

    #[test]
    fn parent_based_samplers_follow_a_valid_parent() {
        let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        assert!(sampler.samples(&parent(true), "1"));
        assert!(!sampler.samples(&parent(false), "1"));
        assert!(!sampler.samples(&invalid_context(), "1"));
        assert!(Sampler::AlwaysOn.samples(&parent(false), "1"));
    }

    #[test]
    fn the_ratio_decides_by_trace_id() {
        let sampler = Sampler::TraceIdRatio(0.25);
        let none = invalid_context();
        assert!(sampler.samples(&none, "00000000000000000000000000000000"));
        assert!(!sampler.samples(&none, "0000000000000000ffffffffffffffff"));
        // A quarter of evenly spread ids.
        let sampled = (0..4000u64)
            .filter(|i| {
                let id = format!("{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                sampler.samples(&none, &id)
            })
            .count();
        assert!((900..1100).contains(&sampled), "{sampled}");
        assert!(Sampler::TraceIdRatio(1.0).samples(&none, "f".repeat(32).as_str()));
        assert!(!Sampler::TraceIdRatio(0.0).samples(&none, &"0".repeat(32)));
    }
}
