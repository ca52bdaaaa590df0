//! Rocket.Chat's `users.csv`: `username,email,name`, an optional `password` column, and an
//! optional header row.
//!
//! With a header (a first row that has a field `email`, in any letter case), the columns are
//! found by their names, in any order, and an unknown name is an error: a column that is not
//! understood must not quietly land in another field (a password in the display name). With
//! no header, the columns are taken in the documented order.

use std::io::Read;

use super::source::Progress;
use super::{InputError, Sink};
use crate::error::{InvalidParams, RecordRef};
use crate::{NewUser, Password};

const COLUMNS: [&str; 4] = ["username", "email", "name", "password"];

/// Where each known column sits in a row.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    username: Option<usize>,
    email: usize,
    name: Option<usize>,
    password: Option<usize>,
    /// How many fields a row has: exactly, under a header; 2 up to this, without one.
    width: usize,
    header: bool,
}

/// The layout of a file without a header: `username,email,name[,password]`.
const POSITIONAL: Layout = Layout {
    username: Some(0),
    email: 1,
    name: Some(2),
    password: Some(3),
    width: 4,
    header: false,
};

pub(super) fn read(
    reader: impl Read,
    progress: &Progress,
    sink: &mut Sink<'_>,
) -> Result<(), InputError> {
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(reader);
    let mut record = csv::StringRecord::new();
    let mut layout = None;
    loop {
        if !csv.read_record(&mut record).map_err(|e| error(e, progress))? {
            return Ok(());
        }
        // The csv crate miscounts lines after a CRLF, so lines are counted by the source,
        // from the byte where each record starts.
        let start = record.position().map_or(0, csv::Position::byte);
        let line = progress.line_at(start);
        // The csv crate is lenient: a quote that never closes swallows the rest of the file
        // into one field (rows vanish, passwords become names). An odd count of quotes in a
        // record's bytes is that, or a stray quote; either way the row is refused.
        if progress.quotes_between(start, csv.position().byte()) % 2 == 1 {
            let problem = "has an unbalanced double quote (a quoted field must close, and a quote inside one is written twice)";
            return Err(InvalidParams::new(format!("line {line}"), problem).into());
        }
        let layout = match layout {
            Some(layout) => layout,
            None => {
                let (found, is_header) = header(&record, line)?;
                layout = Some(found);
                if is_header {
                    continue;
                }
                found
            }
        };
        let at = RecordRef::Line(line);
        sink(user(&record, &layout, line)?, at)?;
    }
}

/// The layout the first row gives, and whether that row is a header: it is one when a field
/// is `email` and no field holds an address (a data row always has its `@`).
fn header(first: &csv::StringRecord, line: u64) -> Result<(Layout, bool), InvalidParams> {
    let names: Vec<String> = first.iter().map(|f| f.trim().to_ascii_lowercase()).collect();
    if !names.iter().any(|n| n == "email") || names.iter().any(|n| n.contains('@')) {
        return Ok((POSITIONAL, false));
    }
    let at = format!("line {line}");
    let mut found: [Option<usize>; 4] = [None; 4];
    for (i, name) in names.iter().enumerate() {
        let known = COLUMNS.iter().position(|c| c == name).ok_or_else(|| {
            let problem =
                format!("names an unknown column {name:?}; the columns are {}", COLUMNS.join(", "));
            InvalidParams::new(at.clone(), problem)
        })?;
        if found[known].replace(i).is_some() {
            return Err(InvalidParams::new(at, format!("names the column {name:?} twice")));
        }
    }
    let [username, email, name, password] = found;
    let email = email.unwrap_or_default();
    Ok((Layout { username, email, name, password, width: names.len(), header: true }, true))
}

fn user(record: &csv::StringRecord, layout: &Layout, line: u64) -> Result<NewUser, InvalidParams> {
    let fits = if layout == &POSITIONAL {
        (2..=4).contains(&record.len())
    } else {
        record.len() == layout.width
    };
    if !fits {
        let expected =
            if layout == &POSITIONAL { "2 to 4".to_owned() } else { layout.width.to_string() };
        let problem = format!("has {} fields; expected {expected}", record.len());
        return Err(InvalidParams::new(format!("line {line}"), problem));
    }
    let field =
        |column: Option<usize>| column.and_then(|i| record.get(i)).map(|f| f.trim().to_owned());
    Ok(NewUser {
        username: field(layout.username),
        emails: field(Some(layout.email)).into_iter().collect(),
        name: field(layout.name),
        // A password is taken exactly as written; only an empty one is absent.
        password: layout
            .password
            .and_then(|i| record.get(i))
            .filter(|p| !p.is_empty())
            .map(Password::new),
        import_ids: vec![format!("csv:{line}")],
        ..NewUser::default()
    })
}

fn error(e: csv::Error, progress: &Progress) -> InputError {
    let line = e.position().map_or(0, |p| progress.line_at(p.byte()));
    match e.into_kind() {
        csv::ErrorKind::Utf8 { .. } => InputError::NotUtf8 { line },
        csv::ErrorKind::Io(source) => InputError::Io { path: None, source },
        other => {
            InputError::Malformed { message: format!("line {line}: malformed CSV: {other:?}") }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(fields.to_vec())
    }

    #[test]
    fn a_header_sets_the_columns_by_name() {
        let (layout, is_header) = header(&row(&["Email", " password ", "username"]), 1).unwrap();
        assert!(is_header);
        assert_eq!(layout.email, 0);
        assert_eq!(layout.password, Some(1));
        assert_eq!(layout.username, Some(2));
        assert_eq!(layout.name, None);
        let user = user(&row(&["a@x.org", " pw ", "ann"]), &layout, 2).unwrap();
        assert_eq!(user.username.as_deref(), Some("ann"));
        assert_eq!(user.name, None);
        assert_eq!(user.password, Some(Password::new(" pw ")));
    }

    #[test]
    fn a_header_with_an_unknown_or_repeated_column_is_refused() {
        let err = header(&row(&["username", "email", "deleted"]), 1).unwrap_err();
        assert_eq!(err.path, "line 1");
        assert!(err.problem.contains("\"deleted\""), "{err}");
        assert!(header(&row(&["email", "EMAIL"]), 1).is_err());
    }

    #[test]
    fn a_header_in_the_documented_order_still_wants_every_field() {
        let (layout, _) = header(&row(&["username", "email", "name", "password"]), 1).unwrap();
        assert!(user(&row(&["bob", "bob@x.org", "Bob"]), &layout, 2).is_err());
    }

    #[test]
    fn without_a_header_columns_are_positional() {
        let (layout, is_header) = header(&row(&["ann", "a@x.org", "Ann"]), 1).unwrap();
        assert!(!is_header);
        assert_eq!(layout, POSITIONAL);
        let (_, is_header) = header(&row(&["email", "email@x.org", "Email"]), 1).unwrap();
        assert!(!is_header, "a user named email is data");
        let err = user(&row(&["a", "b", "c", "d", "e"]), &layout, 7).unwrap_err();
        assert_eq!(err.to_string(), "line 7 has 5 fields; expected 2 to 4");
    }
}
