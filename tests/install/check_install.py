#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""meson install into a temporary DESTDIR, then use only that installed copy.

Checks that the headers, the shared library with its soname links, the static
library, the pkg-config file, kbpipe, the man pages (when this build makes
them) and the Python package (when this build makes it) are installed; builds
examples/c/checkout.c with `cc ... $(pkg-config --cflags --libs kbpipeline)`
as its comment tells a user to, and also against the static library, and runs
both; runs examples/python/checkout.py with PYTHONPATH naming only the
installed package; with --node, installs the Node package with `npm install` from a
copy of its folder, built on the installed library, into an application that
runs examples/node/checkout.js. examples/check_stages.py checks what the
examples print.
"""

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SONAME = "libkbpipeline.so.0"


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def run(cmd, log=True, **kw):
    """Runs cmd and returns its standard output; a failure raises Failed.

    The command goes to the test log, and so does its output when log is set or
    the command failed.
    """
    shown = cmd if isinstance(cmd, str) else " ".join(str(c) for c in cmd)
    print("$ " + shown, flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if log or r.returncode != 0:
        sys.stdout.write(r.stdout + r.stderr)
        sys.stdout.flush()
    if r.returncode != 0:
        raise Failed("%s: exit status %d" % (shown, r.returncode))
    return r.stdout


class Installed:
    """Where meson's directory options land under DESTDIR."""

    def __init__(self, args, dest):
        self.args = args
        self.dest = dest

    def dir(self, option):
        # Options inside the prefix are relative to it; others stay absolute.
        path = Path(self.args.prefix) / getattr(self.args, option)
        return self.dest / path.relative_to(path.anchor)


def built_here(args):
    """Which optional parts this build directory makes, from meson's introspection."""
    targets = json.loads(run([args.meson, "introspect", "--targets", args.builddir], log=False))
    src = Path(args.srcdir).resolve()

    def defined_in(rel):
        return [t for t in targets if Path(t["defined_in"]).resolve() == src / rel]

    man = bool(defined_in("man/meson.build"))
    python = any(t["type"] == "shared module" for t in defined_in("bindings/python/meson.build"))
    return man, python


def check_headers(args, inst):
    src_inc = Path(args.srcdir) / "include"
    headers = sorted(p.relative_to(src_inc) for p in src_inc.rglob("*.h"))
    check(Path("kbpipeline.h") in headers and Path("kbpipeline/sys/storage.h") in headers,
          "the source tree's headers were not found under %s" % src_inc)
    inc = inst.dir("includedir")
    for h in headers:
        check((inc / h).is_file(), "header %s is not installed in %s" % (h, inc))
        check(filecmp.cmp(src_inc / h, inc / h, shallow=False),
              "installed %s differs from the source" % h)
    # C callers include only the umbrella header: it must name every module.
    umbrella = (inc / "kbpipeline.h").read_text()
    for h in headers:
        if h.parent == Path("kbpipeline"):
            check('#include "%s"' % h.as_posix() in umbrella,
                  "kbpipeline.h does not include %s" % h)
    print("ok: %d headers in %s, the umbrella including each module" % (len(headers), inc))


def check_libraries(args, inst):
    lib = inst.dir("libdir")
    real = lib / ("libkbpipeline.so." + args.version)
    check(real.is_file() and not real.is_symlink(), "%s is not installed" % real)
    dynamic = run(["readelf", "-d", real], log=False)
    check("Library soname: [%s]" % SONAME in dynamic, "the soname of %s is not %s" % (real, SONAME))
    for link, target in ((SONAME, real.name), ("libkbpipeline.so", SONAME)):
        check((lib / link).is_symlink() and os.readlink(lib / link) == target,
              "%s is not a link to %s" % (lib / link, target))
    static = lib / "libkbpipeline.a"
    check(static.is_file(), "%s is not installed" % static)
    check((lib / "pkgconfig" / "kbpipeline.pc").is_file(), "kbpipeline.pc is not installed")
    kbpipe = inst.dir("bindir") / "kbpipe"
    check(kbpipe.is_file() and os.access(kbpipe, os.X_OK), "%s is not installed" % kbpipe)
    print("ok: %s, its links, libkbpipeline.a, kbpipeline.pc and kbpipe" % real.name)


def check_man(args, inst):
    src_man = Path(args.srcdir) / "man"
    pages = sorted(p.name[:-len(".scd")] for p in src_man.glob("*.scd"))
    check(pages, "no man page sources in %s" % src_man)
    man = inst.dir("mandir")
    for page in pages:
        path = man / ("man" + page.rsplit(".", 1)[1]) / page
        check(path.is_file() and path.stat().st_size > 0, "man page %s is not installed" % path)
    print("ok: %d man pages in %s" % (len(pages), man))


def check_c_example(args, inst, work):
    lib = inst.dir("libdir")
    env = dict(os.environ)
    env["PKG_CONFIG_SYSROOT_DIR"] = str(inst.dest)
    env["PKG_CONFIG_PATH"] = str(lib / "pkgconfig")
    pcdir = run(["pkg-config", "--variable=pcfiledir", "kbpipeline"], env=env).strip()
    check(Path(pcdir) == lib / "pkgconfig", "pkg-config found kbpipeline.pc in %s" % pcdir)
    flags = run(["pkg-config", "--cflags", "--libs", "kbpipeline"], env=env).split()
    check("-I%s" % inst.dir("includedir") in flags and "-L%s" % lib in flags,
          "pkg-config's flags do not point into the installed copy: %s" % flags)

    shutil.copy(Path(args.srcdir) / "examples" / "c" / "checkout.c", work)
    run("cc -o checkout checkout.c $(pkg-config --cflags --libs kbpipeline)",
        shell=True, cwd=work, env=env)
    run_env = dict(env, LD_LIBRARY_PATH=str(lib))
    ldd = run(["ldd", "./checkout"], log=False, cwd=work, env=run_env)
    check("%s => %s " % (SONAME, lib / SONAME) in ldd,
          "checkout does not load %s from %s" % (SONAME, lib))
    run([sys.executable, args.check_stages, "./checkout"], cwd=work, env=run_env)

    # libkbpipeline.a linked in, and what the .pc file says it needs
    # (Requires.private, Libs.private's -pthread -lm) linked as shared
    # libraries, which is how Debian ships them.
    run("cc -o checkout-static checkout.c $(pkg-config --cflags --libs-only-L kbpipeline)"
        " -l:libkbpipeline.a $(pkg-config --libs $(pkg-config --print-requires-private kbpipeline))"
        " -pthread -lm", shell=True, cwd=work, env=env)
    check("libkbpipeline" not in run(["readelf", "-d", "checkout-static"], log=False, cwd=work),
          "checkout-static needs a shared libkbpipeline")
    run([sys.executable, args.check_stages, "./checkout-static"], cwd=work)
    print("ok: examples/c/checkout.c built through pkg-config, shared and static")


def check_python(args, inst, work):
    inits = sorted(inst.dest.rglob("kbpipeline/__init__.py"))
    check(len(inits) == 1, "expected one installed kbpipeline/__init__.py, found %s"
          % [str(p) for p in inits])
    init = inits[0]
    check(filecmp.cmp(Path(args.srcdir) / "bindings/python/kbpipeline/__init__.py", init,
                      shallow=False), "installed %s differs from the source" % init)
    suffix = run([args.python, "-c",
                  "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                 log=False).strip()
    ext = init.parent / ("_kbpipeline_c" + suffix)
    check(ext.is_file(), "the extension %s is not installed" % ext)

    lib = inst.dir("libdir")
    env = dict(os.environ, PYTHONPATH=str(init.parent.parent), PYTHONDONTWRITEBYTECODE="1",
               LD_LIBRARY_PATH=str(lib))
    # The package, its extension and the library under it all come from DESTDIR.
    loaded = run([args.python, "-s", "-c",
                  "import kbpipeline, kbpipeline._kbpipeline_c as c\n"
                  "print(kbpipeline.__file__, c.__file__)\n"
                  "print(*sorted({l.split()[-1] for l in open('/proc/self/maps')"
                  " if 'libkbpipeline.so' in l}))"],
                 cwd=work, env=env).split()
    expected = [str(init), str(ext), str(lib / ("libkbpipeline.so." + args.version))]
    check(loaded == expected, "python loaded %s, not %s" % (loaded, expected))

    shutil.copy(Path(args.srcdir) / "examples" / "python" / "checkout.py", work)
    run([sys.executable, args.check_stages, args.python, "-s", "checkout.py"], cwd=work, env=env)
    print("ok: the kbpipeline package in %s, and examples/python/checkout.py on it"
          % init.parent.parent)


def check_node(args, inst, work):
    lib = inst.dir("libdir")
    env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=str(inst.dest),
               PKG_CONFIG_PATH=str(lib / "pkgconfig"))
    env.pop("GYP_DEFINES", None)
    # The package's folder as in the source tree: binding.gyp reads ../kbpipeline.i,
    # which includes the other interface files beside it, and the structs' field
    # lists its converters expand, ../../lib/core/fields.h.
    src = Path(args.srcdir) / "bindings"
    pkg = work / "bindings" / "node"
    pkg.mkdir(parents=True)
    for interface in src.glob("*.i"):
        shutil.copy(interface, pkg.parent)
    (work / "lib" / "core").mkdir(parents=True)
    shutil.copy(Path(args.srcdir) / "lib" / "core" / "fields.h", work / "lib" / "core")
    for name in ("package.json", "package-lock.json", "binding.gyp", "runtime.swg",
                 "async.swg"):
        shutil.copy(src / "node" / name, pkg)
    shutil.copytree(src / "node" / "lib", pkg / "lib")
    run(["npm", "install", "--no-audit", "--no-fund"], cwd=pkg, env=env)

    app = work / "node-app"
    app.mkdir()
    run(["npm", "install", "--no-audit", "--no-fund", str(pkg)], cwd=app, env=env)
    # The addon and the library under it come from the package and DESTDIR.
    loaded = run([args.node, "-e",
                  "require('kbpipeline');\n"
                  "const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');\n"
                  "const libs = maps.split('\\n').map((l) => l.split(/\\s+/).pop())"
                  ".filter((f) => /kbpipeline\\.(node|so)/.test(f));\n"
                  "console.log([...new Set(libs)].sort().join(' '));"],
                 cwd=app, env=env).split()
    expected = sorted([str(pkg / "build" / "Release" / "kbpipeline.node"),
                       str(lib / ("libkbpipeline.so." + args.version))])
    check(loaded == expected, "node loaded %s, not %s" % (loaded, expected))
    shutil.copy(Path(args.srcdir) / "examples" / "node" / "checkout.js", app)
    run([sys.executable, args.check_stages, args.node, "checkout.js"], cwd=app, env=env)
    print("ok: npm install of bindings/node on the installed library, and "
          "examples/node/checkout.js on it")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("meson", "builddir", "srcdir", "version", "prefix", "bindir", "libdir",
                 "includedir", "mandir"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--python", help="the interpreter the Python module is built for")
    ap.add_argument("--node", help="node, when the build makes the Node addon")
    args = ap.parse_args()
    args.check_stages = str(Path(args.srcdir) / "examples" / "check_stages.py")
    # meson test points this at the build directory's library; nothing here may use that one.
    os.environ.pop("LD_LIBRARY_PATH", None)

    man, python = built_here(args)
    check(not python or args.python, "the build makes the Python module, but --python is not given")
    with tempfile.TemporaryDirectory(prefix="kbp-install-") as tmp:
        dest = Path(tmp).resolve() / "dest"
        work = Path(tmp).resolve() / "work"
        work.mkdir()
        try:
            run([args.meson, "install", "-C", args.builddir, "--no-rebuild", "--destdir", dest],
                log=False)
        except Failed as e:
            raise Failed("%s; is %s fully built (meson compile)?" % (e, args.builddir)) from None
        inst = Installed(args, dest)

        check_headers(args, inst)
        check_libraries(args, inst)
        if man:
            check_man(args, inst)
        else:
            print("-- no man pages: this build does not make them (-Dman, scdoc)")
        check_c_example(args, inst, work)
        if python:
            check_python(args, inst, work)
        else:
            print("-- no Python package: this build does not make it (-Dpython)")
        if args.node:
            check_node(args, inst, work)
        else:
            print("-- no Node package: this build does not make the addon (-Dnode)")


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        print("FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
