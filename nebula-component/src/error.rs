//! Why instrumenting failed, by stage, with messages that say the fix.

/// Why [`crate::instrument`] failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not a WebAssembly component; the message says what it is
    /// and how to make a component of it.
    #[error("{0}")]
    NotAComponent(String),
    /// The input is a component, but it does not validate.
    #[error("invalid component: {0}")]
    Invalid(String),
    /// The input uses something this version of Nebula cannot instrument.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The options do not make sense.
    #[error("bad options: {0}")]
    BadOptions(String),
    /// A bug in Nebula: something it generated did not encode or validate.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

impl Error {
    /// An internal error with the whole `anyhow` chain in its message.
    pub(crate) fn internal(context: &str, error: impl Into<anyhow::Error>) -> Self {
        Error::Internal(format!("{context}: {:#}", error.into()))
    }

    /// The same error, said to be about the inner component `label` of a
    /// composition.
    pub(crate) fn inside(self, label: &str) -> Self {
        let at = |message: String| format!("inner component `{label}`: {message}");
        match self {
            Error::NotAComponent(m) => Error::NotAComponent(at(m)),
            Error::Invalid(m) => Error::Invalid(at(m)),
            Error::Unsupported(m) => Error::Unsupported(at(m)),
            Error::BadOptions(m) => Error::BadOptions(m),
            Error::Internal(m) => Error::Internal(at(m)),
        }
    }
}
