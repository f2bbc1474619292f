# SPDX-License-Identifier: MIT
"""A password in the storage URI is in no exception: python3 -m unittest.

The library's messages become the exceptions' text; libpq quotes back a
connection string it cannot parse, or a piece of it. The PostgreSQL case
runs against KBP_TEST_PG_URI (./dev.sh test sets it): without it, it is
skipped, or fails when KBP_REQUIRE_PG=1.
"""

import os
import pickle
import traceback
import unittest
import urllib.parse

import kbpipeline

PG_URI = os.environ.get("KBP_TEST_PG_URI", "")
REQUIRE_PG = os.environ.get("KBP_REQUIRE_PG") == "1"

PW = "S3cr3t-Pw-xyzzy"
# Every form below holds both pieces, in the password only.
PIECES = ("S3cr3t", "xyzzy")

URIS_WITH_PASSWORD = [
    f"postgresql://shop:{PW}@[::1/db",
    f"postgresql://shop:{PW}@[]/db",
    f"postgresql://shop:{PW}%zz@127.0.0.1:1/db",
    f"postgresql://shop:{PW}@127.0.0.1:1/db?x=%zz",
    f"postgresql://shop:{PW}@127.0.0.1:1/db",
    f"postgresql://shop@127.0.0.1:1/db?password={PW}&bogus=1",
    "postgresql://shop:S3cr3t/Pw@xyzzy@127.0.0.1:1/db",
    "postgresql://shop:S3cr3t%2FPw%40xyzzy@[::1/db",
    f"host=127.0.0.1 port=1 password={PW}",
    "host=127.0.0.1 port=1 password=S3cr3t Pw-xyzzy",
    "host=127.0.0.1 port=1 password='S3cr3t \\'Pw\\' \"xyzzy\"' bogus",
]


def have_postgres():
    """A build without PostgreSQL refuses every such URI, for that reason alone."""
    try:
        kbpipeline.Pipeline("host=/nonexistent").close()
    except kbpipeline.InvalidArgument:
        return False
    except kbpipeline.Error:
        pass
    return True


HAVE_POSTGRES = have_postgres()


def everything_said(exc):
    """All an exception can show: its text, repr, args, pickle and traceback."""
    return "\n".join([
        str(exc), repr(exc), repr(exc.args), exc.message,
        repr(pickle.loads(pickle.dumps(exc)).args),
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    ])


class Checks:
    def assert_no_password(self, text):
        for piece in PIECES:
            self.assertNotIn(piece, text)

    def failure(self, call, *args, **kwargs):
        with self.assertRaises(kbpipeline.StorageError) as cm:
            call(*args, **kwargs)
        return cm.exception


@unittest.skipUnless(HAVE_POSTGRES, "this build has no PostgreSQL support")
class SecretsTests(Checks, unittest.TestCase):
    def test_search_can_fail(self):
        exc = kbpipeline.StorageError(-15, f"planted {PW}")
        self.assertIn(PIECES[1], everything_said(exc))

    def test_no_password_in_exceptions(self):
        for uri in URIS_WITH_PASSWORD:
            with self.subTest(uri=uri):
                opened = self.failure(kbpipeline.Pipeline, uri)
                migrated = self.failure(kbpipeline.migrate, uri)
                for exc in (opened, migrated):
                    self.assertIn("cannot connect to PostgreSQL: ", exc.message)
                    self.assert_no_password(everything_said(exc))

    def test_messages_say_what_is_wrong(self):
        exc = self.failure(kbpipeline.Pipeline, f"postgresql://shop:{PW}@[]/db")
        self.assertIn('IPv6 host address may not be empty in URI: '
                      '"postgresql://shop:***@[]/db"', exc.message)


def keywords():
    """The test server's URI as key=value pairs."""
    url = urllib.parse.urlsplit(PG_URI)
    q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
    return (f"host='{q['host']}' port='{q['port']}' user='{q['user']}' "
            f"dbname='{url.path.lstrip('/')}'")


@unittest.skipIf(not PG_URI and not REQUIRE_PG, "KBP_TEST_PG_URI is not set")
class PostgresSecretsTests(Checks, unittest.TestCase):
    """On the test server, which trusts local connections: the password is never checked."""

    def setUp(self):
        self.assertTrue(PG_URI, "KBP_REQUIRE_PG=1 requires KBP_TEST_PG_URI")

    def test_working_storage_with_password(self):
        schema = "kbp_py_secrets_%d" % os.getpid()
        for storage in (f"{PG_URI}&password={PW}", f"{keywords()} password='{PW}'"):
            with self.subTest(storage=storage):
                self.assertGreaterEqual(kbpipeline.migrate(storage, schema), 1)
                with kbpipeline.Pipeline(storage, storage_schema=schema) as p:
                    self.assertEqual(p.storage_name, "postgres")
                    self.assert_no_password(repr(p))

    def test_password_libpq_cannot_parse(self):
        storage = f"{keywords()} password=S3cr3t Pw-xyzzy"
        for call in (kbpipeline.Pipeline, kbpipeline.migrate):
            exc = self.failure(call, storage)
            self.assertIn('missing "=" after "***"', exc.message)
            self.assert_no_password(everything_said(exc))


if __name__ == "__main__":
    unittest.main()
