//! A rule's finding and how it is shown: a miette diagnostic (code `stackc::check::<id>`,
//! the KDL span labelled), a JSON object (docs/check-json.md) or a GitHub Actions annotation.

use crate::source::{Sources, Span};
use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use std::fmt;
use std::sync::Arc;

/// How bad a finding is: errors fail `check` (exit 1) and stop `build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// `error` / `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found by a rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Filled by the runner.
    pub rule: &'static str,
    pub severity: Severity,
    pub env: Option<String>,
    pub service: Option<String>,
    pub message: String,
    /// The KDL that caused it (or, for a file in out/, nothing: `file` says where).
    pub span: Option<Span>,
    /// A file the finding is about when there is no KDL span (`out/dev/...yaml`), with a line.
    pub file: Option<(String, usize)>,
    /// The rendered object: `Kind namespace/name`.
    pub object: Option<String>,
    pub help: Option<String>,
}

impl Finding {
    /// A finding of the current rule (the runner fills in rule, severity and environment).
    pub fn new(message: impl Into<String>) -> Self {
        Finding {
            rule: "",
            severity: Severity::Error,
            env: None,
            service: None,
            message: message.into(),
            span: None,
            file: None,
            object: None,
            help: None,
        }
    }

    /// About this service.
    #[must_use]
    pub fn service(mut self, name: &str) -> Self {
        self.service = Some(name.to_string());
        self
    }

    /// Caused by this KDL.
    #[must_use]
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// About this rendered object.
    #[must_use]
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// About this file (and line) rather than a KDL span.
    #[must_use]
    pub fn file(mut self, path: impl Into<String>, line: usize) -> Self {
        self.file = Some((path.into(), line));
        self
    }

    /// With a help line.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The finding's first line, as every rendering starts it.
    pub fn headline(&self) -> String {
        let mut text = self.message.clone();
        let mut context = Vec::new();
        if let Some(object) = &self.object {
            context.push(object.clone());
        }
        if let Some(service) = &self.service {
            context.push(format!("service {service}"));
        }
        if let Some(env) = &self.env {
            context.push(format!("environment {env}"));
        }
        if !context.is_empty() {
            text = format!("{text} ({})", context.join(", "));
        }
        text
    }

    /// `file`, 1-based `line` and `column` of where it points, for JSON and GitHub.
    pub fn location(&self, sources: &Sources) -> Option<(String, usize, usize)> {
        if let Some(span) = self.span {
            let file = sources.file(span.file);
            let before = &file.text[..span.offset.min(file.text.len())];
            let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return Some((file.name.to_string(), line, column));
        }
        self.file.as_ref().map(|(f, l)| (f.clone(), *l, 1))
    }

    /// The miette diagnostic of the finding.
    pub fn report(&self, sources: &Sources) -> FindingReport {
        let source = self
            .span
            .filter(|s| !sources.file(s.file).name.starts_with('<'))
            .map(|s| (sources.named(s.file), s.source_span()));
        let mut headline = self.headline();
        if let (None, Some((file, line))) = (&source, &self.file) {
            headline = format!("{file}:{line}: {headline}");
        }
        FindingReport {
            code: format!("stackc::check::{}", self.rule),
            severity: self.severity,
            headline,
            source,
            help: self.help.clone(),
        }
    }
}

/// A finding as miette draws it.
#[derive(Debug)]
pub struct FindingReport {
    code: String,
    severity: Severity,
    headline: String,
    source: Option<(NamedSource<Arc<str>>, miette::SourceSpan)>,
    help: Option<String>,
}

impl fmt::Display for FindingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline)
    }
}

impl std::error::Error for FindingReport {}

impl Diagnostic for FindingReport {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|(s, _)| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref().map(|(_, span)| {
            Box::new(std::iter::once(LabeledSpan::new_with_span(
                Some("here".to_string()),
                *span,
            ))) as Box<dyn Iterator<Item = LabeledSpan>>
        })
    }
}
