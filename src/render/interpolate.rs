//! `{{ }}` in settings (`host="{{ service.name }}.{{ environment.domain }}"`): each such
//! string is a template of its own, named [`name`]`(text)`, that the environment's loader
//! compiles the first time a unit renders it and keeps, instead of once per unit that uses
//! it (most strings are written once in `defaults` or repeated by every service, so one
//! compile serves hundreds of units). Compiling on first use, not when the renderer is
//! made, keeps an edit that renders one unit from walking every service's settings.

use crate::value::Value;
use minijinja::Environment;

/// Template names no file under `templates/` can have (a file name holds no NUL).
pub(super) const PREFIX: &str = "\u{0}settings:";

/// Whether a setting string is a template.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The name a setting string is registered under.
pub fn name(text: &str) -> String {
    format!("{PREFIX}{text}")
}

/// Renders the setting string `text` over `base`: through its compiled template
/// (`template_base`, `base` as a template value, is converted on first use and kept for the
/// unit's other strings), or, when it does not compile, through `render_str`, which reports
/// the error as it reports any other, per unit.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::map;

    /// Compiled once or per call, a string renders the same text or fails the same way.
    #[test]
    fn compiled_strings_render_as_render_str_does() {
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
        let compiled = super::super::engine::environment(&std::collections::BTreeMap::new());
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
