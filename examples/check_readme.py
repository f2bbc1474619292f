#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that the README shows the examples' code as it is: every code block
preceded by `<!-- examples/… -->` must appear, verbatim, in that file.

    check_readme.py SOURCE_ROOT
"""

import re
import sys
from pathlib import Path

BLOCK = re.compile(r"<!-- (examples/[^ ]+) -->\n```[a-z]*\n(.*?)^```$", re.M | re.S)


def main(argv):
    root = Path(argv[1])
    readme = (root / "README.md").read_text()
    blocks = BLOCK.findall(readme)
    problems = []
    if not blocks:
        problems.append("no <!-- examples/… --> code blocks in README.md")
    for path, code in blocks:
        source = root / path
        if not source.is_file():
            problems.append("%s: no such example" % path)
        elif code not in source.read_text():
            problems.append("%s: the README's block is not the file's code" % path)
        else:
            print("ok: README shows %s as it is" % path)
    for p in problems:
        print("check_readme: %s" % p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
