//! A stage's errors, collected. Each stage has its own typed error enum (deriving
//! `miette::Diagnostic`); a stage that finds several independent problems reports them all at
//! once through [`Diagnostics`], which the CLI prints and turns into an exit code.

use miette::{Diagnostic, Report};
use std::fmt;

/// One or more diagnostics from a stage.
pub struct Diagnostics(Vec<Report>);

impl Diagnostics {
    /// No diagnostics yet.
    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }

    /// Adds one diagnostic.
    pub fn push(&mut self, error: impl Diagnostic + Send + Sync + 'static) {
        self.0.push(Report::new(error));
    }

    /// Adds every diagnostic of another collection.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Keeps the first `max` diagnostics and adds a note saying how many were left out.
    pub fn truncate(&mut self, max: usize) {
        if self.0.len() > max {
            let left_out = self.0.len() - max;
            self.0.truncate(max);
            self.push(LeftOut(left_out));
        }
    }

    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many diagnostics there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `Ok(value)` when nothing was reported, else the diagnostics.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// The reports, for printing.
    pub fn reports(&self) -> &[Report] {
        &self.0
    }
}

impl Default for Diagnostics {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Diagnostic + Send + Sync + 'static> From<E> for Diagnostics {
    fn from(error: E) -> Self {
        Diagnostics(vec![Report::new(error)])
    }
}

impl fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for report in &self.0 {
            writeln!(f, "{report:?}")?;
        }
        Ok(())
    }
}

/// How many diagnostics [`Diagnostics::truncate`] left out.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("... and {0} more errors like the ones above")]
#[diagnostic(code(stackc::more), severity(Advice))]
pub struct LeftOut(pub usize);

/// A broken internal invariant: a bug in stackc, never the user's fault.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("internal error: {0}")]
#[diagnostic(
    code(stackc::internal),
    help("this is a bug in stackc; please report it with the command you ran")
)]
pub struct Internal(pub String);

/// An I/O failure on a named path.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("cannot {action} `{path}`: {source}")]
#[diagnostic(code(stackc::io))]
pub struct IoError {
    pub action: &'static str,
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// Wraps an I/O error with what was being done to which path.
    pub fn new(
        action: &'static str,
        path: impl AsRef<std::path::Path>,
        source: std::io::Error,
    ) -> Self {
        IoError {
            action,
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// The closest candidate to `name`, for "did you mean" help lines.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| {
            let score = strsim::jaro_winkler(name, candidate)
                .max(strsim::normalized_damerau_levenshtein(name, candidate) + 0.15);
            (score, candidate)
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}
