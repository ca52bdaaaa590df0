//! Reading users from files and request bodies: the add-users JSON body, JSON lines, and
//! Rocket.Chat's `users.csv`.
//!
//! Every reader streams: it hands each user to a callback as soon as it is read, so a file
//! of any size is staged in constant memory. Errors name the record (index or line) and the
//! field; the callback's own errors (a missing email, an unknown role) pass through as they
//! are. Input must be UTF-8; a byte-order mark at the start is skipped.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::{InvalidParams, RecordRef};
use crate::{Engine, Error, NewUser, Operation, Password};

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
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
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
    let format = Format::from_path(path)
        .ok_or_else(|| InputError::UnknownFormat { path: path.to_owned() })?;
    let file = std::fs::File::open(path)
        .map_err(|source| InputError::Io { path: path.to_owned(), source })?;
    engine.stage_with(|stager| read_users(file, format, &mut |user, at| stager.push(user, at)))
}

/// Reads users in `format` from `reader`, handing each to `sink` in order.
pub fn read_users(
    reader: impl Read,
    format: Format,
    sink: &mut Sink<'_>,
) -> Result<(), InputError> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    skip_bom(&mut reader).map_err(io_error)?;
    match format {
        Format::Json => read_json(reader, sink),
        Format::Jsonl => read_jsonl(reader, sink),
        Format::Csv => read_csv(reader, sink),
    }
}

fn skip_bom(reader: &mut impl BufRead) -> io::Result<()> {
    if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    Ok(())
}

fn io_error(e: io::Error) -> InputError {
    InputError::Io { path: PathBuf::from("<input>"), source: e }
}

// ---- JSON body ----------------------------------------------------------------------------

fn read_json(reader: impl Read, sink: &mut Sink<'_>) -> Result<(), InputError> {
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
        if reader.read_until(b'\n', &mut bytes).map_err(io_error)? == 0 {
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

// ---- users.csv ----------------------------------------------------------------------------

const CSV_COLUMNS: [&str; 4] = ["username", "email", "name", "password"];

fn read_csv(reader: impl Read, sink: &mut Sink<'_>) -> Result<(), InputError> {
    // The csv crate miscounts lines after a CRLF, so lines are counted here, from the byte
    // offset where each record starts.
    let lines = Rc::new(RefCell::new(Newlines::default()));
    let counted = LineCounter { inner: reader, lines: Rc::clone(&lines) };
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(counted);
    let mut record = csv::StringRecord::new();
    let mut first = true;
    loop {
        let more = csv.read_record(&mut record).map_err(|e| csv_error(e, &lines))?;
        if !more {
            return Ok(());
        }
        let start = record.position().map_or(0, csv::Position::byte);
        let line = lines.borrow_mut().line_at(start);
        if std::mem::take(&mut first) && is_header(&record) {
            continue;
        }
        let at = RecordRef::Line(line);
        sink(csv_user(&record, line)?, at)?;
    }
}

/// The newlines read so far but not yet passed by a record: each offset, and whether a
/// carriage return stands just before it.
#[derive(Default)]
struct Newlines {
    passed: u64,
    ahead: VecDeque<(u64, bool)>,
    read: u64,
    last_was_cr: bool,
}

impl Newlines {
    /// The 1-based line of a record that the csv crate says starts at `offset`; offsets must
    /// not go backwards. The crate may put the start on the line break before the record
    /// (after a CRLF, or on blank lines), so line breaks right at the start are passed too.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut start = offset;
        while let Some(&(nl, after_cr)) = self.ahead.front() {
            let before = nl < start;
            let at_start = nl == start || (after_cr && nl == start + 1);
            if !(before || at_start) {
                break;
            }
            if at_start {
                start = nl + 1;
            }
            self.ahead.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// A reader that notes where its newlines are.
struct LineCounter<R> {
    inner: R,
    lines: Rc<RefCell<Newlines>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut lines = self.lines.borrow_mut();
        for (i, &byte) in buf[..n].iter().enumerate() {
            if byte == b'\n' {
                let offset = lines.read + i as u64;
                let after_cr = lines.last_was_cr;
                lines.ahead.push_back((offset, after_cr));
            }
            lines.last_was_cr = byte == b'\r';
        }
        lines.read += n as u64;
        Ok(n)
    }
}

fn is_header(record: &csv::StringRecord) -> bool {
    record.iter().zip(CSV_COLUMNS).all(|(field, name)| field.trim().eq_ignore_ascii_case(name))
}

fn csv_user(record: &csv::StringRecord, line: u64) -> Result<NewUser, InvalidParams> {
    if !(2..=CSV_COLUMNS.len()).contains(&record.len()) {
        let problem =
            format!("has {} columns; expected username,email,name[,password]", record.len());
        return Err(InvalidParams::new(format!("line {line}"), problem));
    }
    let field = |i: usize| record.get(i).map(|f| f.trim().to_owned());
    Ok(NewUser {
        username: field(0),
        emails: field(1).into_iter().collect(),
        name: field(2),
        // Passwords are taken exactly as written; only an empty one is absent.
        password: record.get(3).filter(|p| !p.is_empty()).map(Password::new),
        import_ids: vec![format!("csv:{line}")],
        ..NewUser::default()
    })
}

fn csv_error(e: csv::Error, lines: &RefCell<Newlines>) -> InputError {
    let line = e.position().map_or(0, |p| lines.borrow_mut().line_at(p.byte()));
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => InputError::NotUtf8 { line },
        csv::ErrorKind::Io(_) => match e.into_kind() {
            csv::ErrorKind::Io(io) => io_error(io),
            _ => unreachable!("the kind was checked above"),
        },
        _ => InputError::Malformed { message: format!("line {line}: malformed CSV: {e}") },
    }
}
