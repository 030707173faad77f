//! Source files and spans. Every declared thing remembers the file and byte range it came
//! from, so diagnostics can point at the user's text and `explain` can name `file:line`.

use miette::{NamedSource, SourceSpan};
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Span {
    pub file: FileId,
    pub offset: usize,
    pub len: usize,
}

impl Span {
    /// A span in `file` covering miette's `span`.
    pub fn new(file: FileId, span: SourceSpan) -> Self {
        Span {
            file,
            offset: span.offset(),
            len: span.len(),
        }
    }

    /// The span as miette wants it for a label.
    pub fn source_span(&self) -> SourceSpan {
        SourceSpan::new(self.offset.into(), self.len)
    }
}

/// One input file, kept whole for diagnostics.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path relative to the stack root, with `/` separators (how users see it).
    pub name: Arc<str>,
    pub text: Arc<str>,
}

/// Every source file read for a build.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Registers a file and returns its id.
    pub fn add(&mut self, name: &str, text: &str) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile {
            name: name.into(),
            text: text.into(),
        });
        id
    }

    /// The file behind an id.
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Every file, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    /// The file as a miette source, for a diagnostic's `#[source_code]`.
    pub fn named(&self, id: FileId) -> NamedSource<Arc<str>> {
        let file = self.file(id);
        NamedSource::new(&*file.name, file.text.clone())
    }

    /// `file:line` of a span, for provenance listings.
    pub fn location(&self, span: Span) -> String {
        let file = self.file(span.file);
        let line = file.text[..span.offset.min(file.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1;
        format!("{}:{line}", file.name)
    }

    /// The source text a span covers.
    pub fn snippet(&self, span: Span) -> &str {
        let text = &self.file(span.file).text;
        let end = (span.offset + span.len).min(text.len());
        text.get(span.offset.min(end)..end).unwrap_or("")
    }
}

/// A source and a span in it: what a diagnostic needs to draw a label.
#[derive(Clone, Debug)]
pub struct Located {
    pub source: NamedSource<Arc<str>>,
    pub span: SourceSpan,
}

impl Sources {
    /// The source and label position of a span.
    pub fn locate(&self, span: Span) -> Located {
        Located {
            source: self.named(span.file),
            span: span.source_span(),
        }
    }
}
