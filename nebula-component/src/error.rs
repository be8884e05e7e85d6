//! Why instrumenting failed, by stage, with messages that say the fix.
//!
//! Each stage has an error type of its own ([`InputError`] for reading the
//! input, [`OptionsError`] for the options, [`Unsupported`] for what the
//! analysis and the composer cannot do yet, [`Internal`] for Nebula's own
//! bugs), and [`Error`] is one of them, or one of them inside an inner
//! component. Causes are kept as `source()` chains, never flattened into a
//! message: [`Error::kind`], [`Error::to_string`] and [`Error::causes`] are
//! exactly what crosses the WIT boundary (the `error` record's `kind`,
//! `message` and `causes`), and [`Error::reported`] rebuilds the same chain
//! on the other side, so the native CLI, `nebula.wasm` and JS print the
//! same lines.

use std::error::Error as StdError;
use std::fmt;

pub use crate::input::InputError;
pub use crate::options::OptionsError;

/// A cause of any type, as `source()` hands it out.
type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// Why [`crate::instrument`] failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not a valid component.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The options do not make sense.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The input uses something this version of Nebula cannot instrument.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    /// A bug in Nebula: something it generated did not encode or validate.
    #[error(transparent)]
    Internal(#[from] Internal),
    /// One of the above, about an inner component of a composition.
    #[error("inner component `{label}`")]
    Inside {
        /// The inner component's name, else `#index`.
        label: String,
        /// What went wrong in it.
        #[source]
        error: Box<Error>,
    },
    /// An error that crossed a boundary as its kind, message and causes
    /// (from `nebula.wasm`'s WIT `error`): the same chain, rebuilt.
    #[error("{message}")]
    Reported {
        /// The kind it was sent with.
        kind: ErrorKind,
        /// The outermost message.
        message: String,
        /// The causes, outermost first.
        #[source]
        causes: Option<Box<ReportedCause>>,
    },
}

/// What kind of problem an [`Error`] is: the case of the WIT `error-kind`
/// and the JS `NebulaError.kind`, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not a WebAssembly component (a core module, text, a
    /// WIT package); the message says what it is and how to make one.
    NotAComponent,
    /// The input is a component but does not validate.
    Invalid,
    /// The input uses something this version cannot instrument.
    Unsupported,
    /// Options that do not make sense (a malformed pattern or version).
    BadOptions,
    /// A bug in Nebula.
    Internal,
}

impl Error {
    /// Which kind of problem this is, whatever inner component it is in.
    pub fn kind(&self) -> ErrorKind {
        match self {
            // A component that does not validate is `invalid`; anything
            // else that is no component is `not-a-component`.
            Error::Input(InputError::Invalid(_)) => ErrorKind::Invalid,
            Error::Input(
                InputError::Empty
                | InputError::WasmText
                | InputError::Text
                | InputError::NotWasm
                | InputError::CoreModule
                | InputError::UnknownVersion
                | InputError::WitPackage,
            ) => ErrorKind::NotAComponent,
            Error::Options(_) => ErrorKind::BadOptions,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Inside { error, .. } => error.kind(),
            Error::Reported { kind, .. } => *kind,
        }
    }

    /// The messages of the causes under this error, outermost first.
    pub fn causes(&self) -> Vec<String> {
        let mut causes = Vec::new();
        let mut next = self.source();
        while let Some(cause) = next {
            causes.push(cause.to_string());
            next = cause.source();
        }
        causes
    }

    /// The error sent as `kind`, `message` and `causes` (what
    /// [`Error::kind`], `to_string` and [`Error::causes`] gave on the other
    /// side), with the same `Display` and `source()` chain.
    pub fn reported(kind: ErrorKind, message: String, causes: Vec<String>) -> Self {
        let causes = causes.into_iter().rev().fold(None, |next, message| {
            Some(Box::new(ReportedCause { message, next }))
        });
        Error::Reported {
            kind,
            message,
            causes,
        }
    }

    /// A bug in Nebula, with the error that revealed it as its cause.
    pub(crate) fn internal(context: &str, error: impl Into<Cause>) -> Self {
        Error::Internal(Internal {
            context: context.to_string(),
            source: Some(error.into()),
        })
    }

    /// A bug in Nebula that `message` describes.
    pub(crate) fn bug(message: impl Into<String>) -> Self {
        Error::Internal(Internal {
            context: message.into(),
            source: None,
        })
    }

    /// The same error, said to be about the inner component `label` of a
    /// composition (options are about no component).
    pub(crate) fn inside(self, label: &str) -> Self {
        match self {
            Error::Options(_) => self,
            error => Error::Inside {
                label: label.to_string(),
                error: Box::new(error),
            },
        }
    }
}

/// What the analysis and the composer cannot handle yet.
#[derive(Debug, thiserror::Error)]
pub enum Unsupported {
    /// `wit-parser` could not recover the component's world.
    #[error("cannot recover the component's WIT world")]
    World(#[source] Cause),
    /// The component has a `nebula:spans` package of its own.
    #[error("the component's `nebula:spans` package conflicts with Nebula's own")]
    SpansPackage(#[source] Cause),
    /// A world-level type holds a handle but comes from no imported
    /// interface.
    #[error(
        "the world-level type `{name}` holds a handle to resource `{resource}` but is \
         not taken from an imported interface, which Nebula cannot compose yet"
    )]
    WorldTypeHandle {
        /// The world-level type.
        name: String,
        /// The resource it holds a handle to.
        resource: String,
    },
    /// Inner components import one name with types that no single type
    /// can satisfy.
    #[error(
        "the parts of this component import `{name}` with incompatible types; \
         one output cannot import both"
    )]
    IncompatibleImports {
        /// The import.
        name: String,
        /// Why the types disagree.
        #[source]
        source: Cause,
    },
}

/// A bug in Nebula: something it generated did not encode or validate.
#[derive(Debug, thiserror::Error)]
#[error("internal error (please report it): {context}")]
pub struct Internal {
    context: String,
    #[source]
    source: Option<Cause>,
}

/// One cause of an [`Error::Reported`], linked to the next.
#[derive(Debug)]
pub struct ReportedCause {
    message: String,
    next: Option<Box<ReportedCause>>,
}

impl fmt::Display for ReportedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ReportedCause {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.next.as_deref().map(|c| c as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_error_has_the_chain_it_was_sent_with() {
        let sent =
            Error::internal("encoding", anyhow::anyhow!("deep").context("middle")).inside("inner");
        let message = sent.to_string();
        let causes = sent.causes();
        assert_eq!(message, "inner component `inner`");
        assert_eq!(
            causes,
            [
                "internal error (please report it): encoding",
                "middle",
                "deep"
            ]
        );
        let received = Error::reported(sent.kind(), message.clone(), causes.clone());
        assert_eq!(received.kind(), ErrorKind::Internal);
        assert_eq!(received.to_string(), message);
        assert_eq!(received.causes(), causes);
    }

    #[test]
    fn options_errors_are_about_no_component() {
        let e = Error::from(OptionsError::EmptyPattern).inside("inner");
        assert!(matches!(e, Error::Options(_)));
        assert_eq!(e.kind(), ErrorKind::BadOptions);
    }
}
