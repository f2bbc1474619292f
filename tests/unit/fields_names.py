#!/usr/bin/env python3
# Each field list of lib/core/fields.h names the members of its struct, as the
# header declares them, in the same order: a member added to a struct and not
# to its list (so not copied, freed, read or shown) fails here.
#
#   fields_names.py FIELDS_H HEADER...
import re
import sys

LIST = re.compile(r'#define KBP_FIELDS_(\w+)\(X\)((?:[^\n]*\\\n)*[^\n]*)')
ENTRY = re.compile(r'X\((\w+),\s*(\w+)(?:,\s*(\w+))?[^)]*\)')
STRUCT = re.compile(r'typedef struct (kbp_\w+) \{(.*?)\} \1;', re.S)
COMMENT = re.compile(r'/\*.*?\*/', re.S)
MEMBER = re.compile(r'(\w+)\s*(?:\[[^\]]*\])?\s*;')


def list_members(text):
    lists = {}
    for name, body in LIST.findall(text):
        if name == 'STRUCTS':
            continue
        members = []
        for kind, member, count in ENTRY.findall(body):
            if kind in ('ARRAY', 'STRS'):
                members.append(count)
            members.append(member)
        lists['kbp_' + name] = members
    return lists


def struct_members(headers):
    structs = {}
    for path in headers:
        with open(path, encoding='utf-8') as f:
            text = COMMENT.sub('', f.read())
        for name, body in STRUCT.findall(text):
            structs[name] = MEMBER.findall(body)
    return structs


def main(argv):
    with open(argv[1], encoding='utf-8') as f:
        lists = list_members(f.read())
    structs = struct_members(argv[2:])
    problems = []
    for name, members in sorted(lists.items()):
        if name not in structs:
            problems.append('%s: listed, but no header declares it' % name)
        elif structs[name] != members:
            problems.append('%s: the header declares %s\n  the list names     %s'
                            % (name, ', '.join(structs[name]), ', '.join(members)))
    for p in problems:
        print(p)
    print('%d field lists checked, %d differ from their struct' % (len(lists), len(problems)))
    return 1 if problems or not lists else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
