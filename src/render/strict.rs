//! Undefined values stop at the first filter or function they reach. minijinja's strict mode
//! refuses to print, iterate or test an undefined value, but hands it silently to any filter
//! or function whose argument is a plain value (`to_yaml`, `join`, `items`, `first`, `dict`,
//! ...), which then renders it as `null` or an empty string: a typo such as
//! `service.chart.verison | to_yaml` would build. So every built-in filter and global function
//! is re-registered here behind a check that refuses an undefined argument, also one nested in
//! a list or map (a literal `[x.typo]` or `dict(version=x.typo)`). Only `default` (whose job is
//! an undefined input) takes one, as its first argument; tests (`is defined`) are untouched.

use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{filters, functions, Environment, Error, ErrorKind, State};

/// How deep a value is searched for an undefined part (deeper values are rare and bounded).
const MAX_DEPTH: usize = 64;

/// Replaces every built-in filter and global function by one that refuses undefined arguments.
pub fn install(env: &mut Environment<'static>) {
    macro_rules! strict_filters {
        ($($name:literal => $f:expr),* $(,)?) => {
            $(filter(env, $name, Value::from_function($f), 0);)*
        };
    }
    strict_filters! {
        "safe" => filters::safe, "escape" => filters::escape, "e" => filters::escape,
        "lower" => filters::lower, "upper" => filters::upper, "title" => filters::title,
        "capitalize" => filters::capitalize, "replace" => filters::replace,
        "length" => filters::length, "count" => filters::length,
        "dictsort" => filters::dictsort, "items" => filters::items,
        "reverse" => filters::reverse, "trim" => filters::trim, "join" => filters::join,
        "split" => filters::split, "lines" => filters::lines, "round" => filters::round,
        "abs" => filters::abs, "int" => filters::int, "float" => filters::float,
        "attr" => filters::attr, "first" => filters::first, "last" => filters::last,
        "min" => filters::min, "max" => filters::max, "sort" => filters::sort,
        "list" => filters::list, "string" => filters::string, "bool" => filters::bool,
        "batch" => filters::batch, "slice" => filters::slice, "sum" => filters::sum,
        "indent" => filters::indent, "select" => filters::select, "reject" => filters::reject,
        "selectattr" => filters::selectattr, "rejectattr" => filters::rejectattr,
        "map" => filters::map, "groupby" => filters::groupby, "unique" => filters::unique,
        "chain" => filters::chain, "zip" => filters::zip, "pprint" => filters::pprint,
        "format" => filters::format,
    }
    // `default` exists to take an undefined input; its fallback must still be defined.
    filter(env, "default", Value::from_function(filters::default), 1);
    filter(env, "d", Value::from_function(filters::default), 1);
    function(env, "range", Value::from_function(functions::range));
    function(env, "dict", Value::from_function(functions::dict));
    function(env, "namespace", Value::from_function(functions::namespace));
    function(env, "debug", Value::from_function(functions::debug));
    // Printing a list or map with an undefined part (`{{ [x.typo] }}`) is refused too.
    env.set_formatter(|out, state, value| {
        refuse_undefined("output", "{{ }}", std::slice::from_ref(value))?;
        minijinja::escape_formatter(out, state, value)
    });
}

fn filter(env: &mut Environment<'static>, name: &'static str, inner: Value, skip: usize) {
    env.add_filter(name, move |state: &State, args: Rest<Value>| {
        refuse_undefined("filter", name, args.get(skip..).unwrap_or_default())?;
        inner.call(state, &args)
    });
}

fn function(env: &mut Environment<'static>, name: &'static str, inner: Value) {
    env.add_function(name, move |state: &State, args: Rest<Value>| {
        refuse_undefined("function", name, &args)?;
        inner.call(state, &args)
    });
}

/// Fails when any argument is, or holds, an undefined value.
pub fn refuse_undefined(what: &str, name: &str, args: &[Value]) -> Result<(), Error> {
    for (i, arg) in args.iter().enumerate() {
        if let Some(path) = find_undefined(arg, MAX_DEPTH) {
            let which = if arg.is_kwargs() {
                format!("argument `{}`", path.trim_start_matches('.'))
            } else if path.is_empty() {
                format!("argument {}", i + 1)
            } else {
                format!("argument {} (at `{path}`)", i + 1)
            };
            return Err(Error::new(
                ErrorKind::UndefinedError,
                format!("{what} `{name}` was given an undefined value as its {which}"),
            ));
        }
    }
    Ok(())
}

/// The path of the first undefined part of `value` (`""` for the value itself).
pub fn find_undefined(value: &Value, depth: usize) -> Option<String> {
    if value.is_undefined() {
        return Some(String::new());
    }
    if depth == 0 {
        return None;
    }
    match value.kind() {
        // Only materialized sequences and maps: a one-shot iterator must not be consumed.
        ValueKind::Seq => {
            let items = value.try_iter().ok()?;
            for (i, item) in items.enumerate() {
                if let Some(rest) = find_undefined(&item, depth - 1) {
                    return Some(format!("[{i}]{rest}"));
                }
            }
            None
        }
        ValueKind::Map => {
            let keys = value.try_iter().ok()?;
            for key in keys {
                let Ok(item) = value.get_item(&key) else {
                    continue;
                };
                if let Some(rest) = find_undefined(&item, depth - 1) {
                    return Some(format!(".{key}{rest}"));
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    fn render(template: &str) -> Result<String, minijinja::Error> {
        let env = super::super::engine::environment(&BTreeMap::new());
        let ctx =
            minijinja::context! { x => minijinja::context! { a => 1, s => "t", l => vec![1, 2] } };
        env.render_str(template, ctx)
    }

    /// Every built-in filter and function, given an undefined value where a value belongs.
    #[test]
    fn no_builtin_takes_an_undefined_argument_silently() {
        let cases = [
            "{{ x.nope | to_yaml }}",
            "{{ [x.nope] | to_yaml }}",
            "{{ {'a': x.nope} | to_yaml }}",
            "{{ dict(x, version=x.nope) | to_yaml }}",
            "{{ dict(v=x.nope) }}",
            "{% set n = namespace(v=x.nope) %}",
            "{{ range(x.nope) }}",
            "{{ debug(x.nope) }}",
            "{{ x.nope | default(x.other) }}",
            "{{ x.nope | d(x.other) }}",
            "{{ x.l | join(x.nope) }}",
            "{{ x.l | batch(x.nope) | list }}",
            "{{ [x.nope, 1] | select | list }}",
            "{{ x | attr(x.nope) }}",
            "{{ x.s | replace('t', x.nope) }}",
            "{{ x.s | indent(x.nope) }}",
            "{{ '%s' | format(x.nope) }}",
            "{{ [x.nope] }}",
            "{{ {'a': [x.nope]} }}",
        ];
        let filters = [
            "safe",
            "escape",
            "e",
            "lower",
            "upper",
            "title",
            "capitalize",
            "length",
            "count",
            "dictsort",
            "items",
            "reverse",
            "trim",
            "join",
            "split",
            "lines",
            "round",
            "abs",
            "int",
            "float",
            "first",
            "last",
            "min",
            "max",
            "sort",
            "list",
            "string",
            "bool",
            "sum",
            "select",
            "reject",
            "unique",
            "pprint",
            "to_yaml",
        ];
        let mut failures = Vec::new();
        let generated: Vec<String> = filters
            .iter()
            .flat_map(|f| {
                [
                    format!("{{{{ x.nope | {f} }}}}"),
                    format!("{{{{ [x.nope] | {f} }}}}"),
                ]
            })
            .collect();
        for case in cases
            .iter()
            .copied()
            .chain(generated.iter().map(String::as_str))
        {
            match render(case) {
                Err(e) if e.kind() == minijinja::ErrorKind::UndefinedError => {}
                other => failures.push(format!("{case} -> {other:?}")),
            }
        }
        assert!(
            failures.is_empty(),
            "accepted undefined:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn defined_tests_and_default_keep_working() {
        for (template, want) in [
            ("{{ x.nope | default('d') }}", "d"),
            ("{{ x.a | default('d') }}", "1"),
            ("{% if x.nope is defined %}y{% else %}n{% endif %}", "n"),
            ("{% if x.a is defined %}y{% endif %}", "y"),
            ("{{ x.nope is undefined }}", "True"),
            ("{{ [1, x.a] }}", "[1, 1]"),
            ("{{ x.l | join(',') }}", "1,2"),
            (
                "{{ dict(x, b=2) | to_yaml }}",
                "a: 1\ns: t\nl:\n  - 1\n  - 2\nb: 2",
            ),
            (
                "{% set n = namespace(v=1) %}{% set n.v = n.v + 1 %}{{ n.v }}",
                "2",
            ),
        ] {
            assert_eq!(render(template).unwrap(), want, "{template}");
        }
    }
}
