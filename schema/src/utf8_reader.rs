//! A `Read` adapter that checks the stream is UTF-8 and counts the bytes handed out, so that
//! non-UTF-8 input and JSON syntax errors can be reported with a byte offset. A leading UTF-8
//! byte-order mark is skipped (but counted).

use std::io::{self, Read};

const BUFFER: usize = 64 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Validating, counting reader over any byte source.
pub(crate) struct Utf8Reader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// Next byte to hand out.
    start: usize,
    /// End of the validated bytes.
    valid_end: usize,
    /// End of the bytes read from `inner`.
    end: usize,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Absolute offset of the first invalid byte, once found.
    invalid_at: Option<u64>,
    at_start: bool,
    /// Newlines handed out so far, and the offset just after the last one.
    newlines: usize,
    line_start: u64,
    /// The same two values before the last chunk handed out, and that chunk's newline offsets:
    /// a parser reading through a buffer stops inside the last chunk it was given.
    chunk_newlines_before: usize,
    chunk_line_start: u64,
    chunk_newlines: Vec<u64>,
}

impl<R: Read> Utf8Reader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Utf8Reader {
            inner,
            buf: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            valid_end: 0,
            end: 0,
            base: 0,
            invalid_at: None,
            at_start: true,
            newlines: 0,
            line_start: 0,
            chunk_newlines_before: 0,
            chunk_line_start: 0,
            chunk_newlines: Vec::new(),
        }
    }

    /// Bytes handed out so far (the offset of the next byte).
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Byte offset of a 1-based (line, byte column) position, if that line starts before or
    /// inside the last chunk handed out (where a parser reading through a buffer stops).
    pub(crate) fn offset_of(&self, line: usize, column: usize) -> Option<u64> {
        let newlines_before_line = line.checked_sub(1)?;
        let line_start = match newlines_before_line.checked_sub(self.chunk_newlines_before)? {
            0 => self.chunk_line_start,
            k => self.chunk_newlines.get(k - 1)? + 1,
        };
        Some(line_start + column.saturating_sub(1) as u64)
    }

    /// Offset of the first byte that is not valid UTF-8, if the stream reached one.
    pub(crate) fn invalid_at(&self) -> Option<u64> {
        self.invalid_at
    }

    /// Refills the buffer; returns false at the clean end of the stream.
    fn refill(&mut self) -> io::Result<bool> {
        loop {
            // Keep an incomplete multi-byte sequence from the previous read.
            let carry = self.end - self.valid_end;
            self.buf.copy_within(self.valid_end..self.end, 0);
            self.base += self.valid_end as u64;
            self.start = 0;
            self.valid_end = 0;
            self.end = carry;
            let n = self.inner.read(&mut self.buf[carry..])?;
            self.end += n;
            if n == 0 {
                if carry > 0 {
                    return Err(self.fail(0));
                }
                return Ok(false);
            }
            if self.at_start {
                if self.end < BOM.len() && BOM.starts_with(&self.buf[..self.end]) {
                    continue; // too short to tell a byte-order mark; read more
                }
                self.at_start = false;
                if self.buf[..self.end].starts_with(BOM) {
                    // The parser never sees the mark: its first line starts after it.
                    self.start = BOM.len();
                    self.line_start = BOM.len() as u64;
                }
            }
            match std::str::from_utf8(&self.buf[..self.end]) {
                Ok(_) => self.valid_end = self.end,
                Err(e) => {
                    self.valid_end = e.valid_up_to();
                    if e.error_len().is_some() {
                        self.invalid_at = Some(self.base + e.valid_up_to() as u64);
                        self.end = self.valid_end;
                    }
                }
            }
            if self.valid_end > self.start {
                return Ok(true);
            }
            if self.invalid_at.is_some() {
                return Err(self.fail(self.valid_end));
            }
        }
    }

    fn fail(&mut self, at: usize) -> io::Error {
        let offset = *self.invalid_at.get_or_insert(self.base + at as u64);
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("invalid UTF-8 at byte offset {offset}"),
        )
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.valid_end {
            if let Some(at) = self.invalid_at {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("invalid UTF-8 at byte offset {at}"),
                ));
            }
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.valid_end - self.start);
        let chunk = &self.buf[self.start..self.start + n];
        out[..n].copy_from_slice(chunk);
        let chunk_offset = self.offset();
        self.chunk_newlines_before = self.newlines;
        self.chunk_line_start = self.line_start;
        self.chunk_newlines.clear();
        for (i, _) in chunk.iter().enumerate().filter(|&(_, &b)| b == b'\n') {
            self.chunk_newlines.push(chunk_offset + i as u64);
        }
        if let Some(&last) = self.chunk_newlines.last() {
            self.newlines += self.chunk_newlines.len();
            self.line_start = last + 1;
        }
        self.start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `step` bytes per call, to cut sequences at every boundary.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(self.step).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn run(data: &[u8], step: usize) -> (Vec<u8>, Option<u64>) {
        let mut r = Utf8Reader::new(Trickle { data, step });
        let mut out = Vec::new();
        let result = r.read_to_end(&mut out);
        assert_eq!(result.is_err(), r.invalid_at().is_some());
        (out, r.invalid_at())
    }

    #[test]
    fn passes_valid_utf8_across_any_split() {
        let text = "héllo wörld € 𝄞 end".as_bytes();
        for step in 1..8 {
            assert_eq!(run(text, step), (text.to_vec(), None));
        }
    }

    #[test]
    fn reports_offset_of_first_invalid_byte() {
        let mut data = b"abc\xC3\xA9".to_vec();
        data.push(0xFF);
        data.extend_from_slice(b"xyz");
        for step in 1..8 {
            let (out, bad) = run(&data, step);
            assert_eq!(bad, Some(5), "step {step}");
            assert_eq!(out, b"abc\xC3\xA9");
        }
        // A truncated sequence at the very end is invalid too.
        assert_eq!(run(b"ab\xE2\x82", 3).1, Some(2));
    }

    #[test]
    fn skips_bom_but_counts_it() {
        let mut data = BOM.to_vec();
        data.extend_from_slice(b"{}");
        for step in 1..5 {
            let mut r = Utf8Reader::new(Trickle { data: &data, step });
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, b"{}");
            assert_eq!(r.offset(), 5);
            // Column 2 of line 1 is the closing brace, at offset 4.
            assert_eq!(r.offset_of(1, 2), Some(4));
        }
    }
}
