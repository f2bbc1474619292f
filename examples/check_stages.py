#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs an example and checks what it printed:

    check_stages.py [--expect NAME] COMMAND [ARG...]

Every checkout example, in every language, prints the same five stages of one
checkout (NAME "checkout", the default), so one list of patterns checks them
all; the README's receipt examples have lists of their own. The command must
exit 0 and its standard output must be exactly these lines, in this order.
"""

import re
import subprocess
import sys

EXPECT = {
    "checkout": [
        r"cart cart-1: 2 x tea-250g, version 1",
        r"intent pi_[0-9a-z]+: 90000 NPR reserved",
        r"payment: completed at sandbox, callback of [1-9][0-9]* bytes",
        r"verification: accepted, intent succeeded",
        r"order ORD-[0-9A-Z]+: confirmed",
    ],
    "receipts-python": [
        r"batch: 1 new of 2",
        r"receipt for pi_[0-9a-z]+",
        r"receipt for pi_[0-9a-z]+",
        r"confirmed ORD-[0-9A-Z]+",
        r"refused: -5 'tea-250g' is out of stock: 8 available, 50 wanted",
    ],
    "receipts-node": [
        r"confirmed ORD-[0-9A-Z]+",
        r"receipt for pi_[0-9a-z]+",
        r"receipt for pi_[0-9a-z]+",
        r"batch: 1 new of 2",
        r"refused: KBP_EOUTOFSTOCK 'tea-250g' is out of stock: 8 available, 50 wanted",
    ],
}


def main(argv):
    args = argv[1:]
    name = "checkout"
    if args[:1] == ["--expect"] and len(args) > 1:
        name, args = args[1], args[2:]
    if not args or name not in EXPECT:
        sys.exit("usage: check_stages.py [--expect %s] COMMAND [ARG...]" % "|".join(EXPECT))
    stages = EXPECT[name]
    run = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)

    problems = []
    if run.returncode != 0:
        problems.append("exit status %d, not 0" % run.returncode)
    lines = run.stdout.splitlines()
    for i, pattern in enumerate(stages):
        line = lines[i] if i < len(lines) else None
        if line is None:
            problems.append("stage %d missing: expected /%s/" % (i + 1, pattern))
        elif not re.fullmatch(pattern, line):
            problems.append("stage %d: %r does not match /%s/" % (i + 1, line, pattern))
    for line in lines[len(stages):]:
        problems.append("unexpected line after the last stage: %r" % line)

    for p in problems:
        print("check_stages: %s: %s" % (" ".join(args), p), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
