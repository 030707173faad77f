//! `{{ }}` in settings (`host="{{ service.name }}.{{ environment.domain }}"`): every such
//! string of the model is compiled once, when the renderer is made, instead of once per unit
//! that uses it (most strings are written once in `defaults` or repeated by every service, so
//! one compile serves hundreds of units).

use crate::model::{Model, Tracked, TrackedValue};
use crate::value::Value;
use minijinja::Environment;
use std::collections::BTreeSet;

/// Template names no file under `templates/` can have (a file name holds no NUL).
const PREFIX: &str = "\u{0}settings:";

/// Whether a setting string is a template.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The name a setting string is registered under.
pub fn name(text: &str) -> String {
    format!("{PREFIX}{text}")
}

/// Adds every template string of the model's settings to `env`, compiled. A string that does
/// not compile is left out: rendering it then goes through `render_str`, which reports the
/// error exactly as before, per unit.
pub fn register(env: &mut Environment<'static>, model: &Model) {
    let mut found = BTreeSet::new();
    let mut layers = vec![&model.builtin, &model.defaults];
    for e in &model.environments {
        layers.push(&e.settings);
        if let Some(overlay) = &e.overlay {
            layers.push(&overlay.settings);
            layers.extend(overlay.services.iter().map(|o| &o.settings));
        }
    }
    for s in &model.services {
        layers.push(&s.settings);
        layers.extend(s.env_blocks.iter().map(|b| &b.settings));
    }
    for layer in layers {
        for tree in layer.values() {
            collect(tree, &mut found);
        }
    }
    add(env, found);
}

fn add(env: &mut Environment<'static>, strings: BTreeSet<String>) {
    for text in strings {
        // A compile error is reported when a unit renders the string.
        let _ = env.add_template_owned(name(&text), text);
    }
}

/// Renders the setting string `text` over `base`: through its compiled template when
/// [`register`] added one (`template_base`, `base` as a template value, is converted on
/// first use and kept for the unit's other strings), else through `render_str`.
pub fn render(
    env: &Environment<'static>,
    text: &str,
    base: &Value,
    template_base: &mut Option<minijinja::Value>,
) -> Result<String, minijinja::Error> {
    match env.get_template(&name(text)) {
        Ok(template) => {
            let base = template_base.get_or_insert_with(|| super::context::to_template(base));
            template.render(&*base)
        }
        Err(_) => env.render_str(text, base),
    }
}

fn collect(tree: &Tracked, found: &mut BTreeSet<String>) {
    match &tree.value {
        TrackedValue::Scalar(Value::String(s)) if is_template(s) => {
            if !found.contains(s) {
                found.insert(s.clone());
            }
        }
        TrackedValue::Scalar(_) => {}
        TrackedValue::List(items) => items.iter().for_each(|t| collect(t, found)),
        TrackedValue::Map(entries) => entries.values().for_each(|t| collect(t, found)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::map;

    /// Compiled once or per call, a string renders the same text or fails the same way.
    #[test]
    fn registered_strings_render_as_render_str_does() {
        let strings = [
            "{{ service.name }}.{{ environment.domain }}",
            "{% if environment.wave > 0 %}late{% else %}early{% endif %}",
            "{{ environment.nope }}",
            "{{ service.name | upper }}-{{ [service.name] | join(',') }}",
            "{{ unclosed",
            "{% for x in %}",
            "plain {{ 1 + 2 }}",
        ];
        let base = map([
            ("service", map([("name", Value::from("web"))])),
            (
                "environment",
                map([("domain", Value::from("dev.x")), ("wave", Value::Int(1))]),
            ),
        ]);
        let plain = super::super::engine::environment(&std::collections::BTreeMap::new());
        let mut compiled = super::super::engine::environment(&std::collections::BTreeMap::new());
        add(
            &mut compiled,
            strings.iter().map(ToString::to_string).collect(),
        );
        let mut template_base = None;
        for text in strings {
            assert!(is_template(text));
            let want = plain.render_str(text, &base);
            let got = render(&compiled, text, &base, &mut template_base);
            match (want, got) {
                (Ok(want), Ok(got)) => assert_eq!(want, got, "{text}"),
                (Err(want), Err(got)) => {
                    assert_eq!(want.kind(), got.kind(), "{text}");
                    assert_eq!(want.detail(), got.detail(), "{text}");
                }
                (want, got) => panic!("{text}: {want:?} vs {got:?}"),
            }
        }
        assert!(compiled.get_template(&name(strings[0])).is_ok());
        assert!(compiled.get_template(&name("{{ unclosed")).is_err());
    }
}
