//! Pairing the objects of two sides and building the [`DiffReport`].
//!
//! Objects pair on their normalized (kind, namespace, name, apiVersion). Should one side hold
//! two objects with the same normalized id, they pair in the order of their file paths, so
//! the result stays deterministic.

use super::fields::diff_bodies;
use super::normalize::Normalizer;
use super::options::DiffOptions;
use super::report::{
    DiffReport, KeyStatus, NotCompared, ObjectDiff, ObjectSnapshot, ObjectStatus, SecretKeyDiff,
    Summary,
};
use super::secret::{compare_keys, is_secret, redact, SecretSide, SECRET_FIELDS, SOPS_FIELDS};
use super::side::{SecretView, Side};
use crate::object::{ObjectId, RenderedObject};
use std::collections::{BTreeMap, BTreeSet};

/// The order of the report: kind, namespace, name, then apiVersion.
type SortKey = (String, String, String, String);

fn sort_key(id: &ObjectId) -> SortKey {
    (
        id.kind.clone(),
        id.namespace.clone(),
        id.name.clone(),
        id.api_version.clone(),
    )
}

/// Compares side `a` with side `b`.
pub fn diff(a: &Side, b: &Side, options: &DiffOptions) -> DiffReport {
    let (na, nb) = (
        Normalizer::new(&a.normalization),
        Normalizer::new(&b.normalization),
    );
    let index_a = index(&a.objects, na);
    let index_b = index(&b.objects, nb);
    let views_a = views(&a.secrets);
    let views_b = views(&b.secrets);

    let keys: BTreeSet<&SortKey> = index_a.keys().chain(index_b.keys()).collect();
    let mut objects = Vec::new();
    let mut tally = Tally::default();
    for key in keys {
        let list_a = index_a.get(key).map_or(&[][..], Vec::as_slice);
        let list_b = index_b.get(key).map_or(&[][..], Vec::as_slice);
        for i in 0..list_a.len().max(list_b.len()) {
            let (oa, ob) = (list_a.get(i).copied(), list_b.get(i).copied());
            if !passes(options, oa) && !passes(options, ob) {
                continue;
            }
            let Some(id) = oa
                .map(|o| na.id(&o.id))
                .or_else(|| ob.map(|o| nb.id(&o.id)))
            else {
                continue;
            };
            let secret = is_secret(&id);
            let one_sided = oa.is_none() || ob.is_none();
            let snapshot = |o: &RenderedObject, norm: Normalizer<'_>| {
                let keep_normalized = !options.skip_normalized_bodies;
                let body = (one_sided || keep_normalized).then(|| redact(&o.body, secret));
                ObjectSnapshot {
                    id: o.id.clone(),
                    path: o.path.clone(),
                    normalized: body
                        .as_ref()
                        .filter(|_| keep_normalized)
                        .map(|body| norm.value(body)),
                    body: body.filter(|_| one_sided),
                }
            };
            let secret_keys = if secret {
                let sa = oa.map(|o| SecretSide {
                    label: &a.label,
                    view: views_a.get(&o.id).copied(),
                    body: &o.body,
                });
                let sb = ob.map(|o| SecretSide {
                    label: &b.label,
                    view: views_b.get(&o.id).copied(),
                    body: &o.body,
                });
                compare_keys(sa.as_ref(), sb.as_ref())
            } else {
                Vec::new()
            };
            let (status, changes) = match (oa, ob) {
                (Some(x), Some(y)) => {
                    let ignore = if secret { SECRET_FIELDS } else { SOPS_FIELDS };
                    (
                        ObjectStatus::Changed,
                        diff_bodies(&x.body, &y.body, ignore, na, nb),
                    )
                }
                (Some(_), None) => (ObjectStatus::OnlyInA, Vec::new()),
                _ => (ObjectStatus::OnlyInB, Vec::new()),
            };
            tally.keys(&id, &secret_keys);
            let differs = status != ObjectStatus::Changed
                || !changes.is_empty()
                || secret_keys.iter().any(|k| k.status.differs());
            if !differs {
                tally.unchanged += 1;
                continue;
            }
            match status {
                ObjectStatus::Changed => tally.summary.changed += 1,
                ObjectStatus::OnlyInA => tally.summary.only_in_a += 1,
                ObjectStatus::OnlyInB => tally.summary.only_in_b += 1,
            }
            objects.push(ObjectDiff {
                status,
                service: oa
                    .and_then(|o| o.service.clone())
                    .or_else(|| ob.and_then(|o| o.service.clone())),
                a: oa.map(|o| snapshot(o, na)),
                b: ob.map(|o| snapshot(o, nb)),
                id,
                changes,
                secret_keys,
            });
        }
    }
    DiffReport {
        a: a.label.clone(),
        b: b.label.clone(),
        objects,
        summary: tally.finish(),
    }
}

/// A side's objects by normalized sort key; duplicates in path order.
fn index<'o>(
    objects: &'o [RenderedObject],
    norm: Normalizer<'_>,
) -> BTreeMap<SortKey, Vec<&'o RenderedObject>> {
    positions(objects, norm)
        .into_iter()
        .map(|(key, list)| (key, list.into_iter().map(|i| &objects[i]).collect()))
        .collect()
}

/// [`index`] as positions in `objects`.
fn positions(objects: &[RenderedObject], norm: Normalizer<'_>) -> BTreeMap<SortKey, Vec<usize>> {
    let mut index: BTreeMap<SortKey, Vec<usize>> = BTreeMap::new();
    for (i, object) in objects.iter().enumerate() {
        index
            .entry(sort_key(&norm.id(&object.id)))
            .or_default()
            .push(i);
    }
    for list in index.values_mut() {
        list.sort_by(|&x, &y| {
            let (x, y) = (&objects[x], &objects[y]);
            (&x.path, &x.id).cmp(&(&y.path, &y.id))
        });
    }
    index
}

/// The positions of the objects [`diff`] compares with each other (object `a[i]` with
/// `b[j]`), in its order, filters aside.
pub(super) fn pairs(a: &Side, b: &Side) -> Vec<(usize, usize)> {
    let index_a = positions(&a.objects, Normalizer::new(&a.normalization));
    let mut index_b = positions(&b.objects, Normalizer::new(&b.normalization));
    let mut out = Vec::new();
    for (key, list_a) in index_a {
        if let Some(list_b) = index_b.remove(&key) {
            out.extend(list_a.into_iter().zip(list_b));
        }
    }
    out
}

/// Whether [`diff`] would find nothing to report between `a.objects[i]` and `b.objects[j]`,
/// a pair of [`pairs`], from their bodies alone: neither a Secret (their keys compare through
/// the views) and no field change. Such a pair stays unchanged with both bodies dropped.
pub(super) fn bodies_equal(a: &Side, b: &Side, i: usize, j: usize) -> bool {
    let (na, nb) = (
        Normalizer::new(&a.normalization),
        Normalizer::new(&b.normalization),
    );
    let (Some(oa), Some(ob)) = (a.objects.get(i), b.objects.get(j)) else {
        return false;
    };
    !is_secret(&na.id(&oa.id))
        && !is_secret(&nb.id(&ob.id))
        && diff_bodies(&oa.body, &ob.body, SOPS_FIELDS, na, nb).is_empty()
}

fn views(secrets: &[SecretView]) -> BTreeMap<&ObjectId, &SecretView> {
    secrets.iter().map(|view| (&view.id, view)).collect()
}

/// Whether an object passes the service and kind filters.
fn passes(options: &DiffOptions, object: Option<&RenderedObject>) -> bool {
    let Some(object) = object else { return false };
    let service_ok = options
        .service
        .as_deref()
        .is_none_or(|s| object.service.as_deref() == Some(s));
    let kind_ok = options
        .kind
        .as_deref()
        .is_none_or(|k| object.id.kind.eq_ignore_ascii_case(k));
    service_ok && kind_ok
}

/// Counts accumulated while pairing.
#[derive(Default)]
struct Tally {
    summary: Summary,
    unchanged: usize,
    /// reason -> (secrets, keys)
    not_compared: BTreeMap<String, (BTreeSet<String>, usize)>,
}

impl Tally {
    fn keys(&mut self, id: &ObjectId, keys: &[SecretKeyDiff]) {
        let counts = &mut self.summary.secret_keys;
        for key in keys {
            match &key.status {
                KeyStatus::Changed => counts.changed += 1,
                KeyStatus::Unchanged => counts.unchanged += 1,
                KeyStatus::Added => counts.added += 1,
                KeyStatus::Removed => counts.removed += 1,
                KeyStatus::NotCompared { reason } => {
                    counts.not_compared += 1;
                    let entry = self.not_compared.entry(reason.clone()).or_default();
                    entry.0.insert(id.to_string());
                    entry.1 += 1;
                }
            }
        }
    }

    fn finish(mut self) -> Summary {
        self.summary.unchanged = self.unchanged;
        self.summary.not_compared = self
            .not_compared
            .into_iter()
            .map(|(reason, (secrets, keys))| NotCompared {
                reason,
                secrets: secrets.into_iter().collect(),
                keys,
            })
            .collect();
        self.summary
    }
}
