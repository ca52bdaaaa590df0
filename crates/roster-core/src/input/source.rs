//! The byte source under every reader: it skips a byte-order mark, checks that the input is
//! UTF-8 as it streams by, and keeps count of lines, so that a decoding fault, and a CSV
//! record, can be given the line a person would see in an editor.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

const BUFFER: usize = 1 << 16;

/// What the source has seen, shared with the reader that consumes it.
#[derive(Clone)]
pub(super) struct Progress(Rc<RefCell<Seen>>);

#[derive(Default)]
struct Seen {
    /// Newlines in the bytes passed on so far.
    lines: u64,
    /// Bytes passed on so far.
    read: u64,
    /// The start of a character split across two reads.
    partial: Vec<u8>,
    /// The line of the first byte that is not UTF-8.
    not_utf8: Option<u64>,
    /// When lines are tracked: newlines not yet passed by a record, each with whether a
    /// carriage return stands just before it.
    ahead: Option<VecDeque<(u64, bool)>>,
    passed: u64,
    last_was_cr: bool,
    /// When lines are tracked: the offsets of double quotes not yet passed by a record.
    quotes: VecDeque<u64>,
}

/// A reader that checks and counts what it passes on.
pub(super) struct Source<R> {
    inner: BufReader<io::Chain<io::Cursor<Vec<u8>>, R>>,
    seen: Progress,
}

impl<R: Read> Source<R> {
    /// Wraps `reader`; `track_lines` keeps the newline positions [`Progress::line_at`] needs.
    pub(super) fn open(mut reader: R, track_lines: bool) -> io::Result<(impl BufRead, Progress)> {
        // A reader may hand out fewer than three bytes at a time, so the first three are
        // gathered before they are compared with the byte-order mark.
        let mut head = Vec::with_capacity(3);
        while head.len() < 3 {
            let mut byte = [0u8; 3];
            let n = match reader.read(&mut byte[..3 - head.len()]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                read => read?,
            };
            if n == 0 {
                break;
            }
            head.extend_from_slice(&byte[..n]);
        }
        if head == b"\xEF\xBB\xBF" {
            head.clear();
        }
        let inner = BufReader::with_capacity(BUFFER, io::Cursor::new(head).chain(reader));
        let seen = Seen { ahead: track_lines.then(VecDeque::new), ..Seen::default() };
        let progress = Progress(Rc::new(RefCell::new(seen)));
        let source = Source { inner, seen: progress.clone() };
        Ok((BufReader::with_capacity(BUFFER, source), progress))
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut seen = self.seen.0.borrow_mut();
        if seen.not_utf8.is_some() {
            return Err(not_utf8());
        }
        let n = self.inner.read(buf)?;
        seen.check(&buf[..n])?;
        seen.count(&buf[..n]);
        Ok(n)
    }
}

fn not_utf8() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "the input is not valid UTF-8")
}

impl Seen {
    /// Checks that `chunk`, after what came before, is still UTF-8.
    fn check(&mut self, chunk: &[u8]) -> io::Result<()> {
        if chunk.is_empty() {
            if !self.partial.is_empty() {
                self.not_utf8 = Some(self.lines + 1);
                return Err(not_utf8());
            }
            return Ok(());
        }
        let joined;
        let bytes = if self.partial.is_empty() {
            chunk
        } else {
            joined = [std::mem::take(&mut self.partial).as_slice(), chunk].concat();
            &joined
        };
        let Err(fault) = std::str::from_utf8(bytes) else { return Ok(()) };
        let valid = fault.valid_up_to();
        if fault.error_len().is_none() && bytes.len() - valid < 4 {
            // A character cut by the end of this read; the next read completes it.
            self.partial = bytes[valid..].to_vec();
            return Ok(());
        }
        let before = bytes[..valid].iter().filter(|b| **b == b'\n').count() as u64;
        self.not_utf8 = Some(self.lines + before + 1);
        Err(not_utf8())
    }

    fn count(&mut self, chunk: &[u8]) {
        for (i, &byte) in chunk.iter().enumerate() {
            let offset = self.read + i as u64;
            if byte == b'\n' {
                self.lines += 1;
                let after_cr = self.last_was_cr;
                if let Some(ahead) = &mut self.ahead {
                    ahead.push_back((offset, after_cr));
                }
            } else if byte == b'"' && self.ahead.is_some() {
                self.quotes.push_back(offset);
            }
            self.last_was_cr = byte == b'\r';
        }
        self.read += chunk.len() as u64;
    }
}

impl Progress {
    /// The line of the first byte that was not UTF-8, if there was one.
    pub(super) fn not_utf8_line(&self) -> Option<u64> {
        self.0.borrow().not_utf8
    }

    /// The 1-based line of a record that a reader says starts at byte `offset`; offsets must
    /// not go backwards. The csv crate may put a record's start on the line break before it
    /// (after a CRLF, or blank lines), so line breaks right at the start are passed too.
    pub(super) fn line_at(&self, offset: u64) -> u64 {
        let mut seen = self.0.borrow_mut();
        let mut start = offset;
        let mut passed = seen.passed;
        if let Some(ahead) = &mut seen.ahead {
            while let Some(&(nl, after_cr)) = ahead.front() {
                let at_start = nl == start || (after_cr && nl == start + 1);
                if !(nl < start || at_start) {
                    break;
                }
                if at_start {
                    start = nl + 1;
                }
                ahead.pop_front();
                passed += 1;
            }
        }
        seen.passed = passed;
        passed + 1
    }
}

impl Progress {
    /// How many double quotes stand in the bytes from `start` up to `end`; offsets must not
    /// go backwards. In well-formed CSV every record has an even number: a quoted field opens
    /// and closes, and a quote inside one is doubled.
    pub(super) fn quotes_between(&self, start: u64, end: u64) -> u64 {
        let mut seen = self.0.borrow_mut();
        let mut count = 0;
        while let Some(&quote) = seen.quotes.front().filter(|&&q| q < end) {
            seen.quotes.pop_front();
            count += u64::from(quote >= start);
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], chunk: usize) -> (io::Result<Vec<u8>>, Option<u64>) {
        let reader = ChunkedReader { data: input.to_vec(), pos: 0, chunk };
        let (mut source, progress) = Source::open(reader, false).unwrap();
        let mut out = Vec::new();
        let result = source.read_to_end(&mut out).map(|_| out);
        (result, progress.not_utf8_line())
    }

    /// Hands out its data a few bytes at a time, to cut characters across reads.
    struct ChunkedReader {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
    }

    impl Read for ChunkedReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn utf8_split_across_reads_passes_and_the_bom_is_skipped() {
        let text = "\u{feff}Zoë,千风\nStraße😀\n";
        for chunk in 1..8 {
            let (out, bad) = read_all(text.as_bytes(), chunk);
            assert_eq!(out.unwrap(), text.trim_start_matches('\u{feff}').as_bytes());
            assert_eq!(bad, None);
        }
    }

    #[test]
    fn a_bad_byte_is_reported_with_its_line() {
        for chunk in [1, 3, 64] {
            let (out, bad) = read_all(b"ok\nfine \xc3\xa9\nbad \xff here\n", chunk);
            assert!(out.is_err());
            assert_eq!(bad, Some(3), "chunk {chunk}");
        }
        let (out, bad) = read_all(b"a\nb\n\xe5\x8d", 2);
        assert!(out.is_err(), "a character cut by the end of the input");
        assert_eq!(bad, Some(3));
    }

    #[test]
    fn record_lines_count_crlf_and_blank_lines() {
        let data = b"a,b\r\n\r\nc,d\r\ne\n";
        let (mut source, progress) = Source::open(&data[..], true).unwrap();
        io::copy(&mut source, &mut io::sink()).unwrap();
        // The csv crate reports these starts for the three records.
        assert_eq!(progress.line_at(0), 1);
        assert_eq!(progress.line_at(4), 3);
        assert_eq!(progress.line_at(11), 4);
    }
}
