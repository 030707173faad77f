//! Parsed runs of top-level nodes ("fragments") and their cache. Parsing KDL is the slowest
//! step of reading a big stack, and an edit touches one service: each run of nodes of
//! `stacks.kdl` is keyed by the blake3 hash of its text, and its parsed declarations (with
//! spans relative to the run) are kept in `.stackc-cache/parse.cache`, so only edited runs are
//! parsed again. Runs that had errors are never cached, so diagnostics always come fresh.

use super::{
    Environment, Layer, Named, Project, SecretDecl, Service, Settings, Tracked, TrackedValue,
};
use crate::source::Span;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// One top-level declaration of `stacks.kdl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Item {
    Project(Project),
    Layer(Layer),
    /// The `defaults` block and the span of its node (a second one is a duplicate).
    Defaults(Settings, Span),
    Environment(Environment),
    Secret(SecretDecl),
    Service(Service),
}

/// Moves every span by a number of bytes (a run's declarations into place in the file).
pub trait Shift {
    fn shift(&mut self, by: isize);
}

impl Shift for Span {
    fn shift(&mut self, by: isize) {
        self.offset = self.offset.wrapping_add_signed(by);
    }
}

impl Shift for Named {
    fn shift(&mut self, by: isize) {
        self.span.shift(by);
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(&mut self, by: isize) {
        if let Some(inner) = self {
            inner.shift(by);
        }
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(&mut self, by: isize) {
        for inner in self {
            inner.shift(by);
        }
    }
}

impl Shift for Tracked {
    fn shift(&mut self, by: isize) {
        self.span.shift(by);
        match &mut self.value {
            TrackedValue::Scalar(_) => {}
            TrackedValue::List(items) => items.shift(by),
            TrackedValue::Map(entries) => entries.values_mut().for_each(|v| v.shift(by)),
        }
    }
}

impl Shift for Settings {
    fn shift(&mut self, by: isize) {
        self.values_mut().for_each(|v| v.shift(by));
    }
}

impl Shift for Item {
    fn shift(&mut self, by: isize) {
        match self {
            Item::Project(p) => {
                p.name.shift(by);
                p.domain.shift(by);
                p.span.shift(by);
            }
            Item::Layer(l) => {
                l.name.shift(by);
                l.depends_on.shift(by);
                l.span.shift(by);
            }
            Item::Defaults(settings, span) => {
                settings.shift(by);
                span.shift(by);
            }
            Item::Environment(e) => {
                e.name.shift(by);
                e.promotes_from.shift(by);
                e.domain.shift(by);
                e.recipients.shift(by);
                e.settings.shift(by);
                for allow in &mut e.allows {
                    allow.rule.shift(by);
                    allow.reason.shift(by);
                    allow.span.shift(by);
                }
                e.span.shift(by);
            }
            Item::Secret(s) => {
                s.name.shift(by);
                s.namespace.shift(by);
                for key in &mut s.keys {
                    key.name.shift(by);
                    key.span.shift(by);
                }
                s.span.shift(by);
            }
            Item::Service(s) => {
                s.name.shift(by);
                s.layer.shift(by);
                s.namespace.shift(by);
                s.template.shift(by);
                s.depends_on.shift(by);
                s.uses_secrets.shift(by);
                s.manifests.shift(by);
                s.promotable.shift(by);
                for allow in &mut s.allows {
                    allow.rule.shift(by);
                    allow.reason.shift(by);
                    allow.span.shift(by);
                }
                s.settings.shift(by);
                for block in &mut s.env_blocks {
                    block.env.shift(by);
                    block.settings.shift(by);
                    block.span.shift(by);
                }
                s.span.shift(by);
            }
        }
    }
}

/// Parsed runs by the hash of their text, as stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ParseCache {
    pub runs: HashMap<String, Vec<Item>>,
}

/// The parse cache's file name in the cache folder.
pub const CACHE_FILE: &str = "parse.cache";

impl ParseCache {
    /// Loads the cache of `cache_dir`; anything unreadable or from another stackc is empty.
    pub fn load(cache_dir: &Path) -> ParseCache {
        std::fs::read(cache_dir.join(CACHE_FILE))
            .ok()
            .and_then(|bytes| crate::cache::decode(&bytes))
            .unwrap_or_default()
    }

    /// Saves the cache atomically.
    pub fn save(&self, cache_dir: &Path) -> Result<(), crate::diagnostics::IoError> {
        crate::cache::save_file(&cache_dir.join(CACHE_FILE), self)
    }
}
