#!/usr/bin/env python3
"""Validate a STIX 2.1 bundle read from stdin; exit 0 only if it is valid.

Three independent checks, because each catches things the others miss:
  1. stix2.parse(allow_custom=False): object model, required properties,
     timestamp/id formats, and (for pattern_type 'stix') the pattern.
  2. stix2patterns.run_validator(stix_version='2.1') on every indicator pattern,
     so a pattern error is reported explicitly even if (1) changes behaviour.
  3. stix2validator.validate_parsed_json(version='2.1'): the OASIS
     JSON-schema + best-practice checks (results.is_valid), with
     in-bundle reference checking.

Usage: cargo run -q --example dump | venv/bin/python validate_stix.py [--strict]
  --strict  also fail on stix2-validator warnings (printed either way).
"""
import json
import sys

import stix2
from stix2patterns.validator import run_validator
from stix2validator import ValidationOptions, validate_parsed_json


def main() -> int:
    strict = "--strict" in sys.argv[1:]
    problems: list[str] = []

    try:
        data = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"FAIL: not JSON: {exc}")
        return 1
    if not isinstance(data, dict) or data.get("type") != "bundle":
        print("FAIL: top-level object is not a STIX bundle")
        return 1

    # 1. stix2 object model. No custom SDO properties are emitted, so custom
    #    content is refused; custom *pattern* object types are still allowed.
    try:
        stix2.parse(data, allow_custom=False, version="2.1")
    except Exception as exc:  # stix2 raises a family of exception types
        problems.append(f"stix2.parse: {type(exc).__name__}: {exc}")

    # 2. Patterns, one by one.
    for obj in data.get("objects") or []:
        if obj.get("type") != "indicator":
            continue
        pattern = obj.get("pattern")
        if obj.get("pattern_type") != "stix" or not isinstance(pattern, str):
            problems.append(f"{obj.get('id')}: missing STIX pattern")
            continue
        for err in run_validator(pattern, stix_version="2.1"):
            problems.append(f"stix2patterns {obj.get('id')}: {err}")

    # 3. OASIS validator. `uuid-check` (103) is disabled on purpose: ids are
    #    deterministic UUIDv5 so consumers dedupe across fetches, whereas the
    #    check recommends v4 for SDOs (a SHOULD, reported as a warning only).
    #    enforce_refs: created_by_ref / object_marking_refs must resolve in-bundle.
    options = ValidationOptions(
        version="2.1", strict=strict, disabled="uuid-check", enforce_refs=True
    )
    results = validate_parsed_json(data, options)
    results = results if isinstance(results, list) else [results]
    for res in results:
        for err in res.errors:
            problems.append(f"stix2-validator {res.object_id}: {err}")
        for warn in res.warnings:
            print(f"warning: stix2-validator {res.object_id}: {warn}")
        if not res.is_valid and not res.errors:
            problems.append(f"stix2-validator {res.object_id}: invalid")

    if problems:
        for p in problems:
            print(f"FAIL: {p}")
        return 1
    n = sum(1 for o in data.get("objects") or [] if o.get("type") == "indicator")
    print(f"OK: valid STIX 2.1 bundle with {n} indicator(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
