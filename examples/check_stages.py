#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs a checkout example and checks what it printed: check_stages.py COMMAND [ARG...]

Every example, in every language, prints the same five stages of one checkout,
so one list of patterns checks them all. The command must exit 0 and its
standard output must be exactly these lines, in this order.
"""

import re
import subprocess
import sys

STAGES = [
    r"cart cart-1: 2 x tea-250g, version 1",
    r"intent pi_[0-9a-z]+: 90000 NPR reserved",
    r"payment: completed at sandbox, callback of [1-9][0-9]* bytes",
    r"verification: accepted, intent succeeded",
    r"order ORD-[0-9A-Z]+: confirmed",
]


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: check_stages.py COMMAND [ARG...]")
    run = subprocess.run(argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)

    problems = []
    if run.returncode != 0:
        problems.append("exit status %d, not 0" % run.returncode)
    lines = run.stdout.splitlines()
    for i, pattern in enumerate(STAGES):
        line = lines[i] if i < len(lines) else None
        if line is None:
            problems.append("stage %d missing: expected /%s/" % (i + 1, pattern))
        elif not re.fullmatch(pattern, line):
            problems.append("stage %d: %r does not match /%s/" % (i + 1, line, pattern))
    for line in lines[len(STAGES):]:
        problems.append("unexpected line after the last stage: %r" % line)

    for p in problems:
        print("check_stages: %s: %s" % (" ".join(argv[1:]), p), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
