#!/usr/bin/python3
"""Reads a JUnit XML file with junitparser (Debian's python3-junitparser) and
prints what it made of it as one JSON object, for the JUnit consumer tests
in selftest/format and outer: each suite's attributes and properties, each
case with its results, the counts junitparser computes from the cases
(update_statistics), and the document's totals."""
import json
import sys

from junitparser import JUnitXml, TestSuite


def result(r):
    return {"kind": type(r).__name__, "message": r.message, "type": r.type, "text": r.text}


def suite(s):
    declared = {"tests": s.tests, "failures": s.failures, "errors": s.errors, "skipped": s.skipped, "time": s.time}
    cases = [{
        "name": c.name,
        "classname": c.classname,
        "time": c.time,
        "results": [result(r) for r in c.result],
        "system_out": c.system_out,
        "is_passed": c.is_passed,
        "is_skipped": c.is_skipped,
    } for c in s]
    s.update_statistics()
    return {
        "name": s.name,
        "hostname": s.hostname,
        "timestamp": s.timestamp,
        "declared": declared,
        # update_statistics recounts from the cases (and sums their times).
        "computed": {"tests": s.tests, "failures": s.failures, "errors": s.errors, "skipped": s.skipped},
        "properties": [{"name": p.name, "value": p.value} for p in s.properties()],
        "cases": cases,
    }


doc = JUnitXml.fromfile(sys.argv[1])
suites = [doc] if isinstance(doc, TestSuite) else list(doc)
out = {"root": doc._tag, "suites": [suite(s) for s in suites]}
if not isinstance(doc, TestSuite):
    out["totals"] = {"tests": doc.tests, "failures": doc.failures, "errors": doc.errors}
json.dump(out, sys.stdout)
sys.stdout.write("\n")
