//! `pinned`: staging and production run exact versions: no `latest`, no missing image tag,
//! no chart version range.

use super::{tier, Tier};
use crate::check::context::{object_label, setting};
use crate::check::{Context, EnvCheck, Finding};
use crate::value::Value;

/// Why a chart version is not a pin, or `None`.
fn unpinned_version(version: &str) -> Option<&'static str> {
    if version.trim().is_empty() {
        Some("is empty")
    } else if version.contains(['*', '^', '~', '>', '<', '|', ' ', 'x', 'X']) {
        Some("is a range")
    } else {
        None
    }
}

/// Why an image reference is not a pin, or `None`.
fn unpinned_image(image: &str) -> Option<&'static str> {
    if image.contains("@sha256:") {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some("has no tag"),
        Some((_, "latest")) => Some("is `latest`"),
        Some((_, "")) => Some("has an empty tag"),
        _ => None,
    }
}

/// Images and charts of staging and production.
pub fn pinned(_: &Context<'_>, env: &EnvCheck<'_>) -> Vec<Finding> {
    if tier(&env.env.name) == Tier::Other {
        return Vec::new();
    }
    let mut out = Vec::new();
    for service in env.services() {
        if let Some(image) = setting(service, "image") {
            let tag = setting(service, "image.tag").map(|t| (t.to_value(), t.span));
            let problem = match &tag {
                None => Some("has no tag"),
                Some((Value::String(t), _)) if t == "latest" => Some("is `latest`"),
                Some((Value::String(t), _)) if t.trim().is_empty() => Some("has an empty tag"),
                _ => None,
            };
            if let Some(problem) = problem {
                out.push(
                    Finding::new(format!("image {problem}"))
                        .service(&service.name)
                        .at(tag.map_or(image.span, |(_, s)| s))
                        .help("pin the image: `image \"nginx\" tag=\"1.27.3\"` (or a digest)"),
                );
            }
        }
        if let Some(chart) = setting(service, "chart") {
            let version = setting(service, "chart.version");
            let text = version
                .map(crate::model::Tracked::to_value)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if let Some(problem) = unpinned_version(&text) {
                out.push(
                    Finding::new(format!("chart version `{text}` {problem}"))
                        .service(&service.name)
                        .at(version.map_or(chart.span, |v| v.span))
                        .help("pin the chart: `chart \"name\" repo=\"...\" version=\"1.2.3\"`"),
                );
            }
        }
    }
    for object in env.objects.iter() {
        let pod = object.body.get_path("spec.template.spec").or_else(|| {
            (object.id.kind == "Pod")
                .then(|| object.body.get_path("spec"))
                .flatten()
        });
        let Some(Value::List(containers)) = pod.and_then(|p| p.get_path("containers")) else {
            continue;
        };
        for container in containers {
            let Some(image) = container.get_path("image").and_then(Value::as_str) else {
                continue;
            };
            if let Some(problem) = unpinned_image(image) {
                let service = object.service.as_deref().unwrap_or_default();
                let mut finding = Finding::new(format!("image `{image}` {problem}"))
                    .service(service)
                    .object(object_label(object))
                    .help("pin every image to a tag or digest");
                finding.span = env
                    .service(service)
                    .map(|s| setting(s, "image").map_or(s.span, |t| t.span));
                out.push(finding);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{unpinned_image, unpinned_version};

    #[test]
    fn pins_and_ranges() {
        assert_eq!(unpinned_version("1.2.3"), None);
        assert_eq!(unpinned_version("v1.16.2"), None);
        assert!(unpinned_version("^1.2").is_some());
        assert!(unpinned_version("1.x").is_some());
        assert!(unpinned_version(">=1.0 <2").is_some());
        assert_eq!(unpinned_image("nginx:1.27"), None);
        assert_eq!(unpinned_image("registry:5000/app@sha256:abc"), None);
        assert!(unpinned_image("registry:5000/app").is_some());
        assert!(unpinned_image("nginx:latest").is_some());
    }
}
