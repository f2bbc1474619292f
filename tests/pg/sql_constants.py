#!/usr/bin/env python3
# Holds the numbers that migrations 001-010 spell as literals to the C
# definitions they stand for. Those files may not change (a database migrates
# forward), so when a C error code or state changes value, this fails instead
# of PostgreSQL silently returning the old number.
#
#   sql_constants.py EMBED_SQL_PY HEADER... -- MIGRATION...
#
# What a literal stands for is read from the SQL itself where it says so (the
# enumeration legend of 001_tables.sql, the CASE of a *_name function, the
# message beside an error code) and from the column it is compared with.
import importlib.util
import re
import sys

# The message that comes with a kbp__res() code says which code it is: first match wins.
# (function, message fragment, C name); function None matches any.
ERROR_MESSAGES = [
    ('kbp_job_retry', 'already holds unique key', 'KBP_ECONFLICT'),
    (None, 'already holds unique key', 'KBP_EEXISTS'),
    (None, 'already exists', 'KBP_EEXISTS'),
    (None, 'already has order', 'KBP_EEXISTS'),
    (None, 'is not active', 'KBP_EINACTIVE'),
    (None, 'has no items', 'KBP_EEMPTY'),
    (None, 'does not exist', 'KBP_ENOTFOUND'),
    (None, 'no order ', 'KBP_ENOTFOUND'),
    (None, 'is not in cart', 'KBP_ENOTFOUND'),
    (None, 'out of stock', 'KBP_EOUTOFSTOCK'),
    (None, 'is empty', 'KBP_EEMPTY'),
    (None, 'at most', 'KBP_ETOOBIG'),
    (None, 'exceeds', 'KBP_EOVERFLOW'),
    (None, 'is below the', 'KBP_ECONFLICT'),
    (None, 'another customer', 'KBP_ECONFLICT'),
    (None, 'different parameters', 'KBP_ECONFLICT'),
    (None, 'already in use', 'KBP_ECONFLICT'),
    (None, 'is taken', 'KBP_ECONFLICT'),
    (None, 'already prepared', 'KBP_ESTATE'),
    (None, ', not ', 'KBP_ESTATE'),
    (None, 'no longer held', 'KBP_ESTATE'),
    (None, '; only ', 'KBP_ESTATE'),
    (None, 'mixes currencies', 'KBP_EINVAL'),
    (None, 'must be positive', 'KBP_EINVAL'),
    (None, 'is not a job', 'KBP_EINVAL'),
]

# The enumerations of the legend and of the *_name functions: SQL word -> C prefix.
ENUMS = {
    'intent status': 'KBP_INTENT_',
    'job state': 'KBP_JOB_',
    'verification': 'KBP_VERIFICATION_',
    'kbp__intent_status_name': 'KBP_INTENT_',
    'kbp__job_state_name': 'KBP_JOB_',
    'kbp__outcome_name': 'KBP_VERIFICATION_',
    'kbp__verification_outcome_name': 'KBP_VERIFICATION_',
}

# A column compared with numbers: the enumeration its values come from.
COLUMNS = {'state': 'KBP_JOB_', 'job_state': 'KBP_JOB_', 'status': 'KBP_INTENT_',
           'intent_status': 'KBP_INTENT_', 'outcome': 'KBP_VERIFICATION_'}

FUNCTION = re.compile(r'CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([a-z0-9_]+)', re.I)
RES = re.compile(r"kbp__res\(\s*(-?\d+)\s*,\s*(NULL|'(?:[^']|'')*'|format\(\s*'(?:[^']|'')*')", re.S)
LEGEND = re.compile(r'^--\s+(intent status|job state|verification)\s+(.*)$', re.M)
CASE_ARM = re.compile(r"WHEN\s+(-?\d+)\s+THEN\s+'([a-z_]+)'")
COMPARE = re.compile(r'\b(?:[a-z_]+\.)?(state|job_state|status|intent_status|outcome)\s*'
                     r'(?:(=|<>|!=)\s*(\d+)\b|(?:NOT\s+)?IN\s*\(\s*(\d+(?:\s*,\s*\d+)*)\s*\))', re.I)


def load_embed(path):
    spec = importlib.util.spec_from_file_location('embed_sql', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def functions(sql):
    """(name, body) of each function, and ('', text) before the first."""
    marks = [(m.start(), m.group(1)) for m in FUNCTION.finditer(sql)]
    starts = [0] + [pos for pos, _ in marks] + [len(sql)]
    names = [''] + [name for _, name in marks]
    return [(names[i], sql[starts[i]:starts[i + 1]]) for i in range(len(names))]


def enum_value(c, prefix, word):
    """The C value of prefix + WORD, the old spelling's alias included."""
    return c.get(prefix + word.upper())


def check_errors(c, path, name, body, problems):
    for code, message in RES.findall(body):
        code = int(code)
        if code == 0 and message == 'NULL':
            continue
        want = next((cname for fn, frag, cname in ERROR_MESSAGES
                     if (fn is None or fn == name) and frag in message), None)
        if want is None:
            problems.append('%s: %s: no rule says which code %d (%s) is' % (path, name, code, message))
        elif c.get(want) != code:
            problems.append('%s: %s returns %d for "%s", but %s is %s in C'
                            % (path, name, code, message, want, c.get(want)))


def check_enum_words(c, path, prefix, pairs, what, problems):
    for number, word in pairs:
        if enum_value(c, prefix, word) != int(number):
            problems.append('%s: %s says %s is %s; C has %s%s = %s'
                            % (path, what, word, number, prefix, word.upper(),
                               enum_value(c, prefix, word)))


def check_columns(c, path, name, body, problems):
    for column, _, one, many in COMPARE.findall(body):
        prefix = COLUMNS[column.lower()]
        allowed = {v for k, v in c.items() if k.startswith(prefix) and not k.endswith(('_MAX', '_COUNT'))}
        for number in re.findall(r'\d+', one or many):
            if int(number) not in allowed:
                problems.append('%s: %s compares %s with %s, no %s… value'
                                % (path, name, column, number, prefix))


def check(c, path, sql):
    problems = []
    for kind, rest in LEGEND.findall(sql):
        check_enum_words(c, path, ENUMS[kind], re.findall(r'(\d+)\s+([a-z_]+)', rest),
                         'the legend', problems)
    for name, body in functions(sql):
        if name in ENUMS:
            check_enum_words(c, path, ENUMS[name], CASE_ARM.findall(body), name, problems)
        check_errors(c, path, name or '(top level)', body, problems)
        check_columns(c, path, name or '(top level)', body, problems)
    return problems


def main(argv):
    embed = load_embed(argv[1])
    rest = argv[2:]
    headers, sources = rest[:rest.index('--')], rest[rest.index('--') + 1:]
    c = embed.c_constants(headers)
    problems, seen = [], 0
    for path in sources:
        with open(path, encoding='utf-8') as f:
            sql = f.read()
        seen += len(RES.findall(sql)) + len(COMPARE.findall(sql))
        problems += check(c, path, sql)
    for p in problems:
        print(p)
    print('%d literals in %d migrations checked, %d disagree with C' % (seen, len(sources), len(problems)))
    return 1 if problems or seen == 0 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
