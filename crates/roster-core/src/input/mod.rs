//! Reading users from files and request bodies: the add-users JSON body, JSON lines, and
//! Rocket.Chat's `users.csv`.
//!
//! Every reader streams: it hands each user to a callback as soon as it is read, so a file
//! of any size is staged in constant memory. Errors name the record (index or line) and the
//! field; the callback's own errors (a missing email, an unknown role) pass through as they
//! are. Input must be UTF-8 ([`source`] checks it, with the line of a fault); a byte-order
//! mark at the start is skipped.

use std::fmt;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::{InvalidParams, RecordRef};
use crate::{Config, Engine, Error, NewUser, Operation, Stager};

use source::Source;

mod csv;
mod source;

/// The kinds of input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An add-users body, `{"users": [...]}`.
    Json,
    /// One user object per line; blank lines are ignored.
    Jsonl,
    /// `username,email,name[,password]`, with an optional header row.
    Csv,
}

impl Format {
    /// The format a file's extension names: `.json`, `.jsonl` or `.ndjson`, `.csv`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Why an input could not be read or staged. Nothing was staged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The input could not be opened or read.
    #[error("cannot read {}: {source}", path.as_deref().map_or("the input".into(), Path::to_string_lossy))]
    Io {
        /// The file, when the input is one.
        path: Option<PathBuf>,
        /// What the OS said.
        source: io::Error,
    },
    /// The file's extension names no known format.
    #[error("{}: unknown file type; expected .json, .jsonl, .ndjson or .csv", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The input is not UTF-8.
    #[error("line {line}: not valid UTF-8")]
    NotUtf8 {
        /// The first line holding a byte that is not UTF-8.
        line: u64,
    },
    /// The input is not well-formed JSON or CSV.
    #[error("{message}")]
    Malformed {
        /// What is wrong and where (line and column).
        message: String,
    },
    /// A record was refused: a wrong type, a missing email, an unknown role.
    #[error(transparent)]
    Record(#[from] Error),
}

impl From<InvalidParams> for InputError {
    fn from(e: InvalidParams) -> Self {
        InputError::Record(Error::InvalidParams(e))
    }
}

/// The callback each reader hands users to.
pub type Sink<'a> = dyn FnMut(NewUser, RecordRef) -> Result<(), Error> + 'a;

/// Stages the users of the file at `path` into the current operation, all or nothing.
pub fn stage_file(engine: &Engine, path: &Path) -> Result<Operation, InputError> {
    let (file, format) = open(path)?;
    let staged =
        engine.stage_with(|stager| read_users(file, format, &mut |u, at| stager.push(u, at)));
    staged.map_err(|e| e.at_path(path))
}

/// Reads and checks every user of the file at `path` as staging under `config` would,
/// without any store; returns how many users it holds. A host can check a file before it
/// opens a store or starts an operation for it, so that a bad file changes nothing at all.
pub fn check_file(config: &Config, path: &Path) -> Result<u64, InputError> {
    let (file, format) = open(path)?;
    let mut stager = Stager::checking(config);
    read_users(file, format, &mut |u, at| stager.push(u, at)).map_err(|e| e.at_path(path))?;
    Ok(stager.added())
}

fn open(path: &Path) -> Result<(std::fs::File, Format), InputError> {
    let format = Format::from_path(path)
        .ok_or_else(|| InputError::UnknownFormat { path: path.to_owned() })?;
    let failed = |source| InputError::Io { path: Some(path.to_owned()), source };
    if path.is_dir() {
        return Err(failed(io::Error::new(io::ErrorKind::InvalidInput, "it is a directory")));
    }
    Ok((std::fs::File::open(path).map_err(failed)?, format))
}

impl InputError {
    /// Names `path` in a read error that did not know it.
    fn at_path(self, path: &Path) -> InputError {
        match self {
            InputError::Io { path: None, source } => {
                InputError::Io { path: Some(path.to_owned()), source }
            }
            other => other,
        }
    }
}

/// Reads users in `format` from `reader`, handing each to `sink` in order.
pub fn read_users(
    reader: impl Read,
    format: Format,
    sink: &mut Sink<'_>,
) -> Result<(), InputError> {
    let tracking = format == Format::Csv;
    let (source, progress) = Source::open(reader, tracking).map_err(read_error)?;
    let read = match format {
        Format::Json => read_json(source, sink),
        Format::Jsonl => read_jsonl(source, sink),
        Format::Csv => csv::read(source, &progress, sink),
    };
    // A decoding fault surfaces as whatever error the format reader made of the failed read;
    // the source knows where it was.
    match progress.not_utf8_line() {
        Some(line) => Err(InputError::NotUtf8 { line }),
        None => read,
    }
}

fn read_error(e: io::Error) -> InputError {
    InputError::Io { path: None, source: e }
}

// ---- JSON body ----------------------------------------------------------------------------

fn read_json(reader: impl BufRead, sink: &mut Sink<'_>) -> Result<(), InputError> {
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let read =
        BodySeed { sink, failure: &mut failure }.deserialize(&mut de).and_then(|()| de.end());
    match (failure, read) {
        (Some(e), _) => Err(e),
        (None, Ok(())) => Ok(()),
        (None, Err(e)) => Err(InputError::Malformed { message: format!("malformed JSON: {e}") }),
    }
}

/// Walks `{"users": [...]}` one user at a time. A failure of a user or of the sink is kept
/// in `failure`, and deserialization is stopped with a placeholder error.
struct BodySeed<'s, 'f, 'a> {
    sink: &'s mut Sink<'a>,
    failure: &'f mut Option<InputError>,
}

impl<'de> DeserializeSeed<'de> for BodySeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {\"users\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key != "users" {
                let problem = "is not accepted; the body holds only \"users\"";
                return Err(self.fail(InvalidParams::new(key, problem).into()));
            }
            map.next_value_seed(UsersSeed { sink: &mut *self.sink, failure: &mut *self.failure })?;
            seen = true;
        }
        if !seen {
            return Err(self.fail(InvalidParams::new("users", "is required").into()));
        }
        Ok(())
    }
}

impl BodySeed<'_, '_, '_> {
    fn fail<E: de::Error>(self, failure: InputError) -> E {
        *self.failure = Some(failure);
        E::custom("stopped")
    }
}

struct UsersSeed<'s, 'f, 'a> {
    sink: &'s mut Sink<'a>,
    failure: &'f mut Option<InputError>,
}

impl<'de> DeserializeSeed<'de> for UsersSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UsersSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of users")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            let at = RecordRef::Index(index);
            let pushed = NewUser::from_json(&value, &at)
                .map_err(InputError::from)
                .and_then(|user| (self.sink)(user, at).map_err(InputError::from));
            if let Err(e) = pushed {
                *self.failure = Some(e);
                return Err(de::Error::custom("stopped"));
            }
            index += 1;
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_an_array()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_array()
    }
}

impl UsersSeed<'_, '_, '_> {
    fn not_an_array<E: de::Error>(self) -> Result<(), E> {
        *self.failure = Some(InvalidParams::new("users", "must be an array").into());
        Err(E::custom("stopped"))
    }
}

// ---- JSON lines ---------------------------------------------------------------------------

fn read_jsonl(mut reader: impl BufRead, sink: &mut Sink<'_>) -> Result<(), InputError> {
    let mut bytes = Vec::new();
    for line in 1u64.. {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes).map_err(read_error)? == 0 {
            return Ok(());
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| InputError::NotUtf8 { line })?;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(text).map_err(|e| InputError::Malformed {
            message: format!("line {line}: malformed JSON: {e}"),
        })?;
        let at = RecordRef::Line(line);
        let user = NewUser::from_json(&value, &at)?;
        sink(user, at)?;
    }
    Ok(())
}
