#!/usr/bin/env python3
"""Plain Jinja2 on the benchmark's workload: the floor of any Jinja-based renderer.

usage: bench/jinja2_twin.py DIR   (DIR written by `gen_stack --jinja2`)

Renders every entry template of templates/web/ for every unit context of DIR/contexts.json
with Jinja2 (one process, the same templates stackc renders, a `to_yaml` filter like
stackc's for the scalars and small maps the templates pass it) and writes each non-empty
result to DIR/out/<env>/<layer>/<namespace>/<service>/<template>.yaml. No YAML is parsed,
validated, merged, hashed or sealed: this measures what rendering alone costs.
"""
import json
import os
import sys

import jinja2


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    plain = s and s[0].isalpha() and all(c.isalnum() or c in "-./:_" for c in s)
    return s if plain and s not in ("true", "false", "null", "yes", "no") else json.dumps(s)


def to_yaml(value, indent=0):
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, dict):
                lines.append(f"{k}:")
                lines.append("  " + to_yaml(v, 2).replace("\n", "\n" + " " * indent))
            else:
                lines.append(f"{scalar(k)}: {scalar(v)}")
        return ("\n" + " " * indent).join(lines)
    return scalar(value)


class Environment(jinja2.Environment):
    """`a.b` looks up the key first, as in minijinja (`service.values` is a key, not dict.values)."""

    def getattr(self, obj, attribute):
        try:
            return obj[attribute]
        except (TypeError, LookupError):
            return super().getattr(obj, attribute)


def main():
    root = sys.argv[1]
    env = Environment(
        loader=jinja2.FileSystemLoader(os.path.join(root, "templates")),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["to_yaml"] = to_yaml
    env.filters["items"] = lambda d: list(d.items())
    names = sorted(n for n in os.listdir(os.path.join(root, "templates", "web")) if n.endswith(".j2"))
    templates = [(n.split(".")[0], env.get_template(f"web/{n}")) for n in names]
    with open(os.path.join(root, "contexts.json")) as f:
        units = json.load(f)
    made = set()
    count = 0
    for unit in units:
        s = unit["service"]
        folder = os.path.join(root, "out", unit["env"], unit["layer"], s["namespace"], s["name"])
        for kind, template in templates:
            text = template.render(unit)
            if not text.strip():
                continue
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            with open(os.path.join(folder, f"{kind}.yaml"), "w") as f:
                f.write(text)
            count += 1
    print(f"{count} files", file=sys.stderr)


if __name__ == "__main__":
    main()
