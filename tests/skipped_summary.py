#!/usr/bin/env python3
"""What did not run, and why: reads ctest's JUnit report (ctest --output-junit FILE) and
prints one line per reason with the tests it kept from running. Used by tests/run_tests.sh
so that a run whose tests skip (no GPU, no npm, no SLURM, ...) says so after ctest's own
summary, which names skipped tests but not why.

    tests/skipped_summary.py BUILD/Testing/junit.xml

Reasons come from the test's own output: an e2e script's `SKIPPED: why` line (skip in
tests/e2e/lib/common.bash), or GoogleTest's `file:line: Skipped` followed by the
GTEST_SKIP message. Tests ctest could not start (missing executable, failed fixture)
are failures, not skips: ctest's summary lists them under FAILED, and so they are not
counted here.
"""
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

# ctest's <skipped message=...> for the two ways a test asks to be counted as skipped.
SKIP_MESSAGES = ("SKIP_RETURN_CODE", "SKIP_REGULAR_EXPRESSION_MATCHED")


def reason(output: str, fallback: str) -> str:
    lines = output.splitlines()
    for line in reversed(lines):
        if line.startswith("SKIPPED: "):
            return line[len("SKIPPED: "):].strip()
    for i, line in enumerate(lines[:-1]):
        if line.rstrip().endswith(": Skipped") and lines[i + 1].strip():
            return lines[i + 1].strip()
    return fallback


def main(path: str) -> int:
    by_reason = defaultdict(list)
    cases = list(ET.parse(path).getroot().iter("testcase"))
    for case in cases:
        status, name = case.get("status"), case.get("name")
        if status == "disabled":
            by_reason["disabled in CMake (DISABLED property)"].append(name)
            continue
        skipped = case.find("skipped")
        if status != "notrun" or skipped is None:
            continue
        message = skipped.get("message", "")
        if not message.startswith(SKIP_MESSAGES):
            continue  # could not start: a failure, listed by ctest
        by_reason[reason(case.findtext("system-out") or "", f"no reason printed ({message})")].append(name)

    total = sum(len(names) for names in by_reason.values())
    if total == 0:
        print(f"Skipped: none ({len(cases)} test(s) selected, all ran)")
        return 0
    print(f"Skipped: {total} test(s) did not run")
    for why, names in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        print(f"  {len(names)} x {why}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
