#!/usr/bin/env python3
"""Validate an X-ARF v4 report read from stdin with the `xarf` package (schema
v4.2.0, formats checked when jsonschema[format-nongpl] is installed).
Exit 0 when valid; unknown-field warnings (our documented extension fields
`scammer_identifiers`, `evidence_hashes`) are printed but do not fail.
Usage: cargo run -q --example dump xarf | venv/bin/python validate_xarf.py
"""
import json
import sys

from xarf.validator import XARFValidator

report = json.load(sys.stdin)
result = XARFValidator().validate(report, strict=False)
for w in result.warnings:
    print(f"warning: {w.field}: {w.message}")
for e in result.errors:
    print(f"FAIL: {e.field or '<root>'}: {e.message}")
if result.valid:
    print(f"OK: valid XARF {report.get('xarf_version')} {report.get('category')}/{report.get('type')} report")
sys.exit(0 if result.valid else 1)
