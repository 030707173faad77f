//! The minijinja environment every template renders in: templates come only from the
//! in-memory copy of `templates/` (so no template can read another file), undefined variables
//! are errors, and fuel bounds the work a template may do so a runaway loop fails fast.

use crate::model::TemplateFile;
use crate::value::Value;
use minijinja::value::Kwargs;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Instructions one template render may execute before it is stopped.
pub const FUEL: u64 = 5_000_000;

/// Builds the template environment over the stack's templates.
pub fn environment(templates: &BTreeMap<String, TemplateFile>) -> Environment<'static> {
    let mut env = Environment::new();
    let sources: Arc<BTreeMap<String, Arc<str>>> = Arc::new(
        templates
            .iter()
            .map(|(name, file)| (name.clone(), file.text.clone()))
            .collect(),
    );
    env.set_loader(move |name| Ok(sources.get(name).map(ToString::to_string)));
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_fuel(Some(FUEL));
    super::strict::install(&mut env);
    env.add_filter("to_yaml", to_yaml);
    env
}

/// `{{ value | to_yaml(indent=N) }}`: the value as a YAML block, every line after the first
/// indented by N spaces, no trailing newline — to sit on its own line under a key.
#[allow(
    clippy::needless_pass_by_value,
    reason = "minijinja passes filter arguments by value"
)]
fn to_yaml(
    value: minijinja::Value,
    indent: Option<usize>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let indent = match kwargs.get::<Option<usize>>("indent")? {
        Some(n) => Some(n),
        None => indent,
    };
    kwargs.assert_all_used()?;
    super::strict::refuse_undefined("filter", "to_yaml", std::slice::from_ref(&value))?;
    let json = serde_json::to_value(&value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot convert to YAML: {e}"),
        )
    })?;
    let text = crate::yaml::to_yaml(&Value::from(json));
    let pad = " ".repeat(indent.unwrap_or(0));
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.trim_end_matches('\n').split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    Ok(out)
}
