//! Syntax errors as data: each one a byte span, a message, a label and an optional help, in
//! the shape of the `kdl` crate's diagnostics, so the model turns either into its own
//! `ModelError::Syntax` the same way.

use miette::SourceSpan;
use std::fmt;

/// Every syntax error the parser found in one document (at least one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub diagnostics: Vec<SyntaxDiagnostic>,
}

/// One syntax error. The fields are `Option` like `kdl::KdlDiagnostic`'s, but this parser
/// always fills `message` and `label`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxDiagnostic {
    pub span: SourceSpan,
    pub message: Option<String>,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl SyntaxDiagnostic {
    pub(super) fn new(span: SourceSpan, message: &str, label: &str, help: Option<&str>) -> Self {
        SyntaxDiagnostic {
            span,
            message: Some(message.to_string()),
            label: Some(label.to_string()),
            help: help.map(str::to_string),
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.diagnostics.first() {
            Some(first) if self.diagnostics.len() == 1 => write!(f, "{first}"),
            Some(first) => write!(f, "{first} (and {} more)", self.diagnostics.len() - 1),
            None => write!(f, "invalid KDL"),
        }
    }
}

impl std::error::Error for SyntaxError {}

impl fmt::Display for SyntaxDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.message.as_deref().unwrap_or("invalid KDL");
        write!(f, "{message} at byte {}", self.span.offset())
    }
}

impl std::error::Error for SyntaxDiagnostic {}

impl miette::Diagnostic for SyntaxDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("stackc::model::syntax"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(self.label.clone(), self.span),
        )))
    }
}
