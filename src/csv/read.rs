//! Reading headerless CSV files as a stream of split lines, one physical line each.
//!
//! RFC 4180 quoting (a quoted field may hold commas and doubled quotes), LF or
//! CRLF, an optional UTF-8 BOM, blank lines and a missing final newline are all
//! accepted. A record never spans lines: no field of this data can hold a line
//! break, so a stray quote spoils only its own line instead of swallowing the
//! rest of the file, and a line longer than [`MAX_LINE_BYTES`] is refused
//! without being held in memory. Memory stays flat whatever the file size.

use std::{
    borrow::Cow,
    io::{BufRead, BufReader, Read},
};

/// One line of a CSV file, split into fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLine {
    /// The line number in the file, from 1 (blank lines count).
    pub line_number: i64,
    /// The fields as text; empty when the line could not be split.
    pub fields: Vec<String>,
    /// The line as read, kept when it could not be read cleanly.
    pub raw: Option<String>,
    /// Why the line could not be read cleanly, if it could not.
    pub fault: Option<CsvFault>,
}

/// Why a line could not be read cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvFault {
    /// Not valid CSV: an unclosed quote, text after a closing quote, or too long.
    Malformed(String),
    /// Not valid UTF-8.
    NotUtf8,
}

/// The longest line accepted; valid records are far shorter.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How much of a refused over-long line is kept for the rejection log.
const KEPT_OF_LONG_LINE: usize = 1024;

/// Reads records one line at a time from a CSV stream.
pub struct CsvRecords<R: Read> {
    input: BufReader<R>,
    line: Vec<u8>,
    line_number: i64,
}

impl<R: Read> CsvRecords<R> {
    /// Wraps a headerless CSV stream.
    pub fn new(input: R) -> Self {
        Self {
            input: BufReader::with_capacity(256 * 1024, input),
            line: Vec::with_capacity(256),
            line_number: 0,
        }
    }

    /// The next record, `None` at the end, or an I/O error that ends the import.
    ///
    /// Blank lines are skipped but still counted, so positions are file line numbers.
    pub fn next_line(&mut self) -> Result<Option<CsvLine>, std::io::Error> {
        loop {
            self.line.clear();
            let Some(too_long) = read_line_capped(&mut self.input, &mut self.line)? else {
                return Ok(None);
            };
            self.line_number += 1;
            if self.line_number == 1 && self.line.starts_with(b"\xEF\xBB\xBF") {
                self.line.drain(..3);
            }
            if too_long {
                return Ok(Some(self.refused(
                    format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                    KEPT_OF_LONG_LINE,
                )));
            }
            while matches!(self.line.last(), Some(b'\n' | b'\r')) {
                self.line.pop();
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(match split_fields(&self.line) {
                Ok(fields) => to_csv_line(self.line_number, fields, &self.line),
                Err(message) => self.refused(message.to_owned(), MAX_LINE_BYTES),
            }));
        }
    }

    fn refused(&self, message: String, keep: usize) -> CsvLine {
        let kept = &self.line[..self.line.len().min(keep)];
        CsvLine {
            line_number: self.line_number,
            fields: Vec::new(),
            raw: Some(String::from_utf8_lossy(kept).into_owned()),
            fault: Some(CsvFault::Malformed(message)),
        }
    }
}

/// Appends one line (with its newline) to `line`, keeping at most
/// [`MAX_LINE_BYTES`] of it. `None` at the end of input; `Some(true)` when the
/// line was longer and its rest was skipped.
fn read_line_capped(input: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    let mut read_any = false;
    let mut too_long = false;
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(read_any.then_some(too_long));
        }
        read_any = true;
        let (taken, done) = match buffer.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (buffer.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        if taken > room {
            too_long = true;
        }
        line.extend_from_slice(&buffer[..taken.min(room)]);
        input.consume(taken);
        if done {
            return Ok(Some(too_long));
        }
    }
}

/// Splits one line into fields by RFC 4180 rules.
fn split_fields(line: &[u8]) -> Result<Vec<Cow<'_, [u8]>>, &'static str> {
    let mut fields = Vec::with_capacity(5);
    let mut at = 0;
    loop {
        if line.get(at) == Some(&b'"') {
            let mut field = Vec::new();
            at += 1;
            loop {
                let Some(quote) = line[at..].iter().position(|b| *b == b'"') else {
                    return Err("a quoted field is not closed on its line");
                };
                field.extend_from_slice(&line[at..at + quote]);
                at += quote + 1;
                if line.get(at) == Some(&b'"') {
                    field.push(b'"');
                    at += 1;
                } else {
                    break;
                }
            }
            if at < line.len() && line[at] != b',' {
                return Err("unexpected text after a closing quote");
            }
            fields.push(Cow::Owned(field));
        } else {
            let end = line[at..]
                .iter()
                .position(|b| *b == b',')
                .map_or(line.len(), |comma| at + comma);
            fields.push(Cow::Borrowed(&line[at..end]));
            at = end;
        }
        if at >= line.len() {
            return Ok(fields);
        }
        at += 1;
        if at == line.len() {
            fields.push(Cow::Borrowed(&line[at..]));
            return Ok(fields);
        }
    }
}

fn to_csv_line(line_number: i64, fields: Vec<Cow<'_, [u8]>>, line: &[u8]) -> CsvLine {
    let mut fault = None;
    let fields = fields
        .iter()
        .map(|field| match std::str::from_utf8(field) {
            Ok(text) => text.to_owned(),
            Err(_) => {
                fault = Some(CsvFault::NotUtf8);
                String::from_utf8_lossy(field).into_owned()
            }
        })
        .collect();
    CsvLine {
        line_number,
        fields,
        raw: fault
            .is_some()
            .then(|| String::from_utf8_lossy(line).into_owned()),
        fault,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{RawRecord, reason};

    fn records(input: &[u8]) -> Vec<(i64, Vec<String>, Option<&'static str>)> {
        let mut reader = CsvRecords::new(input);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            let record = RawRecord::from(line);
            out.push((
                record.position,
                record.fields,
                record.problem.map(|p| p.code()),
            ));
        }
        out
    }

    fn strings(fields: &[&str]) -> Vec<String> {
        fields.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn quoted_fields_keep_commas_and_doubled_quotes() {
        assert_eq!(
            records(b"1,\"a, b\",\"say \"\"hi\"\"\",\n"),
            vec![(1, strings(&["1", "a, b", "say \"hi\"", ""]), None)]
        );
    }

    #[test]
    fn a_stray_quote_spoils_only_its_own_line() {
        assert_eq!(
            records(b"1,\"Bob,x\n2,Ann\n"),
            vec![
                (1, vec![], Some(reason::MALFORMED_CSV)),
                (2, strings(&["2", "Ann"]), None)
            ]
        );
    }

    #[test]
    fn bom_crlf_blank_lines_and_a_missing_final_newline_are_accepted() {
        assert_eq!(
            records(b"\xEF\xBB\xBF1,a\r\n\r\n   \n2,b"),
            vec![
                (1, strings(&["1", "a"]), None),
                (4, strings(&["2", "b"]), None)
            ]
        );
    }

    #[test]
    fn an_over_long_line_is_refused_without_losing_the_next_one() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 3];
        input.extend_from_slice(b"\n2,b\n");
        let read = records(&input);
        assert_eq!(read[0].2, Some(reason::MALFORMED_CSV));
        assert_eq!(read[1], (2, strings(&["2", "b"]), None));
    }

    #[test]
    fn text_after_a_closing_quote_is_refused() {
        assert_eq!(records(b"\"a\"b,c\n")[0].2, Some(reason::MALFORMED_CSV));
    }
}
