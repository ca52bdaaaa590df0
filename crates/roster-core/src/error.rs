//! The typed errors of the engine.
//!
//! Every call of [`Engine`](crate::Engine) answers with [`Error`]. The variants that a
//! Rocket.Chat client can see display the exact Rocket.Chat wire string (capitalised, with
//! the trailing period where Rocket.Chat has one), so an adapter can pass `to_string()` on
//! unchanged; everything else follows the house style (lowercase, no trailing period). The
//! variants carry the data a caller needs to point at the bad record: see [`Error::location`].

use std::fmt;

/// Where a record came from, so that an error can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordRef {
    /// The record at this index of an add-users body (`users[3]`).
    Index(usize),
    /// The record on this line of a JSONL or CSV file (1-based).
    Line(u64),
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordRef::Index(i) => write!(f, "users[{i}]"),
            RecordRef::Line(n) => write!(f, "line {n}"),
        }
    }
}

/// A value of the wrong type, an unknown top-level key or a malformed document.
///
/// Displays as `<where>: <what>`; the HTTP adapter answers it as `[invalid-params]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} {problem}")]
pub struct InvalidParams {
    /// Where the bad value sits, for example `users[3].utcOffset` or `line 4: utcOffset`.
    pub path: String,
    /// What is wrong with it, for example `must be a number`.
    pub problem: String,
}

impl InvalidParams {
    pub(crate) fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        InvalidParams { path: path.into(), problem: problem.into() }
    }
}

/// A failure of the SQLite file under the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused a statement or could not read or write the file.
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer Roster, with a schema this build does not know.
    #[error("the store has schema version {found}, this build knows up to {known}")]
    UnknownSchema {
        /// The version recorded in the file.
        found: i64,
        /// The newest version this build can migrate to.
        known: i64,
    },
    /// The store's lock file could not be made or locked.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A stored value could not be decoded (the file was edited by hand or is damaged).
    #[error("the store holds a damaged record: {0}")]
    Corrupt(String),
}

/// Everything an engine call can answer with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Add users was called with no current operation (never made, or cleared).
    #[error("Import operation not initialized.")]
    NotInitialized,
    /// Add users was called while the current operation is importing or has ended.
    #[error("The current import operation can not receive new data.")]
    CannotReceiveData,
    /// Run was called on an operation that already ended `done`.
    #[error("The current import operation is already finished.")]
    AlreadyFinished,
    /// A staged user lacks a non-empty email or importId; nothing of the batch was staged.
    #[error("Users are missing required data.")]
    MissingRequiredData {
        /// The record without the field.
        record: RecordRef,
        /// `emails` or `importIds`.
        field: &'static str,
    },
    /// A staged user names a role outside the catalogue; nothing of the batch was staged.
    #[error("One or more of the users have been assigned invalid roles.")]
    InvalidRoles {
        /// The record with the role.
        record: RecordRef,
        /// The role that is not in the catalogue.
        role: String,
    },
    /// Run was called with no current operation.
    #[error("error-operation-not-found")]
    OperationNotFound,
    /// Run was called on an operation that is not `ready` (nothing staged, or importing).
    #[error("error-invalid-operation-status")]
    InvalidOperationStatus,
    /// The input had a value of the wrong type or an unknown key; nothing was staged.
    #[error(transparent)]
    InvalidParams(#[from] InvalidParams),
    /// No user has that username (from `verify_password` and user look-ups).
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// The [`Config`](crate::Config) given to `open` is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// Another engine (in this process or another) owns the store: it runs imports there.
    #[error(
        "{} is in use by another Roster engine (an import or a server); one at a time may \
         run imports in a store",
        path.display()
    )]
    StoreBusy {
        /// The store.
        path: std::path::PathBuf,
    },
    /// The engine was opened with `open_shared`, to look only.
    #[error("this engine was opened to look only; it cannot start, change or end an operation")]
    NotOwner,
    /// The store failed; the call changed nothing.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    /// The record and field an input error is about, as `users[3].emails` or
    /// `line 4: emails`, for messages that must say where the fault is.
    pub fn location(&self) -> Option<String> {
        match self {
            Error::MissingRequiredData { record, field } => Some(field_path(record, field)),
            Error::InvalidRoles { record, role } => {
                Some(format!("{} (role {role:?})", field_path(record, "roles")))
            }
            Error::InvalidParams(p) => Some(p.path.clone()),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(StoreError::Sqlite(e))
    }
}

/// `users[3].emails` for an index, `line 4: emails` for a line.
pub(crate) fn field_path(record: &RecordRef, field: &str) -> String {
    match record {
        RecordRef::Index(_) => format!("{record}.{field}"),
        RecordRef::Line(_) => format!("{record}: {field}"),
    }
}
