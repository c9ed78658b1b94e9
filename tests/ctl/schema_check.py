#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks reclaimctl against its JSON Schemas (examples/reclaimctl/schema).

usage: schema_check.py TOOL SCHEMA_DIR CASES_DIR

- every line `decide --explain` answers for cases/*.jsonl is valid under
  output.schema.json;
- input.schema.json agrees with the parser: an input line is schema-valid
  exactly when the tool does not answer it with a "json" or "input" error;
- config.schema.json likewise for cases/config-*.json, and it lists exactly
  the members `config --defaults` prints (plus "profile"), as many as the
  answer to a config line (output.schema.json) requires;
- FORMAT.md names every member the schemas define.

The validator below implements the subset of JSON Schema 2020-12 the schemas
use and refuses any other keyword, so a schema cannot silently rely on
something unchecked. A "$ref" to another of the schemas ("config.schema.json")
resolves against the referring schema's "$id", as in any validator that has
the three schemas registered.
"""

import glob
import json
import os
import re
import subprocess
import sys
import urllib.parse

ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}
KEYWORDS = {"$ref", "type", "properties", "required", "additionalProperties", "items",
            "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
            "minItems", "maxItems", "uniqueItems", "oneOf", "anyOf", "pattern"}


def same(a, b):
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def type_ok(value, name):
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
        # Integers are written without fraction or exponent (FORMAT.md).
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[name]


class Validator:
    def __init__(self, root, registry):
        self.root = root
        self.registry = registry  # "$id" -> schema, shared by the schemas

    def resolve(self, ref, root):
        """The schema ref names, and the schema document it is in."""
        uri, _, fragment = ref.partition("#")
        if uri:
            uri = urllib.parse.urljoin(root.get("$id", ""), uri)
            if uri not in self.registry:
                raise ValueError("$ref to an unknown schema: " + ref)
            root = self.registry[uri]
        node = root
        if fragment:
            if not fragment.startswith("/"):
                raise ValueError("only JSON pointers after #: " + ref)
            for part in fragment[1:].split("/"):
                node = node[part]
        return node, root

    def errors(self, schema, value, path="$", root=None):
        """First problem found, or None."""
        root = self.root if root is None else root
        unknown = set(schema) - KEYWORDS - ANNOTATIONS
        if unknown:
            raise ValueError(f"unsupported schema keywords {sorted(unknown)}")
        if "$ref" in schema:
            target, target_root = self.resolve(schema["$ref"], root)
            problem = self.errors(target, value, path, target_root)
            if problem:
                return problem
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(type_ok(value, t) for t in types):
                return f"{path}: not of type {schema['type']}"
        if "const" in schema and not same(value, schema["const"]):
            return f"{path}: not {schema['const']!r}"
        if "enum" in schema and not any(same(value, e) for e in schema["enum"]):
            return f"{path}: {value!r} not one of {schema['enum']}"
        if type_ok(value, "number"):
            if "minimum" in schema and value < schema["minimum"]:
                return f"{path}: below {schema['minimum']}"
            if "maximum" in schema and value > schema["maximum"]:
                return f"{path}: above {schema['maximum']}"
            if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
                return f"{path}: not above {schema['exclusiveMinimum']}"
            if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
                return f"{path}: not below {schema['exclusiveMaximum']}"
        if isinstance(value, str) and "pattern" in schema:
            if not re.search(schema["pattern"], value):
                return f"{path}: {value!r} does not match {schema['pattern']}"
        if isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                return f"{path}: fewer than {schema['minItems']} items"
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                return f"{path}: more than {schema['maxItems']} items"
            if schema.get("uniqueItems"):
                for i, x in enumerate(value):
                    if any(same(x, y) for y in value[:i]):
                        return f"{path}[{i}]: duplicate item"
            if "items" in schema:
                for i, item in enumerate(value):
                    problem = self.errors(schema["items"], item, f"{path}[{i}]", root)
                    if problem:
                        return problem
        if isinstance(value, dict):
            props = schema.get("properties", {})
            for key in schema.get("required", []):
                if key not in value:
                    return f"{path}: missing {key}"
            for key, item in value.items():
                if key in props:
                    problem = self.errors(props[key], item, f"{path}.{key}", root)
                elif schema.get("additionalProperties") is False:
                    problem = f"{path}: unexpected key {key!r}"
                elif isinstance(schema.get("additionalProperties"), dict):
                    problem = self.errors(schema["additionalProperties"], item,
                                          f"{path}.{key}", root)
                else:
                    problem = None
                if problem:
                    return problem
        if "anyOf" in schema:
            if all(self.errors(s, value, path, root) for s in schema["anyOf"]):
                return f"{path}: matches no anyOf branch"
        if "oneOf" in schema:
            matched = sum(1 for s in schema["oneOf"] if not self.errors(s, value, path, root))
            if matched != 1:
                return f"{path}: matches {matched} oneOf branches, not 1"
        return None


def strict_json(data):
    """json.loads as jansson reads it: UTF-8, no NaN, no duplicate keys."""
    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(items)

    def constant(name):
        raise ValueError("not JSON: " + name)

    return json.loads(data.decode("utf-8"), object_pairs_hook=pairs,
                      parse_constant=constant)


def self_test(output, config_defaults):
    """The validator must reject what the schema forbids."""
    summary = {"state": "soft", "previous_state": "high", "flags": [], "usable_bytes": 1,
               "free_bytes": 1, "threshold_bytes": [4, 3, 2, 1], "need_bytes": 0,
               "in_flight_bytes": 0, "reclaimable_bytes": 0, "balloon_bytes": 0,
               "swap_bytes": 0, "compress_bytes": 0, "deflate_bytes": 0, "level": None}
    decision = {"id": 1, "actions": ["balloon"], "target_bytes": 1, "balloon_target_bytes": 0,
                "swap_bytes": 0, "compress_bytes": 0, "excess_bytes": 0,
                "balloon_cap_bytes": "unlimited", "block": False, "state": "soft",
                "reasons": ["pressure", "bit20"], "bound": "none", "balloon_limit": "guest",
                "rho": 1.5}
    good = {"line": 1, "summary": summary, "decisions": [decision]}
    bad = [
        {"line": 0, "summary": summary, "decisions": []},
        {"line": 1, "summary": summary},
        {"line": 1, "summary": dict(summary, state="medium"), "decisions": []},
        {"line": 1, "summary": dict(summary, threshold_bytes=[1, 2, 3]), "decisions": []},
        {"line": 1, "summary": summary, "decisions": [dict(decision, extra=1)]},
        {"line": 1, "summary": summary, "decisions": [dict(decision, block=1)]},
        {"line": 1, "summary": summary, "decisions": [dict(decision, target_bytes=1.5)]},
        {"line": 1, "summary": summary, "decisions": [dict(decision, target_bytes=-1)]},
        {"line": 1, "summary": summary, "decisions": [dict(decision, reasons=["fast"])]},
        {"line": 1, "summary": summary,
         "decisions": [dict(decision, actions=["swap", "swap"])]},
        {"line": 1, "error": {"kind": "policy", "message": "no status"}},
        {"line": 1, "error": {"kind": "input", "message": "no path"}},
        {"line": 1, "error": {"kind": "other", "message": "x"}},
        {"line": 1, "dry_run": False, "summary": summary, "decisions": []},
        {"line": 1, "config": dict(config_defaults, idle_tax="high")},
        {"line": 1, "config": {k: v for k, v in config_defaults.items() if k != "page_size"}},
        {"line": 1, "config": dict(config_defaults, treshold_high=0.5)},
        {"line": 1, "config": config_defaults, "summary": summary},
    ]

    problems = []
    for doc in (good, {"line": 2, "config": config_defaults}):
        if output.errors(output.root, doc):
            problems.append("self-test: a valid answer was rejected: "
                            + output.errors(output.root, doc))
    for i, doc in enumerate(bad):
        if not output.errors(output.root, doc):
            problems.append(f"self-test: invalid answer {i} was accepted")
    return problems


def check_lines(tool, cases, input_v, output_v):
    problems = []
    checked = 0
    for path in sorted(glob.glob(os.path.join(cases, "*.jsonl"))):
        with open(path, "rb") as f:
            data = f.read()
        proc = subprocess.run([tool, "decide", "--explain"], input=data, capture_output=True,
                              timeout=120)
        answers = proc.stdout.decode("utf-8").splitlines()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        name = os.path.basename(path)
        if len(answers) != len(lines):
            problems.append(f"{name}: {len(lines)} lines in, {len(answers)} answers out")
            continue
        for number, (line, answer_text) in enumerate(zip(lines, answers), 1):
            answer = strict_json(answer_text.encode())
            problem = output_v.errors(output_v.root, answer)
            if problem:
                problems.append(f"{name}:{number}: answer invalid: {problem}")
            if answer.get("line") != number:
                problems.append(f"{name}:{number}: answer numbered {answer.get('line')}")
            try:
                doc = strict_json(line)
                input_problem = input_v.errors(input_v.root, doc)
            except ValueError as e:  # includes UnicodeDecodeError, JSONDecodeError
                input_problem = f"not JSON ({e})"
            rejected = answer.get("error", {}).get("kind") in ("json", "input")
            if rejected != bool(input_problem):
                problems.append(f"{name}:{number}: schema says "
                                f"{input_problem or 'valid'}, tool says "
                                f"{answer.get('error', 'result')}")
            checked += 1
    return checked, problems


def config_defaults(tool):
    proc = subprocess.run([tool, "config", "--defaults"], capture_output=True, timeout=60)
    return strict_json(proc.stdout)


def check_config(tool, schema_dir, cases, config_v, output_v):
    problems = []
    members = set(config_v.root["properties"]) - {"profile"}
    answer = output_v.root["$defs"]["config_result"]["properties"]["config"]
    if set(answer["required"]) != members:
        problems.append(f"a config answer requires {sorted(set(answer['required']) ^ members)} "
                        "unlike config.schema.json")
    for profile in ("esx", "esxi5", "paper"):
        proc = subprocess.run([tool, "config", "--defaults", "--profile", profile],
                              capture_output=True, timeout=60)
        doc = strict_json(proc.stdout)
        problem = config_v.errors(config_v.root, doc)
        if problem:
            problems.append(f"config --defaults --profile {profile}: {problem}")
        if set(doc) != members:
            problems.append(f"config --defaults prints {sorted(set(doc) ^ members)} "
                            "unlike the schema")
    files = sorted(glob.glob(os.path.join(cases, "config-*.json")))
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        try:
            problem = config_v.errors(config_v.root, strict_json(data))
        except ValueError as e:
            problem = f"not JSON ({e})"
        proc = subprocess.run([tool, "config", "--config", path], capture_output=True,
                              timeout=60)
        # Range errors are the library's (RECLAIM_E_...), not the schema's.
        accepted = proc.returncode == 0 or b": RECLAIM_E_" in proc.stderr
        if accepted == bool(problem):
            problems.append(f"{os.path.basename(path)}: schema says {problem or 'valid'}, "
                            f"tool says {proc.stderr.decode().strip() or 'valid'}")
    return len(files), problems


def check_format_doc(schema_dir, schemas):
    with open(os.path.join(schema_dir, "..", "FORMAT.md")) as f:
        doc = f.read()
    problems = []

    def walk(node):
        if isinstance(node, dict):
            for key in node.get("properties", {}):
                if f"`{key}`" not in doc:
                    problems.append(f"FORMAT.md does not name `{key}`")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema in schemas:
        walk(schema)
    return problems


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    tool, schema_dir, cases = sys.argv[1:]
    tool = os.path.abspath(tool)
    schemas = {}
    registry = {}
    for name in ("input", "output", "config"):
        with open(os.path.join(schema_dir, name + ".schema.json"), "rb") as f:
            root = strict_json(f.read())
        registry[root["$id"]] = root
        schemas[name] = Validator(root, registry)
    problems = self_test(schemas["output"], config_defaults(tool))
    lines, more = check_lines(tool, cases, schemas["input"], schemas["output"])
    problems += more
    configs, more = check_config(tool, schema_dir, cases, schemas["config"], schemas["output"])
    problems += more
    problems += check_format_doc(schema_dir, [v.root for v in schemas.values()])
    for problem in problems[:50]:
        print(problem)
    print(f"{lines} input lines and {configs} config files checked, "
          f"{len(problems)} problems")
    return 1 if problems or lines == 0 or configs == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
