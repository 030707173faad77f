#!/usr/bin/env python3
"""Checks that the three generated shapes describe the same objects, so the benchmark
compares like with like: for each environment, the Deployments, Services, ConfigMaps,
Ingresses and PVCs from `stackc build` (out/<env>), `kubectl kustomize overlays/<env>` and
`kapitan compile` (compiled/<env>) must be equal as data (key order and quoting aside).

usage: equivalence.py STACK_DIR KUSTOMIZE_DIR [KAPITAN_DIR]   (needs PyYAML)
"""
import pathlib
import subprocess
import sys

import yaml

KINDS = {"Deployment", "Service", "ConfigMap", "Ingress", "PersistentVolumeClaim"}
ENVS = ["dev", "staging", "production"]


def index(docs):
    out = {}
    for d in docs:
        if d and d.get("kind") in KINDS:
            key = (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
            assert key not in out, f"duplicate {key}"
            out[key] = d
    return out


def from_tree(root, pattern):
    docs = []
    for path in sorted(pathlib.Path(root).rglob(pattern)):
        if path.name != "kustomization.yaml":
            docs.extend(yaml.safe_load_all(path.read_text()))
    return index(docs)


def main():
    stack, kust = sys.argv[1], sys.argv[2]
    kapitan = sys.argv[3] if len(sys.argv) > 3 else None
    bad = 0
    for env in ENVS:
        want = from_tree(f"{stack}/out/{env}", "*.yaml")
        text = subprocess.run(["kubectl", "kustomize", f"{kust}/overlays/{env}"], check=True, capture_output=True, text=True).stdout
        peers = {"kustomize": index(yaml.safe_load_all(text))}
        if kapitan:
            peers["kapitan"] = from_tree(f"{kapitan}/compiled/{env}", "*.yml")
        for name, got in peers.items():
            if got != want:
                bad += 1
                missing = sorted(set(want) - set(got))[:3]
                extra = sorted(set(got) - set(want))[:3]
                diff = [k for k in want if k in got and got[k] != want[k]][:1]
                print(f"{env}: {name} differs from stackc: missing {missing} extra {extra}")
                for k in diff:
                    print(f"  {k}:\n  stackc: {want[k]}\n  {name}: {got[k]}")
            else:
                print(f"{env}: {name} == stackc ({len(want)} objects)")
    sys.exit(1 if bad else 0)


main()
