//! The buffer a template renders into, refusing to grow past a limit: fuel bounds the
//! instructions a template runs, not the text it writes, and one `{{ s }}` of a huge string
//! is a single instruction.

use std::io;

/// A byte buffer that fails writes past `limit` (and remembers that it did).
pub struct Limited {
    buf: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl Limited {
    pub fn new(limit: usize) -> Self {
        Limited {
            buf: Vec::new(),
            limit,
            overflowed: false,
        }
    }

    /// Whether a write was refused (so the render error is this limit).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The rendered text; minijinja writes only whole UTF-8 strings.
    pub fn into_string(self) -> String {
        String::from_utf8(self.buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

impl io::Write for &mut Limited {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            self.overflowed = true;
            return Err(io::Error::other("the render limit is reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
