#!/usr/bin/env python3
"""Hand-written mutants against the test suite: does a test fail when the code is wrong?

Each mutant in the list (tests/mutants.json) replaces one exact piece of source text, the kind of
slip a boundary or a removed check would be. For each, this script applies it, builds, runs the
ctest labels that cover that code, and puts the file back. A mutant no test kills marks a gap,
unless its "accepted" field says why: it is equivalent (the program behaves the same), or only
an ASan build or an impractical test (2^32 reuses) could tell.

Usage: scripts/mutants.py BUILD_DIR [--list FILE] [--only ID[,ID...]] [--jobs N] [--report FILE]
  BUILD_DIR  a configured build directory (the tests' build, e.g. build/default)
  --list     the mutants (default: tests/mutants.json next to this script's repository)
  --only     run just these ids (the text before the first space of each "id")
  --jobs     parallel build and test jobs (default 2)
  --report   write the results as JSON lines to FILE

Exit status: 0 when every mutant without an "accepted" reason was killed, 1 when one
survived, did not build, ran no test (ctest-error) or no longer matches the source (stale),
2 on bad arguments.
The source tree is restored after every mutant, also on Ctrl-C. Minutes per mutant: it builds.
"""
import argparse
import json
import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAILED_MARKS = ("(Failed)", "(Subprocess aborted)", "(Timeout)", "***Exception")


def fail(message):
    print(f"mutants.py: {message}", file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            mutants = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {e}")
    if not isinstance(mutants, list):
        fail(f"{path}: expected a JSON list of mutants")
    for i, m in enumerate(mutants):
        missing = [k for k in ("id", "file", "old", "new", "labels") if not isinstance(m.get(k), str)]
        if missing:
            fail(f"{path}: mutant {i} lacks {', '.join(missing)}")
    return mutants


def short_id(m):
    return m["id"].split()[0]


def run_one(m, build, jobs):
    """Returns (result, failing test names)."""
    path = os.path.join(ROOT, m["file"])
    with open(path, encoding="utf-8") as f:
        original = f.read()
    if original.count(m["old"]) != 1:
        return "stale", []

    def restore():
        with open(path, "w", encoding="utf-8") as out:
            out.write(original)

    def interrupted(*_):
        restore()
        sys.exit(130)

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original.replace(m["old"], m["new"], 1))
        b = subprocess.run(["cmake", "--build", build, "-j", str(jobs)], capture_output=True, text=True)
        if b.returncode != 0:
            return "build-fail", []
        t = subprocess.run(["ctest", "--test-dir", build, "-j", str(jobs), "-L", m["labels"], "--timeout", "300",
                            "--no-tests=error"], capture_output=True, text=True)
        failing = [line.strip() for line in t.stdout.splitlines() if any(k in line for k in FAILED_MARKS)]
        if t.returncode != 0 and not failing:
            # No test ran (a label that matches nothing) or ctest itself failed: not a kill.
            output = (t.stdout + t.stderr).strip().splitlines() or ["no output"]
            said = [line for line in output if "No tests were found" in line] or output[-1:]
            return "ctest-error", [said[0].strip()]
        return ("killed" if failing else "survived"), failing
    finally:
        restore()
        for s, h in previous.items():
            signal.signal(s, h)


def main():
    p = argparse.ArgumentParser(add_help=True, description="Run hand-written mutants against the tests.")
    p.add_argument("build")
    p.add_argument("--list", default=os.path.join(ROOT, "tests", "mutants.json"))
    p.add_argument("--only", default="")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--report", default="")
    try:
        args = p.parse_args()
    except SystemExit as e:
        sys.exit(2 if e.code else 0)
    if not os.path.isfile(os.path.join(args.build, "CTestTestfile.cmake")):
        fail(f"{args.build} is not a configured build directory")
    if args.jobs < 1:
        fail("--jobs must be at least 1")
    mutants = load(args.list)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {short_id(m) for m in mutants}
        if unknown:
            fail(f"no mutant with id {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if short_id(m) in wanted]
    report = open(args.report, "w", encoding="utf-8") if args.report else None
    gaps = 0
    counts = {}
    for m in mutants:
        result, failing = run_one(m, args.build, args.jobs)
        expected = result == "survived" and m.get("accepted")
        if not expected and result != "killed":
            gaps += 1
        counts[result] = counts.get(result, 0) + 1
        note = f"  (accepted: {m['accepted']})" if expected else ""
        print(f"{result:10} {m['id']}{note}", flush=True)
        for line in failing[:3]:
            print(f"           {line}", flush=True)
        if report:
            report.write(json.dumps({"id": m["id"], "result": result, "failing": failing}) + "\n")
    # Leave the build matching the restored sources.
    subprocess.run(["cmake", "--build", args.build, "-j", str(args.jobs)], capture_output=True)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"{len(mutants)} mutants: {summary}; {gaps} not caught without a stated reason")
    sys.exit(1 if gaps else 0)


if __name__ == "__main__":
    main()
