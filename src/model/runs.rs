//! KDL text to `kdl` documents, run by run, within bounds. The `kdl` parser recurses for
//! every nested block and for every point where it recovers from an error, so its stack use
//! grows with the text it is given: each file is first checked by a flat scan
//! ([`limits`](super::limits)), then cut into runs of top-level nodes no larger than
//! [`MAX_RUN_BYTES`], and every run is parsed on a thread whose stack holds the worst case.

use super::chunks;
use super::limits::MAX_RUN_BYTES;
use super::parse::Chunk;
use super::syntax::Document as KdlDocument;
use super::ModelError;
use crate::diagnostics::Diagnostics;
use crate::source::{FileId, Sources};
use miette::SourceSpan;
use std::ops::Range;
use std::sync::OnceLock;

/// Stack of a parsing thread. Measured worst case (a debug build, `=` repeated at the top
/// level, or a block comment full of `*`): up to about 5 KB of stack per byte of a run, so
/// 64 KiB runs need up to about 320 MiB.
/// It is address space only; pages are touched as deep as a parse goes.
const PARSE_STACK: usize = 512 * 1024 * 1024;

/// The most syntax errors reported for one file: past the first few, they are echoes of
/// the same mistake, and rendering thousands costs more than the parse.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Threads with stacks deep enough for any run within the limits.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("stackc-kdl-{i}"))
            .stack_size(PARSE_STACK)
            .build()
            .ok()
    })
    .as_ref()
}

/// Cuts `file` into runs and checks each against [`MAX_RUN_BYTES`].
pub(super) fn runs(sources: &Sources, file: FileId) -> Result<Vec<Range<usize>>, Diagnostics> {
    let text = &sources.file(file).text;
    let runs = chunks::runs(text);
    if let Some(big) = runs.iter().find(|r| r.len() > MAX_RUN_BYTES) {
        let line_end = text[big.clone()]
            .find('\n')
            .map_or(big.end, |p| big.start + p);
        return Err(ModelError::RunTooLarge {
            limit_kib: MAX_RUN_BYTES / 1024,
            src: sources.named(file),
            span: SourceSpan::new(big.start.into(), line_end - big.start),
        }
        .into());
    }
    Ok(runs)
}

/// Runs `work` on a parsing thread (or here, if no thread could be started: the limits
/// still hold for the main thread's usual 8 MiB in a release build for ordinary files).
pub(super) fn on_parse_threads<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    match pool() {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Parses one run of text; its syntax errors as diagnostics of `file`, offset by `base`.
pub(super) fn parse_run(
    sources: &Sources,
    file: FileId,
    base: usize,
    text: &str,
) -> Result<KdlDocument, Diagnostics> {
    KdlDocument::parse(text).map_err(|error| {
        let mut errors = Diagnostics::new();
        for diag in error.diagnostics.into_iter().take(MAX_SYNTAX_ERRORS) {
            errors.push(ModelError::Syntax {
                message: diag
                    .message
                    .unwrap_or_else(|| "invalid KDL syntax".to_string()),
                src: sources.named(file),
                span: SourceSpan::new((diag.span.offset() + base).into(), diag.span.len()),
                label: diag.label.unwrap_or_else(|| "here".to_string()),
                help: diag.help,
            });
        }
        errors
    })
}

/// The whole of `file` as parsed runs, or its syntax errors (at most [`MAX_SYNTAX_ERRORS`]).
/// A run that fails on its own is reported as it is, unless the whole file is small
/// enough to parse in one piece: then a cut the scanner got wrong costs nothing.
pub(super) fn document(sources: &Sources, file: FileId) -> Result<Vec<Chunk>, Diagnostics> {
    use rayon::prelude::*;
    let text = &sources.file(file).text;
    let ranges = runs(sources, file)?;
    let parsed: Vec<Result<Chunk, Diagnostics>> = on_parse_threads(|| {
        ranges
            .into_par_iter()
            .map(|r| parse_run(sources, file, r.start, &text[r.clone()]).map(|d| (r.start, d)))
            .collect()
    });
    let mut chunks = Vec::new();
    let mut errors = Diagnostics::new();
    for run in parsed {
        match run {
            Ok(chunk) => chunks.push(chunk),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        return Ok(chunks);
    }
    if text.len() <= MAX_RUN_BYTES {
        return on_parse_threads(|| parse_run(sources, file, 0, text)).map(|d| vec![(0, d)]);
    }
    errors.truncate(MAX_SYNTAX_ERRORS);
    Err(errors)
}
