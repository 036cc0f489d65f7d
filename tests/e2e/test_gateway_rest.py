"""End-to-end tests of rpcrest-gateway's REST transcoding (issue 5), on the
real programs.

Most classes start one rpcrestd (harness.Rpcrest: rpcrest-host with the
echo, testkit and bindings services, and rpcrest-gateway) for all of their
tests and talk to it over HTTP/1.1 on 127.0.0.1:

  Bindings     every google.api.http binding style of services/bindings
               (path variables, nested field, multi-segment and '**'
               variables, custom verb, body "*" / "field" / none, PUT, PATCH,
               DELETE, a custom method, response_body, additional_bindings),
               query parameters onto nested, repeated, enum, int64 and
               wrapper fields, and the percent-decoding rules
  Errors       gRPC codes 1-16 -> HTTP status and {"code","message","details"}
               (details rendered as Any JSON), WWW-Authenticate on 401
  Metadata     request headers -> metadata, response metadata -> headers,
               trailers with TE: trailers (read off a raw socket)
  Deadlines    Grpc-Timeout: shorter than the call, malformed, the default
  Streaming    NDJSON, Server-Sent Events, errors before and after the first
               message, a client that leaves cancels the call
  Health       GET /healthz[?service=]
  Options      [gateway] ignore_unknown_query_parameters and max_timeout

and some need processes of their own:

  Discovery    no `descriptors` key: the API comes from server reflection,
               and a service added to the INI appears after a host restart
               with no gateway restart
  HostDown     /healthz is 503 while the host is gone
  ScaleOut     [gateway] upstream with two hosts: round robin, and calls keep
               answering when one host is killed
  DeadAddress  [gateway] upstream lists a dead address first: every call is
               answered by the other, the dead one logged once
  Conflicts    two bindings that match the same requests: exit 78 at start
  BusyPoll     [gateway] busy_poll_us: a lone connection is served, its
               polling ends (no CPU while it idles or waits for a long call),
               and it is off when the gateway may use one CPU only

Only 127.0.0.1; every process is stopped by PID.
"""
import base64
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import zlib

import harness

BUILD = harness.BUILD
BINDINGS = "/rpcrest.bindings.Bindings/"

# A deadline the host sees may exceed the one asked for by this much: gRPC
# rounds the grpc-timeout it sends up to a coarser unit.
SLACK_MS = 100

# grpc-gateway's HTTP status for each gRPC code
HTTP_STATUS = {1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400,
               10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401}


def need_programs(*names):
    missing = [os.path.join(BUILD, n) for n in names
               if not os.access(os.path.join(BUILD, n), os.X_OK)]
    missing += [os.path.join(BUILD, "services", s + ".so")
                for s in ("echo", "testkit", "bindings", "files")
                if not os.path.exists(os.path.join(BUILD, "services", s + ".so"))]
    if missing:
        raise AssertionError("not built: %s (run make first)" % ", ".join(missing))


def echoed(method, **request):
    """What a bindings method answers: its name and the request it got."""
    return {"method": BINDINGS + method, "request": request}


def raw_exchange(port, request, timeout=10):
    """Sends raw request bytes, reads until the server closes; returns
    (status, [(lower-case name, value)], body bytes as sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(k.strip().lower(), v.strip())
               for k, _, v in (l.partition(":") for l in lines[1:])]
    return int(lines[0].split()[1]), headers, body


def parse_chunked(body):
    """(payload bytes, [(lower-case trailer name, value)]) of a chunked body."""
    payload, rest = b"", body
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        payload += rest[:size]
        if rest[size:size + 2] != b"\r\n":
            raise AssertionError("malformed chunk: %r" % rest[:size + 2])
        rest = rest[size + 2:]
    trailers = []
    for line in rest.split(b"\r\n"):
        if not line:
            break
        k, _, v = line.decode("latin-1").partition(":")
        trailers.append((k.strip().lower(), v.strip()))
    return payload, trailers


class Program:
    """One build/NAME -c INI started by a test, output in a log file,
    stopped by PID."""

    def __init__(self, name, ini, log_path):
        self.name, self.ini, self.log_path = name, ini, log_path
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([os.path.join(BUILD, self.name), "-c", self.ini],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()


def write_ini(path, host_port, http_port, services, gateway_extra=""):
    """An INI for programs started without rpcrestd."""
    text = ("[host]\nlisten = 127.0.0.1:%d\nthreads = 2\n\n"
            "[gateway]\nlisten = 127.0.0.1:%d\ntimeout = 2\nthreads = 2\n%s\n"
            % (host_port, http_port, gateway_extra))
    for name, descriptors in services:
        text += "[service.%s]\nplugin = %s/services/%s.so\n" % (name, BUILD, name)
        if descriptors:
            text += "descriptors = %s\n" % descriptors
        text += "\n"
    with open(path, "w") as f:
        f.write(text)


# ---- shared checks ------------------------------------------------------------------


class RestCase(unittest.TestCase):
    """self.port is the gateway's HTTP port."""

    def http(self, method, path, body=None, headers=None, timeout=10):
        """(status, {lower-case header: value}, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            hdrs.update(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def ok(self, method, path, body=None, headers=None):
        """A 200 application/json answer, parsed."""
        status, hdrs, data = self.http(method, path, body, headers)
        self.assertEqual(status, 200, "%s %s: %s" % (method, path, data[:500]))
        self.assertEqual(hdrs.get("content-type"), "application/json")
        return json.loads(data)

    def error(self, method, path, body=None, headers=None, status=None, code=None,
              message=None):
        """An error answer {"code","message","details"}; returns it parsed."""
        got_status, hdrs, data = self.http(method, path, body, headers)
        self.assertEqual(got_status, status, "%s %s: %s" % (method, path, data[:500]))
        self.assertEqual(hdrs.get("content-type"), "application/json")
        body = json.loads(data)
        self.assertEqual(sorted(body), ["code", "details", "message"], body)
        self.assertEqual(body["code"], code, body)
        if message is not None:
            self.assertEqual(body["message"], message)
        return body

    def stats(self):
        """testkit's counters, as ints."""
        return {k: int(v) for k, v in self.ok("GET", "/v1/testkit/stats").items()}

    def wait_stat(self, key, at_least, timeout=5):
        return harness.wait_until(lambda: self.stats().get(key, 0) >= at_least, timeout, 0.05)


class SystemCase(RestCase):
    """One rpcrestd with echo, testkit and bindings (`services`) for the
    whole class."""
    gateway_keys = None
    host_keys = None
    services = ("echo", "testkit", "bindings")

    @classmethod
    def setUpClass(cls):
        need_programs("rpcrestd", "rpcrest-host", "rpcrest-gateway")
        cls.system = harness.Rpcrest(services=cls.services,
                                     host=cls.host_keys, gateway=cls.gateway_keys)
        try:
            cls.system.start()
        except BaseException:
            cls.system.cleanup()
            raise
        cls.port = cls.system.http_port

    @classmethod
    def tearDownClass(cls):
        cls.system.cleanup()


# ---- binding styles -------------------------------------------------------------------


class Bindings(SystemCase):

    def test_path_variables_and_nested_field(self):
        self.assertEqual(self.ok("GET", "/v1/shelves/s1/books/b1"),
                         echoed("GetBook", shelf="s1", book={"id": "b1"}))

    def test_form_post_on_a_get_path(self):
        """grpc-gateway's path-length fallback: an HTML form POSTed to a
        path the API serves with GET (not POST) is the GET call, the form's
        fields query parameters after the URL's; X-HTTP-Method-Override
        names another method (case aside) whose route binds no body."""
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        got = self.ok("POST", "/v1/shelves/s1/search?tags=q",
                      b"tags=a+b&tags=%C3%A9&filter.author=Le%20Guin&limit=3&&genre=ESSAY", form)
        self.assertEqual(got, echoed("Search", shelf="s1", tags=["q", "a b", "\u00e9"],
                                     filter={"author": "Le Guin"}, limit=3, genre="ESSAY"))
        form_utf8 = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        self.assertEqual(self.ok("POST", "/v1/shelves/s1/search", b"", form_utf8),
                         echoed("Search", shelf="s1"))
        got = self.ok("POST", "/v1/shelves/s1/books/b1", b"force=true",
                      dict(form, **{"X-HTTP-Method-Override": "delete"}))
        self.assertEqual(got, echoed("DeleteBook", shelf="s1", book={"id": "b1"}, force=True))
        # refused: a malformed escape, a field the message has not, and the
        # forms of it that are no fallback (JSON, or an override with no route)
        self.error("POST", "/v1/shelves/s1/search", b"tags=%zz", form, status=400, code=3,
                   message="query parameter 'tags': malformed percent-encoding")
        # decoded once, as a query is: %25 is '%', %2B '+'; an escaped NUL is
        # refused as in a query, a raw one (or any control byte) as such
        got = self.ok("POST", "/v1/shelves/s1/search", b"tags=100%25&tags=a%2Bb&tags=%2541", form)
        self.assertEqual(got["request"]["tags"], ["100%", "a+b", "%41"])
        self.error("POST", "/v1/shelves/s1/search", b"tags%00x=1", form, status=400, code=3)
        self.error("POST", "/v1/shelves/s1/search", b"limit=3%00junk", form, status=400, code=3)
        self.error("POST", "/v1/shelves/s1/search", b"tags=a\x00b", form, status=400, code=3,
                   message="the form body has a raw control character (0x00): escape it")
        self.error("POST", "/v1/shelves/s1/search", b"nope=1", form, status=400, code=3)
        self.assertEqual(self.http("POST", "/v1/shelves/s1/search", b"tags=a")[0], 405)
        self.assertEqual(self.http("POST", "/v1/shelves/s1/search", b"tags=a",
                                   dict(form, **{"X-HTTP-Method-Override": "PUT"}))[0], 405)
        # a path with a POST route takes the POST, form or not (its body is JSON)
        self.error("POST", "/v1/search", b"tags=a", form, status=400, code=3)

    def test_head_is_get_without_the_body(self):
        """HEAD on a path the API serves with GET answers what GET would,
        headers and Content-Length, without the body (RFC 9110 9.3.2); a
        path without GET stays a 405, whose Allow names HEAD after GET."""
        status, headers, body = self.http("GET", "/v1/shelves/s1/books/b1")
        h_status, h_headers, h_body = self.http("HEAD", "/v1/shelves/s1/books/b1")
        self.assertEqual((status, h_status, h_body), (200, 200, b""))
        self.assertEqual(h_headers.get("content-length"), str(len(body)))
        self.assertEqual(h_headers.get("content-type"), "application/json")
        self.assertEqual(self.http("HEAD", "/v1/shelves/s1/books/b1?nope=1")[0], 400)
        status, headers, body = self.http("HEAD", "/v1/shelves/s1")  # POST and PURGE only
        self.assertEqual((status, body), (405, b""))
        self.assertNotIn("HEAD", headers.get("allow"))
        self.assertEqual(self.http("HEAD", "/v1/no/such")[0], 404)
        # the connection goes on to the next request
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(conn.close)
        for method in ("HEAD", "GET", "HEAD"):
            conn.request(method, "/v1/shelves/s1/books/b1")
            resp = conn.getresponse()
            self.assertEqual((resp.status, len(resp.read()) > 0), (200, method == "GET"))

    def test_multi_segment_variable(self):
        self.assertEqual(self.ok("GET", "/v1/publishers/p1/books/b1"),
                         echoed("GetByName", name="publishers/p1/books/b1"))
        # the pattern's literals must be there, and every segment
        self.error("GET", "/v1/publishers/p1/shelves/b1", status=404, code=5)
        self.error("GET", "/v1/publishers/p1/books/b1/", status=404, code=5)
        self.error("GET", "/v1/publishers/p1/books", status=404, code=5)
        # the same URLs, another verb: the variable fills a field of the body's message
        self.assertEqual(self.ok("PATCH", "/v1/publishers/p1/books/b1", {"title": "T"}),
                         echoed("UpdateByName", book={"id": "publishers/p1/books/b1",
                                                      "title": "T"}, updateMask="title"))

    def test_double_star(self):
        self.assertEqual(self.ok("GET", "/v1/files/a/b/c.txt"),
                         echoed("GetFile", path="a/b/c.txt"))
        self.assertEqual(self.ok("GET", "/v1/files/one"), echoed("GetFile", path="one"))

    def test_custom_verb(self):
        self.assertEqual(self.ok("POST", "/v1/shelves/s1/books/b1:undelete"),
                         echoed("Undelete", name="shelves/s1/books/b1"))
        self.assertEqual(self.ok("POST", "/v1/shelves/s1/books/b1:undelete?force=true"),
                         echoed("Undelete", name="shelves/s1/books/b1", force=True))
        self.error("POST", "/v1/shelves/s1/books/b1:delete", status=405, code=12)

    def test_body_star(self):
        body = {"shelf": "from-body", "book": {"id": "i", "title": "T", "genre": "NOVEL"},
                "tags": ["a", "b"], "offset": "12", "limit": 7}
        # the path variable wins over the body; with body "*" the query string
        # takes no part
        self.assertEqual(self.ok("POST", "/v1/echo/s1?tags=ignored&nope=1", body),
                         echoed("Echo", shelf="s1",
                                book={"id": "i", "title": "T", "genre": "NOVEL"},
                                tags=["a", "b"], offset="12", limit=7))
        self.assertEqual(self.ok("POST", "/v1/echo/s1", b""), echoed("Echo", shelf="s1"))

    def test_body_field(self):
        got = self.ok("POST", "/v1/shelves/s1/books?force=true&tags=x&tags=y",
                      {"id": "b9", "title": "Dune", "genre": "NOVEL"})
        self.assertEqual(got, echoed("CreateBook", shelf="s1",
                                     book={"id": "b9", "title": "Dune", "genre": "NOVEL"},
                                     tags=["x", "y"], force=True))
        # the body is the field, not the request
        self.error("POST", "/v1/shelves/s1/books", {"book": {"id": "x"}}, status=400, code=3)
        # query parameters inside the body field are not bound: the body wins
        got = self.ok("POST", "/v1/shelves/s1/books?book.title=Q&book.id=q&book=1&force=1",
                      {"title": "T"})
        self.assertEqual(got, echoed("CreateBook", shelf="s1", book={"title": "T"}, force=True))

    def test_put(self):
        got = self.ok("PUT", "/v1/shelves/s1/books/b1",
                      {"book": {"id": "ignored", "title": "T"}, "force": True})
        self.assertEqual(got, echoed("UpdateBook", shelf="s1", book={"id": "b1", "title": "T"},
                                     force=True))

    def test_patch(self):
        got = self.ok("PATCH", "/v1/shelves/s1/books/b1?update_mask=title,genre",
                      {"title": "T2", "genre": 3})
        self.assertEqual(got, echoed("PatchBook", shelf="s1",
                                     book={"id": "b1", "title": "T2", "genre": "POETRY"},
                                     updateMask="title,genre"))

    def test_patch_without_mask_fills_it_from_the_body(self):
        got = self.ok("PATCH", "/v1/shelves/s1/books/b1",
                      {"title": "T2", "genre": 3, "origin": {"author": "N"}})
        self.assertEqual(got["request"]["book"], {"id": "b1", "title": "T2", "genre": "POETRY",
                                                  "origin": {"author": "N"}})
        # the paths of the body's keys (not of the path variable book.id)
        self.assertEqual(sorted(got["request"]["updateMask"].split(",")),
                         ["genre", "origin.author", "title"])

    def test_unannotated_method_is_not_routed_by_default(self):
        self.error("POST", "/rpcrest.bindings.Bindings/Unannotated", {}, status=404, code=5)

    def test_delete(self):
        self.assertEqual(self.ok("DELETE", "/v1/shelves/s1/books/b1"),
                         echoed("DeleteBook", shelf="s1", book={"id": "b1"}))
        self.assertEqual(self.ok("DELETE", "/v1/shelves/s1/books/b1?force=1"),
                         echoed("DeleteBook", shelf="s1", book={"id": "b1"}, force=True))

    def test_custom_method(self):
        self.assertEqual(self.ok("PURGE", "/v1/shelves/s1"), echoed("PurgeShelf", shelf="s1"))
        self.error("PURGE", "/v1/shelves/s1/books", status=405, code=12)
        # a 405 says which methods the path takes (RFC 9110 15.5.6)
        self.assertEqual(self.http("PURGE", "/v1/shelves/s1/books")[1].get("allow"), "POST")
        allow = self.http("POST", "/v1/shelves/s1/books/b1")[1].get("allow")
        self.assertEqual(sorted(allow.split(", ")), ["DELETE", "GET", "HEAD", "PATCH", "PUT"])
        # and with curl, as a user would call it
        if shutil.which("curl"):
            out = subprocess.run(["curl", "-s", "-X", "PURGE",
                                  "http://127.0.0.1:%d/v1/shelves/s2" % self.port],
                                 capture_output=True, timeout=10)
            self.assertEqual(json.loads(out.stdout), echoed("PurgeShelf", shelf="s2"))

    def test_response_body(self):
        status, _, data = self.http("GET", "/v1/shelves/s1/request?tags=a&genre=ESSAY")
        self.assertEqual((status, data), (200, b'{"shelf":"s1","tags":["a"],"genre":"ESSAY"}'))

    def test_additional_bindings(self):
        self.assertEqual(self.ok("GET", "/v1/search?tags=a"), echoed("Search", tags=["a"]))
        self.assertEqual(self.ok("GET", "/v1/shelves/s9/search?tags=b"),
                         echoed("Search", shelf="s9", tags=["b"]))
        self.assertEqual(self.ok("POST", "/v1/search", {"tags": ["c"], "genre": "POETRY"}),
                         echoed("Search", tags=["c"], genre="POETRY"))

    def test_query_parameters(self):
        got = self.ok("GET", "/v1/search?filter.author=Le%20Guin&filter.year=1969&tags=x&tags=y"
                             "&genre=ESSAY&offset=9007199254740993&ids=1&ids=-2&limit=3"
                             "&force=true&book.genre=NOVEL&book.title=T")
        self.assertEqual(got, echoed("Search", filter={"author": "Le Guin", "year": 1969},
                                     tags=["x", "y"], genre="ESSAY", offset="9007199254740993",
                                     ids=["1", "-2"], limit=3, force=True,
                                     book={"title": "T", "genre": "NOVEL"}))
        # enums by number; a wrapper set to its default is still set
        self.assertEqual(self.ok("GET", "/v1/search?genre=2&limit=0"),
                         echoed("Search", genre="ESSAY", limit=0))
        # a field by its proto name or its JSON name
        self.assertEqual(self.ok("GET", "/v1/search?page_size=10"), echoed("Search", pageSize=10))
        self.assertEqual(self.ok("GET", "/v1/search?pageSize=11"), echoed("Search", pageSize=11))
        # an integer as any number of integral value, as in a JSON body (README)
        self.assertEqual(self.ok("GET", "/v1/search?page_size=1e2"), echoed("Search", pageSize=100))
        self.assertEqual(self.ok("GET", "/v1/search?page_size=12.0"), echoed("Search", pageSize=12))
        # the path wins over the query for the same field
        self.assertEqual(self.ok("GET", "/v1/shelves/s1/books/b1?shelf=x&book.id=y&book.title=T"),
                         echoed("GetBook", shelf="s1", book={"id": "b1", "title": "T"}))

    def test_query_decoding(self):
        got = self.ok("GET", "/v1/search?tags=a%20b&tags=c+d&tags=e%2Ff&tags=%E2%82%AC&tags=")
        self.assertEqual(got, echoed("Search", tags=["a b", "c d", "e/f", "\u20ac", ""]))

    def test_bad_query_values(self):
        for query in ("genre=BOGUS", "offset=1.5", "ids=x", "limit=x", "force=yes",
                      "filter.year=y", "filter=x", "tags=%zz"):
            self.error("GET", "/v1/search?" + query, status=400, code=3)

    def test_unknown_query_parameter(self):
        body = self.error("GET", "/v1/search?tags=a&nope=1", status=400, code=3)
        self.assertIn("nope", body["message"])
        body = self.error("GET", "/v1/search?filter.nope=1", status=400, code=3)
        self.assertIn("nope", body["message"])
        self.error("DELETE", "/v1/shelves/s1/books/b1?forse=true", status=400, code=3)

    def test_query_parameter_names_are_no_kind_of_failure(self):
        """A parameter's name is the client's, whatever it says: one that
        names no field is a 400 even when the reason would end in "out of
        memory", and the reason is whole, the name shown up to 100 bytes and
        then "..."."""
        x100 = "x" * 100
        for name, shown in (("x" * 241 + "out of memory", x100 + "..."),
                            ("bogus out of memory", "bogus out of memory")):
            query = urllib.parse.quote(name) + "=1"
            self.error("GET", "/v1/search?" + query, status=400, code=3,
                       message="query parameter '%s': rpcrest.bindings.BindRequest has no "
                               "field '%s'" % (shown, shown))
        query = "filter." + urllib.parse.quote(x100 + "out of memory") + "=1"
        self.error("GET", "/v1/search?" + query, status=400, code=3,
                   message="query parameter 'filter.%s...': rpcrest.bindings.Filter has no "
                           "field '%s...'" % (x100[:93], x100))

    def test_query_empty_components(self):
        """Empty components of the query string are skipped, as Go's
        url.ParseQuery (and so grpc-gateway) skips them."""
        self.assertEqual(self.ok("GET", "/v1/search?&tags=a"), echoed("Search", tags=["a"]))
        self.assertEqual(self.ok("GET", "/v1/search?tags=a&&tags=b&"),
                         echoed("Search", tags=["a", "b"]))
        self.assertEqual(self.ok("GET", "/v1/search?&"), echoed("Search"))
        # nor do they count against the limit of 256 parameters
        self.assertEqual(self.ok("GET", "/v1/search?" + "&" * 300 + "tags=a"),
                         echoed("Search", tags=["a"]))

    def test_query_singular_field_given_twice(self):
        for query, name in (("force=true&force=false", "force"), ("limit=1&limit=2", "limit"),
                            ("page_size=1&pageSize=2", "pageSize"),
                            ("filter.author=A&filter.author=B", "filter.author"),
                            ("update_mask=title&update_mask=genre", "update_mask")):
            body = self.error("GET", "/v1/search?" + query, status=400, code=3)
            self.assertIn("query parameter '%s': given more than once" % name, body["message"])
        # repeated fields take every value
        self.assertEqual(self.ok("GET", "/v1/search?ids=1&ids=1"), echoed("Search", ids=["1", "1"]))

    def test_query_nul_byte(self):
        """%00 in a name is refused, not taken as the end of the name; in a
        string's value it stays."""
        body = self.error("GET", "/v1/search?tags%00junk=x", status=400, code=3)
        self.assertIn("query parameter 'tags%00junk': the name has a NUL byte", body["message"])
        # (the value itself is checked in test_gw_bind: protobuf-c, which
        # the bindings plugin echoes with, ends a string at its NUL)
        self.assertEqual(self.http("GET", "/v1/search?tags=a%00b")[0], 200)
        self.error("GET", "/v1/search?offset=1%00", status=400, code=3)

    def test_query_field_mask(self):
        """A FieldMask in the query string holds proto field paths,
        comma-separated (grpc-gateway); lowerCamelCase paths are taken too."""
        self.assertEqual(self.ok("GET", "/v1/search?update_mask=page_size,filter.author"),
                         echoed("Search", updateMask="pageSize,filter.author"))
        self.assertEqual(self.ok("GET", "/v1/search?update_mask=pageSize%2Ctitle"),
                         echoed("Search", updateMask="pageSize,title"))
        self.assertEqual(self.ok("PATCH", "/v1/shelves/s1/books/b1?update_mask=page_size",
                                 {"title": "T"}),
                         echoed("PatchBook", shelf="s1", book={"id": "b1", "title": "T"},
                                updateMask="pageSize"))
        for mask in ("title,,genre", "title,", ",title"):
            body = self.error("GET", "/v1/search?update_mask=" + mask, status=400, code=3)
            self.assertIn("an empty path in the mask", body["message"])
        # the JSON body keeps the proto3 JSON form: lowerCamelCase paths
        self.assertEqual(self.ok("POST", "/v1/search", {"updateMask": "pageSize,filter.author"}),
                         echoed("Search", updateMask="pageSize,filter.author"))
        self.error("POST", "/v1/search", {"updateMask": "page_size"}, status=400, code=3)

    def test_single_segment_variable_is_decoded_whole(self):
        """http.proto: the server decodes a one-segment variable whole, an
        escaped '/' too, so that "a/b" and "a%2Fb" stay two values."""
        self.assertEqual(self.ok("GET", "/v1/shelves/a%2Fb/books/b%20c%3A%25"),
                         echoed("GetBook", shelf="a/b", book={"id": "b c:%"}))
        self.assertEqual(self.ok("GET", "/v1/shelves/a%252Fb/books/b"),
                         echoed("GetBook", shelf="a%2Fb", book={"id": "b"}))

    def test_multi_segment_variable_keeps_escaped_slash(self):
        self.assertEqual(self.ok("GET", "/v1/publishers/p%2Fq/books/b%20c"),
                         echoed("GetByName", name="publishers/p%2Fq/books/b c"))
        self.assertEqual(self.ok("GET", "/v1/files/a/b%2fc/d%20e.txt"),
                         echoed("GetFile", path="a/b%2fc/d e.txt"))

    def test_malformed_percent_encoding(self):
        for path in ("/v1/shelves/a%zz/books/b", "/v1/shelves/s/books/b%2", "/v1/files/x%g0"):
            self.error("GET", path, status=400, code=3)

    def test_whoami(self):
        pid = int(self.ok("GET", "/v1/whoami")["pid"])
        self.assertEqual(pid, self.system.children()["rpcrest-host"])


# ---- errors ------------------------------------------------------------------------------


class Errors(SystemCase):

    def test_every_code(self):
        for code in range(1, 17):
            with self.subTest(code=code):
                message = "failure %d: \u00e9 \"quoted\"" % code
                status, headers, data = self.http("POST", "/v1/testkit/fail",
                                                  {"code": code, "message": message})
                self.assertEqual(status, HTTP_STATUS[code], data)
                self.assertEqual(headers.get("content-type"), "application/json")
                self.assertEqual(json.loads(data),
                                 {"code": code, "message": message, "details": []})

    def test_error_bodies_are_valid_utf8(self):
        """Bytes of a request that are not UTF-8 are echoed in error messages
        as U+FFFD, and a message cut at its length limit in the middle of a
        character ends with one, so that the body is always valid JSON."""
        cases = [
            (b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             404, "/\ufffd\ufffd"),
            (b"GET /healthz?service=%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             400, "not a valid UTF-8 name"),
            (b"GET /healthz?service=a%00b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             400, "not a valid UTF-8 name"),
            (b"GET /" + "\u00e9".encode() * 150 + b" HTTP/1.1\r\nHost: x\r\n"
             b"Connection: close\r\n\r\n", 404, "\u00e9"),
        ]
        for request, status, part in cases:
            with self.subTest(request=request[:40]):
                got, _, body = raw_exchange(self.port, request)
                self.assertEqual(got, status, body)
                message = json.loads(body.decode("utf-8"))["message"]  # strict UTF-8
                self.assertIn(part, message)

    def test_details(self):
        details = [{"@type": "type.googleapis.com/google.protobuf.StringValue", "value": "hello"},
                   {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1.5s"},
                   {"@type": "type.googleapis.com/rpcrest.testkit.Nested", "name": "n",
                    "value": 3, "colors": ["RED", "BLUE"]},
                   {}]
        body = self.error("POST", "/v1/testkit/fail",
                          {"code": 9, "message": "no", "details": details, "withInfo": True},
                          status=400, code=9, message="no")
        self.assertEqual(body["details"], [
            {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": "hello"},
            {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1.500s"},
            {"@type": "type.googleapis.com/rpcrest.testkit.Nested", "name": "n", "value": 3,
             "colors": ["RED", "BLUE"]},
            {},  # an empty Any, as proto3 JSON writes it
            {"@type": "type.googleapis.com/rpcrest.testkit.FailInfo", "reason": "TESTKIT_FAIL",
             "domain": "rpcrest.testkit", "metadata": {"code": "9"}}])

    def test_unauthenticated(self):
        status, headers, data = self.http("POST", "/v1/testkit/fail",
                                          {"code": 16, "message": "Bearer realm=\"rpcrest\""})
        self.assertEqual(status, 401, data)
        self.assertEqual(headers.get("www-authenticate"), "Bearer realm=\"rpcrest\"")
        status, headers, _ = self.http("POST", "/v1/testkit/fail", {"code": 7, "message": "x"})
        self.assertEqual(status, 403)
        self.assertNotIn("www-authenticate", headers)


# ---- metadata ------------------------------------------------------------------------------


def metadata_pairs(reply):
    """EchoMetadata's list as sorted (key, value) pairs; user-agent left out
    (it is the gateway's own gRPC client's)."""
    pairs = []
    for e in reply["metadata"]:
        if e["key"] != "user-agent":
            pairs.append((e["key"], e["text"] if "text" in e else "bin:" + e.get("binary", "")))
    return sorted(pairs)


class Metadata(SystemCase):
    PATH = "/v1/testkit/metadata"

    def test_request_headers(self):
        host = "127.0.0.1:%d" % self.port
        reply = self.ok("POST", self.PATH, {"noEcho": True}, {
            "Grpc-Metadata-X-Request-Id": "r-1",
            "Grpc-Metadata-X-Data-Bin": "AAH/",
            "Authorization": "Bearer t0k",
            "User-Agent": "rest-test/1",
            "Cookie": "a=b",
            "Accept": "application/json",
            "X-Other": "not forwarded",
        })
        self.assertEqual(metadata_pairs(reply), sorted([
            ("x-request-id", "r-1"),
            ("x-data-bin", "bin:AAH/"),
            ("authorization", "Bearer t0k"),
            ("grpcgateway-authorization", "Bearer t0k"),
            ("grpcgateway-user-agent", "rest-test/1"),
            ("grpcgateway-cookie", "a=b"),
            ("grpcgateway-accept", "application/json"),
            ("grpcgateway-content-type", "application/json"),
            ("grpcgateway-host", host),
            ("x-forwarded-host", host),
            ("x-forwarded-for", "127.0.0.1"),
        ]))
        self.assertEqual(reply["method"], "/rpcrest.testkit.TestKit/EchoMetadata")
        self.assertTrue([e for e in reply["metadata"] if e["key"] == "user-agent"], reply)

    def test_forwarded_headers(self):
        reply = self.ok("POST", self.PATH, {"noEcho": True}, {
            "X-Forwarded-For": "10.1.2.3", "X-Forwarded-Host": "api.example.com"})
        pairs = dict(metadata_pairs(reply))
        self.assertEqual(pairs.get("x-forwarded-for"), "10.1.2.3, 127.0.0.1", reply)
        self.assertEqual(pairs.get("x-forwarded-host"), "api.example.com", reply)
        # a long chain is kept whole, and the gateway's own hop last
        chain = ", ".join("10.0.%d.%d" % (i // 250, i % 250) for i in range(300))
        reply = self.ok("POST", self.PATH, {"noEcho": True}, {"X-Forwarded-For": chain})
        self.assertEqual(dict(metadata_pairs(reply)).get("x-forwarded-for"),
                         chain + ", 127.0.0.1")

    def test_response_headers(self):
        status, headers, data = self.http("POST", self.PATH, {
            "addInitial": [{"key": "x-init", "text": "i1"},
                           {"key": "x-init-bin", "binary": "AAH/"}],
        }, {"Grpc-Metadata-X-Request-Id": "r-2"})
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["addResults"], [0, 0])
        self.assertEqual(headers.get("grpc-metadata-x-init"), "i1")
        self.assertEqual(headers.get("grpc-metadata-x-init-bin"), "AAH/")
        self.assertEqual(headers.get("grpc-metadata-x-request-id"), "r-2")  # echoed back
        # trailers only with TE: trailers
        self.assertFalse([h for h in headers if h.startswith("grpc-trailer-")], headers)
        self.assertNotIn("trailer", headers)
        self.assertEqual(int(headers["content-length"]), len(data))

    def test_values_with_spaces_at_the_ends(self):
        """gRPC allows them (RFC 9113's whitespace rule is not gRPC's)."""
        status, headers, data = self.http("POST", self.PATH, {
            "noEcho": True, "addInitial": [{"key": "x-sp", "text": " lead"}]})
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["addResults"], [0])
        self.assertIn("x-sp", [k[len("grpc-metadata-"):] for k in headers
                               if k.startswith("grpc-metadata-")])
        body = self.error("POST", "/v1/testkit/fail", {"code": 5, "message": "not found "},
                          status=404, code=5)
        self.assertEqual(body["message"], "not found ")

    def test_trailers(self):
        body = json.dumps({"noEcho": True, "addTrailing": [
            {"key": "x-cost", "text": "12"}, {"key": "x-sig-bin", "binary": "AAH/"}]}).encode()
        request = (b"POST " + self.PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"TE: trailers\r\nConnection: TE, close\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                   + body)
        status, headers, raw = raw_exchange(self.port, request)
        self.assertEqual(status, 200, raw)
        self.assertIn(("transfer-encoding", "chunked"), headers)
        self.assertEqual(sorted(v for k, v in headers if k == "trailer"),
                         ["Grpc-Trailer-x-cost", "Grpc-Trailer-x-sig-bin"])
        payload, trailers = parse_chunked(raw)
        self.assertEqual(json.loads(payload)["addResults"], [0, 0])
        self.assertEqual(sorted(trailers), [("grpc-trailer-x-cost", "12"),
                                            ("grpc-trailer-x-sig-bin", "AAH/")])

    def test_no_trailers_for_http_1_0(self):
        """HTTP/1.0 has no chunked responses to carry trailers: TE: trailers
        from such a client announced some and sent none.  As for a client
        that does not ask for trailers, the trailing metadata is left out
        (grpc-gateway's rule)."""
        body = json.dumps({"noEcho": True, "addTrailing": [{"key": "x-cost", "text": "12"}]})
        request = (b"POST " + self.PATH.encode() + b" HTTP/1.0\r\nTE: trailers\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(body), body.encode()))
        status, headers, raw = raw_exchange(self.port, request)
        self.assertEqual(status, 200, raw)
        self.assertNotIn("trailer", [k for k, _ in headers])
        self.assertNotIn(("transfer-encoding", "chunked"), headers)
        self.assertFalse([k for k, _ in headers if k.startswith("grpc-trailer-")], headers)

    def test_bad_metadata_header(self):
        self.error("POST", self.PATH, {}, {"Grpc-Metadata-X-Data-Bin": "not base64!"},
                   status=400, code=3)

    def test_standard_headers_gRPC_cannot_carry_are_left_out(self):
        """A cookie or Referer in UTF-8, a tab in User-Agent: left out, and
        the call goes on (grpc-gateway does the same); Authorization and an
        explicit Grpc-Metadata-* header still fail the request."""
        def request(headers):
            head = b"".join(b"%s: %s\r\n" % (k, v) for k, v in headers)
            return raw_exchange(self.port, b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                b"Content-Length: 16\r\n%s\r\n{\"noEcho\": true}"
                                % (self.PATH.encode(), head))
        status, _, body = request([(b"Cookie", "n=caf\u00e9".encode()),
                                   (b"User-Agent", b"Mozilla\t5"), (b"Accept", b"text/plain"),
                                   (b"X-Forwarded-Host", "h\u00e9".encode())])
        self.assertEqual(status, 200, body)
        pairs = dict(metadata_pairs(json.loads(body)))
        self.assertNotIn("grpcgateway-cookie", pairs)
        self.assertNotIn("grpcgateway-user-agent", pairs)
        self.assertEqual(pairs.get("grpcgateway-accept"), "text/plain")
        self.assertEqual(pairs.get("x-forwarded-host"), "x")  # from Host instead
        for name in (b"Authorization", b"Grpc-Metadata-X-A"):
            status, _, body = request([(name, "caf\u00e9".encode())])
            self.assertEqual(status, 400, body)

    def test_blanks_at_the_end_of_a_value_are_not_part_of_it(self):
        """libmicrohttpd keeps them; RFC 9110 does not count them (a -bin value
        with one was "not base64", a text value carried it on)."""
        body = b'{"noEcho": true}'
        head = (b"Grpc-Metadata-X-A: v \t\r\nGrpc-Metadata-X-Data-Bin: AAH/ \r\n"
                b"X-Forwarded-For: 10.1.2.3 \r\nUser-Agent: ua/1\t\r\n")
        status, _, data = raw_exchange(self.port, b"POST %s HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\nContent-Length: %d\r\n%s\r\n%s"
                                       % (self.PATH.encode(), len(body), head, body))
        self.assertEqual(status, 200, data)
        pairs = dict(metadata_pairs(json.loads(data)))
        self.assertEqual(pairs.get("x-a"), "v")
        self.assertEqual(pairs.get("x-data-bin"), "bin:AAH/")
        self.assertEqual(pairs.get("x-forwarded-for"), "10.1.2.3, 127.0.0.1")
        self.assertEqual(pairs.get("grpcgateway-user-agent"), "ua/1")

    def test_metadata_the_transport_owns_is_refused(self):
        # sent on, te broke the call in gRPC core ("Bad :te header") and
        # grpc-encoding made a Go server read the message as gzip
        # content-length and host made the request malformed to a strict
        # HTTP/2 upstream (a length the DATA does not match, a Host that is
        # not :authority), which reset the connection: 503
        for name in ("Te", "Connection", "Transfer-Encoding", "Content-Type", "Grpc-Encoding",
                     "Grpc-Status", "Grpc-Timeout", "Content-Length", "Host"):
            body = self.error("POST", self.PATH, {}, {"Grpc-Metadata-" + name: "x"},
                              status=400, code=3)
            self.assertEqual(body["message"],
                             "header Grpc-Metadata-%s cannot be sent as gRPC metadata: HTTP/2 or "
                             "the gRPC transport sets it" % name)
        # other grpc- keys (tracing, for one) go through
        self.ok("POST", self.PATH, {}, {"Grpc-Metadata-Grpc-Trace-Bin": "AAEC"})

    def test_headers_and_answer_share_the_connection_memory(self):
        """A request's headers and its answer's share libmicrohttpd's
        per-connection memory: a request that leaves too little is refused
        with 431 before its call starts, and an answer whose metadata does
        not fit in what is left is a 502, never a connection closed with
        no answer after the call ran."""
        def raw(headers, body=b"{}"):
            head = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers)
            return raw_exchange(self.port, b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                b"Content-Length: %d\r\n%s\r\n%s"
                                % (self.PATH.encode(), len(body), head, body))
        status, _, body = raw([("X-Junk", "j" * 30000)])
        self.assertEqual(status, 431, body)
        got = json.loads(body)
        self.assertEqual(got["code"], 8)
        self.assertIn("the request line, headers and query take", got["message"])
        # metadata echoed back as headers and as trailers (Trailer: names them too)
        md = [("Grpc-Metadata-K%d" % i, "v" * 900) for i in range(6)] + [("TE", "trailers")]
        status, _, body = raw(md)
        self.assertEqual(status, 200, body)
        for junk in (12000, 18000, 24000):
            with self.subTest(junk=junk):
                status, _, body = raw(md + [("X-Junk", "j" * junk)])
                self.assertIn(status, (431, 502), body)
                got = json.loads(body)
                self.assertEqual(got["code"], 8 if status == 431 else 13, got)
        status, _, body = raw([("TE", "trailers")], json.dumps(
            {"noEcho": True, "addTrailing": [{"key": "x-big", "text": "v" * 20000}]}).encode())
        self.assertEqual(status, 502, body)
        self.assertIn("the upstream's response metadata takes", json.loads(body)["message"])
        self.ok("POST", self.PATH, {"noEcho": True,  # without TE: trailers, none is sent
                                    "addTrailing": [{"key": "x-big", "text": "v" * 20000}]})


class LargePluginMetadata(SystemCase):
    """The host refuses (RPCREST_EINVAL) an entry larger than HTTP/2
    libraries decode (64 KiB: nghttp2, the gateway's client, would close
    the connection and fail every call sharing it) and a block over 1 MiB;
    other calls on the HTTP thread's connection are not touched."""
    gateway_keys = {"threads": "1"}

    def test_too_large_entries_are_refused(self):
        slow = {}

        def sleep():
            slow["got"] = self.http("POST", "/v1/testkit/sleep", b'{"duration":"1s"}')
        t = threading.Thread(target=sleep)
        t.start()
        time.sleep(0.3)
        # 48,000 bytes whose base64 is all '+', 11 bits each once Huffman-coded:
        # 88,000 bytes on the wire
        plus = base64.b64encode(b"\xfb\xef\xbe" * 16000).decode()
        reply = self.ok("POST", "/v1/testkit/metadata", {"noEcho": True, "addInitial": [
            {"key": "x-big", "text": "v" * 70000}, {"key": "x-fits", "text": "v" * 6000},
            {"key": "x-plus-bin", "binary": plus}]})
        t.join(10)
        self.assertEqual(slow["got"][0], 200, slow["got"])
        self.assertEqual(reply["addResults"], [-4, 0, -4])
        # the 18th entry of 60 KB would make the trailing block more than 1 MiB
        reply = self.ok("POST", "/v1/testkit/metadata", {"noEcho": True, "addTrailing": [
            {"key": "x-t%d" % i, "text": "t" * 60000} for i in range(18)]})
        self.assertEqual(reply["addResults"], [0] * 17 + [-4])


class ManyLongStreams(SystemCase):
    """150 REST streams that last (their clients read nothing): the host
    takes 100 calls at once on one connection ([host]
    max_concurrent_streams), so the gateway opens another for the rest;
    /healthz, on a connection of its own, and a new stream answer at once."""

    def test_more_streams_than_one_connection_takes(self):
        before = self.stats().get("streamsStarted", 0)
        socks = harness.paused_stream_clients(self.port, 150, 1000000, 1000)
        self.addCleanup(lambda: [s.close() for s in socks])
        self.assertTrue(self.wait_stat("streamsStarted", before + 150, 10),
                        "%d of 150 streams reached the host"
                        % (self.stats().get("streamsStarted", 0) - before))
        started = time.monotonic()
        self.assertEqual(self.ok("GET", "/healthz"), {"service": "", "status": "SERVING"})
        status, _, data = self.http("GET", "/v1/testkit/stream?count=1")
        self.assertEqual(status, 200, data)
        self.assertLess(time.monotonic() - started, 2)


class PausedStreams(SystemCase):
    """Twenty clients that read nothing of long streams: the upstream is
    held back (the gateway gives a stream's HTTP/2 window back only as its
    client takes the messages), and the gateway keeps little of each
    (a 256 KiB window; at 4 MiB these twenty took it 82 MB up)."""

    def test_clients_that_read_nothing_hold_the_upstream_back(self):
        gateway = self.system.children()["rpcrest-gateway"]
        before = self.stats().get("messagesSent", 0)
        rss_before = harness.rss_kib(gateway)
        socks = harness.paused_stream_clients(self.port, 20, 1000000, 1000)
        self.addCleanup(lambda: [s.close() for s in socks])
        sent = []
        for _ in range(10):  # until the count stops growing
            time.sleep(0.5)
            sent.append(self.stats().get("messagesSent", 0) - before)
            if len(sent) > 2 and sent[-1] == sent[-3]:
                break
        self.assertEqual(sent[-1], sent[-3], sent)
        self.assertLess(sent[-1], 20 * 10000, sent)  # of 20 million
        if not harness.SANITIZED:  # (a sanitizer's quarantine keeps what was freed)
            self.assertLess(harness.rss_kib(gateway) - rss_before, 40 * 1024)
        # one client reading again gets the rest of its stream moving
        socks[0].settimeout(10)
        read = 0
        while read < 8 << 20:  # more than the gateway and the sockets held
            chunk = socks[0].recv(65536)
            self.assertTrue(chunk)
            read += len(chunk)
        self.assertTrue(harness.wait_until(
            lambda: self.stats().get("messagesSent", 0) - before > sent[-1], 5), sent)


class FullConnection(SystemCase):
    """The host takes four calls at once on a connection ([host]
    max_concurrent_streams = 4) and the gateway has one HTTP thread: with
    four long calls on its connection to the host, a quick one goes on
    another connection at once, instead of waiting behind them (it waited
    for one to end, and got 504 when they outlasted its deadline)."""
    host_keys = {"max_concurrent_streams": "4"}
    gateway_keys = {"threads": "1"}

    def test_a_quick_call_beside_long_ones(self):
        before = self.stats().get("sleepsStarted", 0)
        slow = []
        threads = [threading.Thread(target=lambda: slow.append(self.http(
            "POST", "/v1/testkit/sleep", {"duration": "1.5s"}))) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # they reach the host (a stats call to see it would wait behind them)
        self.assertEqual(self.ok("POST", "/v1/example/echo", {"value": "quick"}),
                         {"value": "quick"})
        self.assertFalse(slow, "the long calls ended before the quick one")
        for t in threads:
            t.join(10)
        self.assertEqual([s[0] for s in slow], [200] * 4)
        self.assertEqual(self.stats().get("sleepsStarted", 0), before + 4)


# ---- deadlines ---------------------------------------------------------------------------------


class Deadlines(SystemCase):

    def deadline_ms(self, headers):
        return int(self.ok("POST", "/v1/testkit/metadata", {"noEcho": True},
                           headers)["deadlineMs"])

    def test_shorter_than_the_call(self):
        before = self.stats().get("sleepsCancelled", 0)
        t0 = time.monotonic()
        self.error("POST", "/v1/testkit/sleep", {"duration": "5s"}, {"Grpc-Timeout": "200m"},
                   status=504, code=4)
        took = time.monotonic() - t0
        # well before both the 5 s sleep and the 2 s default timeout
        self.assertLess(took, 1.5, "the 504 took %.2f s" % took)
        self.assertTrue(self.wait_stat("sleepsCancelled", before + 1, 3),
                        "the host did not see the deadline: %s" % self.stats())

    def test_client_leaving_cancels_the_call(self):
        """A client that closes its connection while its unary call runs
        cancels the call at once, not at the deadline (10 s here)."""
        started = self.stats().get("sleepsStarted", 0)
        cancelled = self.stats().get("sleepsCancelled", 0)
        body = b'{"duration":"8s"}'
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"POST /v1/testkit/sleep HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Grpc-Timeout: 10S\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            self.assertTrue(self.wait_stat("sleepsStarted", started + 1, 3), self.stats())
        self.assertTrue(self.wait_stat("sleepsCancelled", cancelled + 1, 2),
                        "the call was not cancelled: %s" % self.stats())

    def test_header_sets_the_deadline(self):
        # (gRPC rounds a deadline up when it sends it: allow SLACK_MS over)
        for value, low, high in (("1S", 500, 1000), ("1500m", 1000, 1500),
                                 ("1200000u", 700, 1200), ("95000000n", 20, 95),
                                 ("1S \t", 500, 1000)):  # blanks after it are the header's
            with self.subTest(value=value):
                ms = self.deadline_ms({"Grpc-Timeout": value})
                self.assertTrue(low < ms <= high + SLACK_MS,
                                "Grpc-Timeout %s: %d ms left" % (value, ms))

    def test_default_timeout(self):
        ms = self.deadline_ms({})  # [gateway] timeout = 2 (harness)
        self.assertTrue(1000 < ms <= 2000 + SLACK_MS, ms)

    def test_zero_is_no_deadline_asked(self):
        """Grpc-Timeout 0 (no time at all; gRPC asks for a positive
        number) is read as grpc-gateway reads it, as no deadline asked: the
        default applies.  It was a 1 ms deadline, which the call made or
        missed by chance (3 in 100 echo calls failed with 504)."""
        for value in ("0S", "0m", "0n", "00000000H"):
            with self.subTest(value=value):
                ms = self.deadline_ms({"Grpc-Timeout": value})
                self.assertTrue(1000 < ms <= 2000 + SLACK_MS, "Grpc-Timeout %s: %d ms" % (value, ms))

    def test_malformed(self):
        for value in ("2x", "-1S", "1.5S", "S", "123456789S", "1 S", "10"):
            with self.subTest(value=value):
                body = self.error("POST", "/v1/testkit/sleep", {}, {"Grpc-Timeout": value},
                                  status=400, code=3)
                self.assertIn("Grpc-Timeout", body["message"])


# ---- server streaming ----------------------------------------------------------------------------


class Streaming(SystemCase):

    def test_a_large_line_is_not_paced(self):
        """A 16 MiB message (a 22 MB line) goes out as fast as the client
        reads: libmicrohttpd sends it 36 KB a round with no event in between,
        which the loop once took for libmicrohttpd spinning on a connection
        that cannot go on, and ran it every 10 ms (5.8 s for this line).
        Timed from the line's first byte: the upstream making the message
        and the gateway turning it into JSON come before, are not paced, and
        take seconds on a loaded machine; the line's own 22 MB take about
        0.1 s then, and paced at least the 5.8 s of sleeps."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.addCleanup(conn.close)
        conn.request("GET", "/v1/testkit/stream?count=1&size=16777216")
        resp = conn.getresponse()
        data = resp.read(1)
        started = time.monotonic()
        data += resp.read()
        sending = time.monotonic() - started
        self.assertEqual((resp.status, len(data)), (200, 22369650))
        self.assertLess(sending, 3)

    def test_head_of_a_stream(self):
        """HEAD on a streaming GET route is 405, Allow: GET (a stream's
        answer has no length and ends with the stream: HEAD would make the
        call for headers alone), and the connection serves the next
        request; HEAD with TE: trailers on a unary route has no chunks."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(conn.close)
        for _ in range(3):
            conn.request("HEAD", "/v1/testkit/stream?count=3&size=2")
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (405, b""))
            self.assertEqual(resp.getheader("allow"), "GET")
        conn.request("GET", "/v1/testkit/stream?count=2&size=1")
        resp = conn.getresponse()
        self.assertEqual((resp.status, resp.read().count(b"\n")), (200, 2))
        # a 405 is no method's, in the metrics as in the access log
        metrics = self.http("GET", "/metrics")[2].decode()
        self.assertNotIn('method="/rpcrest.testkit.TestKit/Stream",code="405"', metrics)
        for _ in range(3):
            conn.request("HEAD", "/v1/testkit/echo/x", headers={"TE": "trailers"})
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b""))
            self.assertIsNone(resp.getheader("trailer"))
            self.assertEqual(resp.getheader("content-length"), str(len(b'{"stringValue":"x"}')))
        conn.request("GET", "/v1/testkit/echo/y")
        resp = conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())), (200, {"stringValue": "y"}))

    def test_ndjson(self):
        status, headers, data = self.http("GET", "/v1/testkit/stream?count=3&size=2")
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        self.assertEqual(data, b'{"result":{"payload":"YWI="}}\n'
                               b'{"result":{"index":1,"payload":"YWI="}}\n'
                               b'{"result":{"index":2,"payload":"YWI="}}\n')

    def test_response_body(self):
        """A stream's binding may name a field of its messages, as a unary
        one may (grpc-gateway does the same)."""
        status, _, data = self.http("GET", "/v1/testkit/stream/index?count=3&size=2")
        self.assertEqual(status, 200, data)
        self.assertEqual(data, b'{"result":0}\n{"result":1}\n{"result":2}\n')

    def test_many_messages(self):
        status, _, data = self.http("GET", "/v1/testkit/stream?count=500&size=100")
        self.assertEqual(status, 200)
        lines = data.split(b"\n")
        self.assertEqual(lines[-1], b"")
        self.assertEqual([json.loads(l)["result"].get("index", 0) for l in lines[:-1]],
                         list(range(500)))

    def test_empty_stream(self):
        status, headers, data = self.http("GET", "/v1/testkit/stream?count=0")
        self.assertEqual((status, data), (200, b""))
        self.assertEqual(headers.get("content-type"), "application/json")

    def test_sse(self):
        status, headers, data = self.http("GET", "/v1/testkit/stream?count=2&size=1",
                                          headers={"Accept": "text/event-stream"})
        self.assertEqual(status, 200, data)
        self.assertEqual(headers.get("content-type"), "text/event-stream")
        self.assertEqual(data, b'data: {"payload":"YQ=="}\n\n'
                               b'data: {"index":1,"payload":"YQ=="}\n\n')

    def test_error_midway(self):
        status, _, data = self.http("GET", "/v1/testkit/stream?count=2&size=1&failCode=9")
        self.assertEqual(status, 200, data)
        lines = data.split(b"\n")
        self.assertEqual(lines[:2], [b'{"result":{"payload":"YQ=="}}',
                                     b'{"result":{"index":1,"payload":"YQ=="}}'])
        self.assertEqual(lines[3:], [b""])
        self.assertEqual(json.loads(lines[2]), {"error": {
            "code": 9, "message": "failed after 2 messages", "details": []}})

    def test_error_midway_sse(self):
        status, _, data = self.http("GET", "/v1/testkit/stream?count=1&failCode=10",
                                    headers={"Accept": "text/event-stream"})
        self.assertEqual(status, 200, data)
        self.assertEqual(data, b'data: {}\n\nevent: error\n'
                               b'data: {"code":10,"message":"failed after 1 messages",'
                               b'"details":[]}\n\n')

    def test_error_before_the_first_message(self):
        status, headers, data = self.http("GET", "/v1/testkit/stream?count=0&failCode=5")
        self.assertEqual(status, 404, data)
        self.assertNotEqual(headers.get("transfer-encoding"), "chunked")
        self.assertEqual(json.loads(data),
                         {"code": 5, "message": "failed after 0 messages", "details": []})
        self.error("GET", "/v1/testkit/stream?count=-1", status=400, code=3,
                   message="count >= 0, size 0 to 16 MiB")

    def test_client_leaving_cancels_the_call(self):
        before = self.stats()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /v1/testkit/stream?count=1000000&size=1000 HTTP/1.1\r\n"
                      b"Host: 127.0.0.1\r\n\r\n")
            got = b""
            while len(got) < 64 * 1024:
                chunk = s.recv(65536)
                self.assertTrue(chunk, "the stream ended early: %r" % got[:300])
                got += chunk
            self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:300])
            # "abcdefghij…" in base64
            self.assertIn(b'\r\n{"result":{"payload":"YWJjZGVmZ2hpamts', got[:300])
        cancelled = before.get("streamsCancelled", 0) + 1
        self.assertTrue(self.wait_stat("streamsCancelled", cancelled, 5),
                        "the stream was not cancelled: before %s, now %s"
                        % (before, self.stats()))
        after = self.stats()
        self.assertEqual(after.get("streamsCompleted", 0), before.get("streamsCompleted", 0))
        self.assertLess(after["messagesSent"] - before.get("messagesSent", 0), 1000000)
        # a client leaving is the access log's 499, not an error line of libmicrohttpd's
        if hasattr(self, "system"):  # (the foreign-upstream variant keeps its log elsewhere)
            self.assertNotIn("forcibly closed", self.system.log())


# ---- health ---------------------------------------------------------------------------------------


class Health(SystemCase):

    def test_overall(self):
        self.assertEqual(self.ok("GET", "/healthz"), {"service": "", "status": "SERVING"})
        # nothing from libmicrohttpd at start (its logger must be its first option)
        if hasattr(self, "system"):  # (the foreign-upstream variant keeps its log elsewhere)
            self.assertNotIn("libmicrohttpd", self.system.log())

    def test_service(self):
        for name in ("example.MyService", "rpcrest.testkit.TestKit", "rpcrest.bindings.Bindings"):
            self.assertEqual(self.ok("GET", "/healthz?service=" + name),
                             {"service": name, "status": "SERVING"})

    def test_unknown_service(self):
        body = self.error("GET", "/healthz?service=no.Such", status=404, code=5)
        self.assertIn("no.Such", body["message"])

    def test_not_get(self):
        self.error("POST", "/healthz", b"{}", status=405, code=12)
        self.assertEqual(self.http("POST", "/healthz", b"{}")[1].get("allow"), "GET, HEAD")

    def test_head(self):
        """HEAD as GET without the body (load balancers' `HEAD /healthz`)."""
        status, headers, body = self.http("HEAD", "/healthz")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(self.http("HEAD", "/healthz?service=no.Such")[0], 404)


# ---- [gateway] options ----------------------------------------------------------------------


class Options(SystemCase):
    gateway_keys = {"ignore_unknown_query_parameters": "on", "max_timeout": "3",
                    "auto_map": "on"}

    def test_auto_map_routes_unannotated_methods(self):
        self.assertEqual(self.ok("POST", "/rpcrest.bindings.Bindings/Unannotated",
                                 {"shelf": "s9", "book": {"id": "b"}}),
                         echoed("Unannotated", shelf="s9", book={"id": "b"}))
        # annotated methods keep only their own bindings
        self.error("POST", "/rpcrest.bindings.Bindings/GetBook", {}, status=404, code=5)

    def test_unknown_query_parameters_ignored(self):
        self.assertEqual(self.ok("GET", "/v1/search?nope=1&tags=a&filter.nope=2&x.y.z=3"),
                         echoed("Search", tags=["a"]))
        self.assertEqual(self.ok("DELETE", "/v1/shelves/s1/books/b1?forse=true"),
                         echoed("DeleteBook", shelf="s1", book={"id": "b1"}))
        # known fields are still checked
        self.error("GET", "/v1/search?nope=1&genre=BOGUS", status=400, code=3)

    def test_max_timeout_caps_grpc_timeout(self):
        for value in ("99999999H", "60S"):
            with self.subTest(value=value):
                ms = int(self.ok("POST", "/v1/testkit/metadata", {"noEcho": True},
                                 {"Grpc-Timeout": value})["deadlineMs"])
                self.assertTrue(2000 < ms <= 3000 + SLACK_MS,
                                "Grpc-Timeout %s: %d ms left" % (value, ms))
        # below the cap it is used as given
        ms = int(self.ok("POST", "/v1/testkit/metadata", {"noEcho": True},
                         {"Grpc-Timeout": "1S"})["deadlineMs"])
        self.assertTrue(500 < ms <= 1000 + SLACK_MS, ms)


class ReplyNames(SystemCase):
    gateway_keys = {"json_proto_names": "on", "json_emit_defaults": "on"}

    def test_error_details_printed_as_replies_are(self):
        """An error's details are JSON of the same kind as the replies
        (grpc-gateway prints both with one marshaler): proto names and, here,
        the fields left at their defaults."""
        detail = {"@type": "type.googleapis.com/rpcrest.testkit.Nested", "name": "n",
                  "colors": ["RED"]}
        body = self.error("POST", "/v1/testkit/fail",
                          {"code": 9, "message": "no", "details": [
                              detail, {"@type": "type.googleapis.com/rpcrest.testkit.AllTypes",
                                       "int32Value": 7}]},
                          status=400, code=9, message="no")
        self.assertEqual(body["details"][0], {
            "@type": "type.googleapis.com/rpcrest.testkit.Nested", "name": "n", "value": 0,
            "colors": ["RED"]})
        self.assertEqual(body["details"][1]["int32_value"], 7)
        self.assertEqual(body["details"][1]["repeated_string"], [])
        self.assertNotIn("int32Value", body["details"][1])


class ForwardHeaders(SystemCase):
    gateway_keys = {"forward_headers": "X-User-Id, X-Tenant, X-Sig-Bin"}
    PATH = "/v1/testkit/metadata"

    def test_named_headers_are_sent_as_they_are(self):
        """[gateway] forward_headers: those headers become metadata under
        their own names in lower case (the case they arrive in does not
        matter); the rest are mapped as before; a value gRPC cannot carry
        is a 400."""
        reply = self.ok("POST", self.PATH, {"noEcho": True}, {
            "x-user-id": "alice", "X-TENANT": "t1", "X-Sig-Bin": "AAH/",
            "X-Other": "not forwarded"})
        pairs = dict(metadata_pairs(reply))
        self.assertEqual((pairs.get("x-user-id"), pairs.get("x-tenant"), pairs.get("x-sig-bin")),
                         ("alice", "t1", "bin:AAH/"), reply)
        self.assertNotIn("x-other", pairs)
        self.assertIn("grpcgateway-content-type", pairs)
        body = self.error("POST", self.PATH, {"noEcho": True}, {"X-Sig-Bin": "!!"},
                          status=400, code=3)
        self.assertIn("X-Sig-Bin", body["message"])


class HttpBody(SystemCase):
    """google.api.HttpBody (services/files): the reply's data is the
    answer's body with its content_type, a request's raw body and
    Content-Type fill one; streamed, the data one after the other."""
    services = ("echo", "files")

    def test_reply_is_the_body(self):
        status, hdrs, data = self.http("GET", "/v1/files/abc?size=7&contentType=text/csv")
        self.assertEqual((status, hdrs.get("content-type"), data), (200, "text/csv", b"abcabca"))
        # no content_type: application/octet-stream; an empty body is a body
        status, hdrs, data = self.http("GET", "/v1/files/abc?size=0")
        self.assertEqual((status, hdrs.get("content-type"), data),
                         (200, "application/octet-stream", b""))
        # a MiB, bytes as they are
        status, _, data = self.http("GET", "/v1/files/%C3%BF?size=1048576")
        self.assertEqual((status, len(data), data[:4]), (200, 1 << 20, b"\xc3\xbf\xc3\xbf"))
        # errors stay JSON
        self.error("GET", "/v1/files/abc?size=-1", status=400, code=3,
                   message="size: 0 to 16 MiB")

    def test_content_type_longer_than_a_kib_is_a_500(self):
        body = self.error("GET", "/v1/files/a?size=1&contentType=text/" + "x" * 1100,
                          status=500, code=13)
        self.assertIn("content_type HTTP can carry", body["message"])
        status, hdrs, _ = self.http("GET", "/v1/files/a?size=1&contentType=text/" + "x" * 1000)
        self.assertEqual((status, len(hdrs.get("content-type"))), (200, 1005))

    def test_reply_field_named_by_response_body(self):
        status, hdrs, data = self.http("GET", "/v1/wrapped/zz?size=4&contentType=text/x")
        self.assertEqual((status, hdrs.get("content-type"), data), (200, "text/x", b"zzzz"))

    def test_content_type_http_cannot_carry_is_a_500(self):
        """A content_type with a line break would end the header: refused."""
        body = self.error("GET", "/v1/files/a?size=1&contentType=text/plain%0D%0AX-Evil:%201",
                          status=500, code=13)
        self.assertIn("content_type HTTP can carry", body["message"])
        self.assertNotIn("x-evil", self.http("GET", "/v1/files/a?size=1&contentType="
                                                    "text/plain%0D%0AX-Evil:%201")[1])

    def test_request_body_field(self):
        """body: "file": the raw bytes (any, NUL and non-UTF-8 too) and the
        Content-Type; the path fills the rest."""
        raw = b"\x00\x01\xffnot json"
        reply = self.ok("PUT", "/v1/files/n1", raw, {"Content-Type": "image/png"})
        self.assertEqual(reply, {"name": "n1", "contentType": "image/png",
                                 "data": base64.b64encode(raw).decode()})
        reply = self.ok("PUT", "/v1/files/n2", b"", {"Content-Type": "text/plain"})
        self.assertEqual(reply, {"name": "n2", "contentType": "text/plain"})

    def test_request_is_the_body(self):
        """body "*" of an HttpBody: the request is the body; here answered
        with itself."""
        status, hdrs, data = self.http("POST", "/v1/echo-body", b"hello, raw\n",
                                       {"Content-Type": "text/plain; charset=utf-8"})
        self.assertEqual((status, hdrs.get("content-type"), data),
                         (200, "text/plain; charset=utf-8", b"hello, raw\n"))
        # a body JSON would refuse is taken as it is
        status, _, data = self.http("POST", "/v1/echo-body", b"{not json",
                                    {"Content-Type": "application/json"})
        self.assertEqual((status, data), (200, b"{not json"))

    def test_streamed_bodies(self):
        status, hdrs, data = self.http("GET", "/v1/chunks/ab?size=3&count=4&contentType="
                                              "text/plain")
        self.assertEqual((status, hdrs.get("content-type"), hdrs.get("transfer-encoding"), data),
                         (200, "text/plain", "chunked", b"abaabaabaaba"))
        status, hdrs, data = self.http("GET", "/v1/chunks/ab?size=3&count=0")
        self.assertEqual((status, hdrs.get("content-type"), data),
                         (200, "application/octet-stream", b""))
        status, _, data = self.http("GET", "/v1/chunks/xyz?size=100000&count=50")
        self.assertEqual((status, len(data)), (200, 5000000))
        # no Server-Sent Events framing for raw bodies
        status, hdrs, data = self.http("GET", "/v1/chunks/ab?size=2&count=2",
                                       headers={"Accept": "text/event-stream"})
        self.assertEqual((status, hdrs.get("content-type"), data),
                         (200, "application/octet-stream", b"abab"))

    def test_openapi_says_bytes(self):
        doc = self.ok("GET", "/openapi.json")
        binary = {"type": "string", "format": "binary", "description": "the body's bytes"}
        get = doc["paths"]["/v1/files/{name}"]["get"]["responses"]["200"]["content"]
        self.assertEqual(get, {"*/*": {"schema": binary}})
        put = doc["paths"]["/v1/files/{name}"]["put"]["requestBody"]["content"]
        self.assertEqual(put, {"*/*": {"schema": binary}})


class StatusMetadata(SystemCase):
    gateway_keys = {"status_metadata": "X-HTTP-Code", "reply_headers": "Location"}
    PATH = "/v1/testkit/metadata"

    def call(self, code, *more):
        entries = [{"key": "x-http-code", "text": code}] + list(more)
        return self.http("POST", self.PATH, {"noEcho": True, "addInitial": entries})

    def test_reply_metadata_sets_the_status(self):
        """201 with Location, a 204 without a body, a redirect; the key
        itself is not sent as a header; values that are no status 200-599
        leave 200; errors keep their own status."""
        status, hdrs, data = self.call("201", {"key": "location", "text": "/v1/things/1"})
        self.assertEqual((status, hdrs.get("location")), (201, "/v1/things/1"))
        self.assertEqual(json.loads(data)["method"], "/rpcrest.testkit.TestKit/EchoMetadata")
        self.assertNotIn("grpc-metadata-x-http-code", hdrs)
        status, hdrs, data = self.call("204")
        self.assertEqual((status, data, hdrs.get("content-type")), (204, b"", None))
        status, hdrs, _ = self.call("303", {"key": "location", "text": "/elsewhere"})
        self.assertEqual((status, hdrs.get("location")), (303, "/elsewhere"))
        for bad in ("20", "2010", "abc", "199", "600", " 201"):
            with self.subTest(value=bad):
                self.assertEqual(self.call(bad)[0], 200)
        # a bodyless status ends at its headers, trailers asked for or not:
        # the next answer on the connection starts right after them
        body = json.dumps({"noEcho": True, "addInitial": [{"key": "x-http-code", "text": "304"}],
                           "addTrailing": [{"key": "t1", "text": "v"}]}).encode()
        one = (b"POST %s HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % (self.PATH.encode(), len(body)) + body)
        last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        status, hdrs, rest = raw_exchange(self.port, one + last)
        self.assertEqual(status, 304)
        self.assertNotIn("transfer-encoding", dict(hdrs))
        self.assertNotIn("trailer", dict(hdrs))
        self.assertTrue(rest.startswith(b"HTTP/1.1 200 OK\r\n"), rest[:200])
        # the other replies are as before
        self.assertEqual(self.http("POST", "/v1/example/echo", b'{"value":"x"}')[:3:2],
                         (200, b'{"value":"x"}'))
        self.error("POST", "/v1/testkit/fail", {"code": 5, "message": "gone"}, status=404,
                   code=5)


class Gzip(SystemCase):
    gateway_keys = {"gzip": "on"}

    def test_answers_of_a_kib_or_more_are_gzipped_for_clients_that_take_it(self):
        body = json.dumps({"value": "a" * 5000}).encode()
        plain = self.http("POST", "/v1/example/echo", body)[2]
        status, hdrs, data = self.http("POST", "/v1/example/echo", body,
                                       {"Accept-Encoding": "deflate, gzip"})
        self.assertEqual((status, hdrs.get("content-encoding"), hdrs.get("vary")),
                         (200, "gzip", "Accept-Encoding"))
        self.assertEqual(int(hdrs.get("content-length")), len(data))
        self.assertLess(len(data), len(plain) // 10)
        self.assertEqual(gzip.decompress(data), plain)
        # refused with q=0, or not asked for: as it is, still Vary
        for accept in ({"Accept-Encoding": "gzip;q=0, br"}, {}):
            status, hdrs, data = self.http("POST", "/v1/example/echo", body, accept)
            self.assertEqual((status, hdrs.get("content-encoding"), hdrs.get("vary"), data),
                             (200, None, "Accept-Encoding", plain))
        # short answers go as they are
        status, hdrs, data = self.http("POST", "/v1/example/echo", b'{"value":"s"}',
                                       {"Accept-Encoding": "gzip"})
        self.assertEqual((hdrs.get("content-encoding"), data), (None, b'{"value":"s"}'))
        # errors and /metrics too
        status, hdrs, data = self.http("GET", "/metrics", None, {"Accept-Encoding": "*"})
        self.assertEqual((status, hdrs.get("content-encoding")), (200, "gzip"))
        self.assertIn(b"rpcrest_gateway_requests_total", gzip.decompress(data))

    def test_streams_are_gzipped_message_by_message(self):
        """A stream of lines or of Server-Sent Events goes gzip-compressed,
        each message flushed as it goes, and its gzip data ends with the
        stream, a failure's error line included; without Accept-Encoding it
        goes as it is, still with Vary."""
        path = "/v1/testkit/stream?count=200&size=100"
        status, hdrs, plain = self.http("GET", path)
        self.assertEqual((status, hdrs.get("content-encoding"), hdrs.get("vary")),
                         (200, None, "Accept-Encoding"))
        status, hdrs, data = self.http("GET", path, headers={"Accept-Encoding": "gzip"})
        self.assertEqual((status, hdrs.get("content-encoding"), hdrs.get("vary")),
                         (200, "gzip", "Accept-Encoding"))
        self.assertLess(len(data), len(plain) // 4)
        self.assertEqual(gzip.decompress(data), plain)  # whole: it checks the gzip trailer too
        for query, accept in (("count=3&size=5&failCode=9", "application/json"),
                              ("count=2&size=1", "text/event-stream")):
            headers = {"Accept": accept}
            plain = self.http("GET", "/v1/testkit/stream?" + query, headers=headers)[2]
            headers["Accept-Encoding"] = "gzip"
            status, hdrs, data = self.http("GET", "/v1/testkit/stream?" + query,
                                           headers=headers)
            self.assertEqual((status, hdrs.get("content-encoding")), (200, "gzip"))
            self.assertEqual(gzip.decompress(data), plain)
            if "failCode" in query:  # the stream's error line is inside the gzip data
                self.assertTrue(plain.splitlines()[-1].startswith(b'{"error":{"code":9'))
        # the first message can be read before the stream ends
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/v1/testkit/stream?count=100000&size=10",
                     headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = b""
        while b"\n" not in text:
            text += z.decompress(resp.read1(4096))
        self.assertTrue(text.startswith(b'{"result":{'))


class ReplyHeaders(SystemCase):
    gateway_keys = {"reply_headers": "Location, X-RateLimit-Remaining",
                    "cors_origins": "https://app.example"}

    def test_named_metadata_as_plain_headers(self):
        """[gateway] reply_headers: response metadata with those keys comes
        back as those headers, spelt as configured, instead of
        Grpc-Metadata-*; other keys as before; trailers are untouched; a
        browser on an allowed origin may read them."""
        status, hdrs, _ = self.http("POST", "/v1/testkit/metadata", json.dumps({
            "noEcho": True,
            "addInitial": [{"key": "location", "text": "/v1/things/7"},
                           {"key": "x-ratelimit-remaining", "text": "41"},
                           {"key": "x-other", "text": "o"}],
            "addTrailing": [{"key": "location", "text": "/t"}]}).encode(),
            {"TE": "trailers", "Origin": "https://app.example"})
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("location"), "/v1/things/7")
        self.assertEqual(hdrs.get("x-ratelimit-remaining"), "41")
        self.assertNotIn("grpc-metadata-location", hdrs)
        self.assertEqual(hdrs.get("grpc-metadata-x-other"), "o")
        exposed = hdrs.get("access-control-expose-headers").split(", ")
        self.assertIn("Location", exposed)
        self.assertIn("X-RateLimit-Remaining", exposed)
        body = b'{"noEcho":true,"addTrailing":[{"key":"location","text":"/t"}]}'
        status, _, sent = raw_exchange(self.port, b"POST /v1/testkit/metadata HTTP/1.1\r\n"
                                       b"Host: x\r\nTE: trailers\r\nConnection: close\r\n"
                                       b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.assertEqual(status, 200, sent)
        self.assertIn(b"Grpc-Trailer-location: /t\r\n", sent)


class Cors(SystemCase):
    ORIGIN = "https://app.example"
    gateway_keys = {"cors_origins": ORIGIN + ", http://localhost:3000",
                    "cors_allow_credentials": "on", "cors_max_age": "300"}

    def preflight(self, path, origin=ORIGIN, method="POST", headers=None):
        hdrs = {"Origin": origin, "Access-Control-Request-Method": method}
        hdrs.update(headers or {})
        return self.http("OPTIONS", path, None, hdrs)

    def test_preflight_of_an_allowed_origin(self):
        """204 with what the path takes, the headers asked for, the max
        age and credentials; Vary: Origin."""
        asked = {"Access-Control-Request-Headers": "content-type, x-user-id"}
        status, hdrs, data = self.preflight("/v1/example/echo", headers=asked)
        self.assertEqual((status, data), (204, b""))
        self.assertEqual(hdrs.get("access-control-allow-origin"), self.ORIGIN)
        self.assertEqual(hdrs.get("access-control-allow-methods"), "POST")
        self.assertEqual(hdrs.get("access-control-allow-headers"), "content-type, x-user-id")
        self.assertEqual(hdrs.get("access-control-max-age"), "300")
        self.assertEqual(hdrs.get("access-control-allow-credentials"), "true")
        self.assertEqual(hdrs.get("vary"), "Origin")
        # a path of several methods, and the gateway's own paths
        status, hdrs, _ = self.preflight("/v1/shelves/s1/books/b1", method="DELETE")
        self.assertEqual(status, 204)
        self.assertIn("DELETE", hdrs.get("access-control-allow-methods").split(", "))
        status, hdrs, _ = self.preflight("/healthz", "http://localhost:3000", "GET")
        self.assertEqual((status, hdrs.get("access-control-allow-methods")), (204, "GET, HEAD"))
        self.assertEqual(hdrs.get("access-control-allow-origin"), "http://localhost:3000")
        # a list that is not field names is not echoed
        status, hdrs, _ = self.preflight("/v1/example/echo",
                                         headers={"Access-Control-Request-Headers": "a b(c)"})
        self.assertEqual(status, 204)
        self.assertNotIn("access-control-allow-headers", hdrs)
        # an unknown path stays a 404
        self.assertEqual(self.preflight("/v1/no/such")[0], 404)

    def test_answers_to_an_allowed_origin(self):
        """Success and errors alike carry the CORS headers, so that a
        script reads the JSON, and expose the headers a browser hides
        otherwise (X-Request-Id, Grpc-Metadata-*)."""
        status, hdrs, data = self.http("POST", "/v1/example/echo", b'{"value":"x"}',
                                       {"Origin": self.ORIGIN})
        self.assertEqual((status, data), (200, b'{"value":"x"}'))
        self.assertEqual(hdrs.get("access-control-allow-origin"), self.ORIGIN)
        self.assertEqual(hdrs.get("access-control-allow-credentials"), "true")
        self.assertIn("X-Request-Id", hdrs.get("access-control-expose-headers").split(", "))
        status, hdrs, _ = self.http("POST", "/v1/testkit/metadata", b'{}',
                                    {"Origin": self.ORIGIN, "Grpc-Metadata-X-Echo": "e"})
        self.assertEqual(status, 200)
        exposed = hdrs.get("access-control-expose-headers").split(", ")
        self.assertTrue([n for n in exposed if n.lower().startswith("grpc-metadata-")], exposed)
        status, hdrs, _ = self.http("GET", "/v1/no/such", None, {"Origin": self.ORIGIN})
        self.assertEqual((status, hdrs.get("access-control-allow-origin")), (404, self.ORIGIN))
        # refusals before routing too (431: too many header fields)
        many = dict(("X-H%d" % i, "v") for i in range(300))
        many["Origin"] = self.ORIGIN
        status, hdrs, _ = self.http("GET", "/v1/example/echo", None, many)
        self.assertEqual((status, hdrs.get("access-control-allow-origin")), (431, self.ORIGIN))

    def test_exposed_names_count_in_the_room_for_headers(self):
        """Expose-Headers names each metadata header again: metadata that
        fits without it but not with it is the documented 502, not a
        connection closed without an answer."""
        entries = [{"key": "x-k%03d-%s" % (i, "k" * 52), "text": "v"} for i in range(300)]
        body = json.dumps({"noEcho": True, "addInitial": entries}).encode()

        def post(extra):
            return raw_exchange(self.port, b"POST /v1/testkit/metadata HTTP/1.1\r\nHost: x\r\n"
                                b"Connection: close\r\nContent-Type: application/json\r\n" +
                                extra + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.assertEqual(post(b"")[0], 200)  # 300 metadata headers (too many for http.client)
        status, hdrs, data = post(b"Origin: " + self.ORIGIN.encode() + b"\r\n")
        self.assertEqual(status, 502, data[:200])
        self.assertIn(b"response metadata takes", data)
        self.assertEqual(dict(hdrs).get("access-control-allow-origin"), self.ORIGIN)

    def test_other_origins_get_no_cors_headers(self):
        for origin in ("https://evil.example", "https://app.example/", "https://APP.example",
                       "null"):
            with self.subTest(origin=origin):
                status, hdrs, _ = self.preflight("/v1/example/echo", origin)
                self.assertEqual(status, 405)  # an OPTIONS like any other
                self.assertNotIn("access-control-allow-origin", hdrs)
                status, hdrs, _ = self.http("POST", "/v1/example/echo", b"{}", {"Origin": origin})
                self.assertEqual(status, 200)
                self.assertNotIn("access-control-allow-origin", hdrs)
                self.assertEqual(hdrs.get("vary"), "Origin")
        # no Origin at all (curl, a server): no CORS headers either
        status, hdrs, _ = self.http("POST", "/v1/example/echo", b"{}")
        self.assertNotIn("access-control-allow-origin", hdrs)


class CorsAnyOrigin(SystemCase):
    gateway_keys = {"cors_origins": "*"}

    def test_any_origin(self):
        status, hdrs, _ = self.http("OPTIONS", "/v1/example/echo", None, {
            "Origin": "https://anywhere.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(status, 204)
        self.assertEqual(hdrs.get("access-control-allow-origin"), "*")
        self.assertEqual(hdrs.get("access-control-max-age"), "600")
        self.assertNotIn("access-control-allow-credentials", hdrs)
        self.assertNotIn("vary", hdrs)
        status, hdrs, _ = self.http("POST", "/v1/example/echo", b"{}",
                                    {"Origin": "http://127.0.0.1:1"})
        self.assertEqual((status, hdrs.get("access-control-allow-origin")), (200, "*"))


class EnumNumbers(SystemCase):
    gateway_keys = {"json_enum_numbers": "on"}

    def test_replies_and_details_print_numbers(self):
        """json_enum_numbers: replies and error details give enums as
        numbers; a request may still name them, in the body or the query."""
        self.assertEqual(self.ok("POST", "/v1/search", {"tags": ["c"], "genre": "POETRY"}),
                         echoed("Search", tags=["c"], genre=3))
        self.assertEqual(self.ok("GET", "/v1/search?genre=ESSAY"), echoed("Search", genre=2))
        self.assertEqual(self.ok("GET", "/v1/search?genre=1"), echoed("Search", genre=1))
        body = self.error("POST", "/v1/testkit/fail",
                          {"code": 9, "message": "no", "details": [
                              {"@type": "type.googleapis.com/rpcrest.testkit.Nested",
                               "name": "n", "colors": ["RED", "BLUE"]}]},
                          status=400, code=9, message="no")
        self.assertEqual(body["details"][0]["colors"], [1, 3])


# ---- discovery through reflection ---------------------------------------------------------------


# ---- processes started here ---------------------------------------------------------------------


class ProcessCase(RestCase):
    """Programs started one by one, without rpcrestd."""

    def setUp(self):
        need_programs("rpcrestd", "rpcrest-host", "rpcrest-gateway")
        self.dir = tempfile.mkdtemp(prefix="rpcrest-rest-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.programs = []
        self.addCleanup(self.stop_programs)  # also when setUp fails later on

    def stop_programs(self):
        for p in reversed(self.programs):
            p.stop()

    def program(self, name, ini, log_name):
        p = Program(name, ini, os.path.join(self.dir, log_name))
        self.programs.append(p)
        return p.start()

    def logs(self):
        return "\n".join("--- %s:\n%s" % (p.log_path, p.log()) for p in self.programs)


class HostDown(ProcessCase):

    def test_health_while_the_host_is_gone(self):
        host_port, self.port = harness.free_port(), harness.free_port()
        ini = os.path.join(self.dir, "rpcrest.ini")
        write_ini(ini, host_port, self.port,
                  [("echo", os.path.join(BUILD, "services", "echo.pb"))])
        host = self.program("rpcrest-host", ini, "host.log")
        self.program("rpcrest-gateway", ini, "gateway.log")
        self.assertTrue(harness.wait_until(
            lambda: harness.port_open(self.port) and self.http("GET", "/healthz")[0] == 200,
            10, 0.05), self.logs())
        host.kill()
        self.assertTrue(harness.wait_until(lambda: self.http("GET", "/healthz")[0] == 503, 3,
                                           0.05), self.logs())
        self.error("GET", "/healthz", status=503, code=14)
        self.error("GET", "/healthz?service=example.MyService", status=503, code=14)
        self.error("POST", "/v1/example/echo", {"value": "x"}, status=503, code=14)


class Discovery(ProcessCase):
    """No `descriptors` key: the gateway asks the host's reflection service,
    and again when the host comes back, with no gateway restart."""

    def test_service_added_by_host_restart(self):
        host_port, self.port = harness.free_port(), harness.free_port()
        ini = os.path.join(self.dir, "rpcrest.ini")
        write_ini(ini, host_port, self.port, [("echo", None)])
        host = self.program("rpcrest-host", ini, "host.log")
        gateway = self.program("rpcrest-gateway", ini, "gateway.log")
        self.assertTrue(harness.wait_until(
            lambda: harness.port_open(self.port) and self.http("GET", "/healthz")[0] == 200,
            10, 0.05), self.logs())
        self.assertEqual(self.ok("POST", "/v1/example/echo", {"value": "via reflection"}),
                         {"value": "via reflection"})
        self.error("GET", "/v1/whoami", status=404, code=5)
        host.kill()
        write_ini(ini, host_port, self.port, [("echo", None), ("bindings", None)])
        host = self.program("rpcrest-host", ini, "host2.log")  # the gateway reads no INI now
        answers = []

        def routed():
            status, _, data = self.http("GET", "/v1/whoami")
            answers.append((status, data))
            return status == 200
        self.assertTrue(harness.wait_until(routed, 5, 0.05),
                        "no /v1/whoami route within 5 s; last answers %s; logs:\n%s"
                        % (answers[-3:], self.logs()))
        self.assertIsNone(gateway.proc.poll(), "the gateway ended")
        self.assertEqual(int(json.loads(answers[-1][1])["pid"]), host.proc.pid)
        self.assertEqual(self.ok("GET", "/v1/shelves/s1/books/b1?limit=2"),
                         echoed("GetBook", shelf="s1", book={"id": "b1"}, limit=2))
        self.assertEqual(self.ok("POST", "/v1/example/echo", {"value": "still"}),
                         {"value": "still"})

    def test_metrics_of_a_method_gone_from_the_api_are_dropped(self):
        """The host comes back without the echo service: its method's
        series leave /metrics (an upstream that renames its methods at each
        reconnect would otherwise grow them without end), while a method
        both APIs have keeps counting where it was."""
        host_port, self.port = harness.free_port(), harness.free_port()
        ini = os.path.join(self.dir, "rpcrest.ini")
        write_ini(ini, host_port, self.port, [("echo", None), ("bindings", None)])
        host = self.program("rpcrest-host", ini, "host.log")
        gateway = self.program("rpcrest-gateway", ini, "gateway.log")
        self.assertTrue(harness.wait_until(
            lambda: harness.port_open(self.port) and self.http("GET", "/healthz")[0] == 200,
            10, 0.05), self.logs())
        self.assertEqual(self.ok("POST", "/v1/example/echo", {"value": "x"}), {"value": "x"})
        self.assertEqual(self.http("GET", "/v1/whoami")[0], 200)
        echo = b'method="/example.MyService/Echo"'
        whoami = (b'rpcrest_gateway_requests_total{method="/rpcrest.bindings.Bindings/Whoami",'
                  b'code="200",grpc_code="OK"} %d\n')
        metrics = self.http("GET", "/metrics")[2]
        self.assertIn(echo, metrics)
        self.assertIn(whoami % 1, metrics)
        host.kill()
        write_ini(ini, host_port, self.port, [("bindings", None)])
        self.program("rpcrest-host", ini, "host2.log")
        self.assertTrue(harness.wait_until(
            lambda: self.http("POST", "/v1/example/echo", {"value": "x"})[0] == 404, 10, 0.05),
            self.logs())
        self.assertEqual(self.http("GET", "/v1/whoami")[0], 200)
        metrics = self.http("GET", "/metrics")[2]
        self.assertEqual([line for line in metrics.split(b"\n") if echo in line], [])
        self.assertIn(whoami % 2, metrics)
        self.assertIn(b'method="/rpcrest.bindings.Bindings/GetBook"', metrics)
        self.assertIn(b'rpcrest_gateway_schema_reloads_total{result="ok"} 2\n', metrics)
        self.assertIsNone(gateway.proc.poll(), "the gateway ended")

    def test_reconnect_to_the_same_api_reloads_nothing(self):
        """The host closes the gateway's idle channel every second
        (max_connection_idle): the gateway asks reflection again each time
        it reconnects, and since the API is the same, publishes, counts
        and logs nothing."""
        host_port, self.port = harness.free_port(), harness.free_port()
        ini = os.path.join(self.dir, "rpcrest.ini")
        write_ini(ini, host_port, self.port, [("echo", None)])
        with open(ini) as f:
            text = f.read()
        with open(ini, "w") as f:
            f.write(text.replace("[host]\n", "[host]\nmax_connection_idle = 1\n", 1))
        self.program("rpcrest-host", ini, "host.log")
        gateway = self.program("rpcrest-gateway", ini, "gateway.log")
        self.assertTrue(harness.wait_until(
            lambda: harness.port_open(self.port) and self.http("GET", "/healthz")[0] == 200,
            10, 0.05), self.logs())
        deadline = time.monotonic() + 4.5  # the channel closed and reconnected about 4 times
        while time.monotonic() < deadline:
            self.assertEqual(self.ok("POST", "/v1/example/echo", {"value": "x"}), {"value": "x"})
            time.sleep(1.2)
        self.assertEqual(gateway.log().count("routes from"), 1, self.logs())
        status, _, metrics = self.http("GET", "/metrics")
        self.assertIn(b'rpcrest_gateway_schema_reloads_total{result="ok"} 1\n', metrics)

    def test_api_refused_once_however_often_it_reconnects(self):
        """The host comes back without the service [gateway] services
        names: the gateway keeps its API and says so once, not again at
        each reconnect (max_connection_idle = 1) while the host serves the
        same."""
        host_port, self.port = harness.free_port(), harness.free_port()
        ini = os.path.join(self.dir, "rpcrest.ini")
        idle = "max_connection_idle = 1\n[gateway]"
        write_ini(ini, host_port, self.port, [("echo", None)],
                  "services = example.MyService")
        with open(ini) as f:
            text = f.read().replace("[gateway]", idle, 1)
        with open(ini, "w") as f:
            f.write(text)
        host = self.program("rpcrest-host", ini, "host.log")
        gateway = self.program("rpcrest-gateway", ini, "gateway.log")
        self.assertTrue(harness.wait_until(
            lambda: harness.port_open(self.port) and self.http("GET", "/healthz")[0] == 200,
            10, 0.05), self.logs())
        host.kill()
        with open(ini, "w") as f:
            f.write(text.replace("[service.echo]\nplugin = %s/services/echo.so" % BUILD,
                                 "[service.bindings]\nplugin = %s/services/bindings.so" % BUILD))
        self.program("rpcrest-host", ini, "host2.log")
        self.assertTrue(harness.wait_until(lambda: "keeping the current API" in gateway.log(),
                                           10, 0.05), self.logs())
        time.sleep(4.5)  # about 4 reconnects to the same host
        self.assertEqual(gateway.log().count("keeping the current API"), 1, self.logs())
        status, _, metrics = self.http("GET", "/metrics")
        self.assertIn(b'rpcrest_gateway_schema_reloads_total{result="error"} 1\n', metrics)


class ScaleOut(ProcessCase):
    """A supervised system and a standalone rpcrest-host behind one gateway."""

    def setUp(self):
        super().setUp()
        self.other_port = harness.free_port()
        ini = os.path.join(self.dir, "other.ini")
        write_ini(ini, self.other_port, harness.free_port(), [("bindings", None)])
        self.other = self.program("rpcrest-host", ini, "other-host.log")
        self.assertTrue(harness.wait_until(lambda: harness.port_open(self.other_port), 10),
                        self.logs())
        self.system = harness.Rpcrest(services=("echo", "bindings"))
        self.addCleanup(self.system.cleanup)
        with open(self.system.ini) as f:
            text = f.read()
        with open(self.system.ini, "w") as f:
            f.write(text.replace("[gateway]\n", "[gateway]\nupstream = ipv4:127.0.0.1:%d,"
                                 "127.0.0.1:%d\n" % (self.system.host_port, self.other_port), 1))
        self.system.start()
        self.port = self.system.http_port

    def whoami(self):
        status, _, data = self.http("GET", "/v1/whoami")
        return status, (int(json.loads(data)["pid"]) if status == 200 else json.loads(data))

    def test_round_robin_and_failover(self):
        supervised = self.system.children()["rpcrest-host"]
        standalone = self.other.proc.pid
        # both connections may take a moment to come up
        seen = set()
        harness.wait_until(lambda: seen.add(self.whoami()[1]) or
                           {supervised, standalone} <= seen, 5, 0.02)
        answers = [self.whoami() for _ in range(40)]
        self.assertEqual({s for s, _ in answers}, {200}, answers)
        pids = [p for _, p in answers]
        self.assertEqual(set(pids), {supervised, standalone}, self.system.log())
        self.assertGreaterEqual(min(pids.count(supervised), pids.count(standalone)), 10, pids)

        self.other.kill()
        t0 = time.monotonic()
        timeline = []  # (seconds after the kill, status, pid or error body)
        while time.monotonic() - t0 < 3:
            status, what = self.whoami()
            timeline.append((time.monotonic() - t0, status, what))
            time.sleep(0.005)
        failures = [t for t in timeline if t[1] != 200]
        for _, status, what in failures:  # meanwhile, only a clean 503
            self.assertEqual((status, what["code"]), (503, 14), timeline)
        if failures:
            self.assertLess(failures[-1][0], 2.0, "still failing %.2f s after the kill: %s"
                            % (failures[-1][0], failures))
        settled = [what for t, status, what in timeline if t >= 2.0]
        self.assertTrue(settled)
        self.assertEqual(set(settled), {supervised}, timeline[-5:])
        self.assertEqual(self.ok("POST", "/v1/example/echo", {"value": "x"}), {"value": "x"})


class DeadAddress(ProcessCase):
    """[gateway] upstream lists an address nothing listens on, first."""

    def test_its_calls_go_to_the_other_address(self):
        dead = harness.free_port()
        system = harness.Rpcrest(services=("echo",))
        self.addCleanup(system.cleanup)
        with open(system.ini) as f:
            text = f.read()
        with open(system.ini, "w") as f:
            f.write(text.replace("[gateway]\n", "[gateway]\nthreads = 1\nupstream = "
                                 "ipv4:127.0.0.1:%d,127.0.0.1:%d\n" % (dead, system.host_port), 1))
        system.start()
        self.port = system.http_port
        answers = [self.http("POST", "/v1/example/echo", body=b'{"value":"%d"}' % i)
                   for i in range(40)]
        self.assertEqual([(s, d) for s, _, d in answers],
                         [(200, b'{"value":"%d"}' % i) for i in range(40)], system.log())
        log = system.log()
        self.assertEqual(log.count("cannot connect to 127.0.0.1:%d: Connection refused (calls go "
                                   "to the other connections and addresses)" % dead), 1, log)
        # tried again once its backoff is over, logged no more
        time.sleep(1.2)
        answers = [self.http("POST", "/v1/example/echo", body=b'{"value":"x"}')[0]
                   for _ in range(20)]
        self.assertEqual(set(answers), {200})
        self.assertEqual(system.log().count("cannot connect to 127.0.0.1:%d" % dead), 1)


CONFLICT_PROTO = """\
syntax = "proto3";
package conflict;
import "google/api/annotations.proto";
message Thing { string id = 1; string name = 2; }
service Clash {
  rpc GetById(Thing) returns (Thing) {
    option (google.api.http) = { get: "/v1/things/{id}" };
  }
  rpc GetByName(Thing) returns (Thing) {
    option (google.api.http) = { get: "/v1/things/{name}" };
  }
}
"""


SHADOWED_PROTO = """\
syntax = "proto3";
package shadowed;
import "google/api/annotations.proto";
message Thing { string id = 1; }
service Paths {
  rpc Health(Thing) returns (Thing) {
    option (google.api.http) = { post: "/healthz" body: "*" };
  }
  rpc Doc(Thing) returns (Thing) {
    option (google.api.http) = { get: "/docs/{id}" };
  }
  rpc Any(Thing) returns (Thing) {
    option (google.api.http) = { get: "/{id}/x" };
  }
  rpc Fine(Thing) returns (Thing) {
    option (google.api.http) = { get: "/v1/docs/{id}" };
  }
}
"""


class Conflicts(ProcessCase):

    def descriptor_set(self, name, text):
        """Compiles text (name.proto) into name.pb in the test's folder."""
        import grpc_tools
        well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        with open(os.path.join(self.dir, name + ".proto"), "w") as f:
            f.write(text)
        pb = os.path.join(self.dir, name + ".pb")
        subprocess.run([harness.PYTHON, "-m", "grpc_tools.protoc", "-I" + self.dir,
                        "-I" + os.path.join(harness.ROOT, "proto"), "-I/usr/include",
                        "-I" + well_known, "--include_imports", "--descriptor_set_out=" + pb,
                        name + ".proto"], check=True, cwd=self.dir)
        return pb

    def test_routes_the_gateway_answers_itself_are_logged(self):
        """/healthz and the console's paths are answered before routing: a
        route that also matches one is said to be shadowed."""
        pb = self.descriptor_set("shadowed", SHADOWED_PROTO)
        ini = os.path.join(self.dir, "rpcrest.ini")
        write_ini(ini, harness.free_port(), harness.free_port(), [("echo", pb)], "docs = on")
        gateway = self.program("rpcrest-gateway", ini, "gateway.log")
        self.assertTrue(harness.wait_until(lambda: "serving 4 routes" in gateway.log(), 10,
                                           0.05), gateway.log())
        shadowed = [line.split("route ", 1)[1] for line in gateway.log().splitlines()
                    if "which the gateway answers itself" in line]
        self.assertEqual(sorted(shadowed), sorted([
            "POST /healthz -> /shadowed.Paths/Health also matches /healthz, which the gateway "
            "answers itself: those requests do not reach it",
            "GET /docs/{id} -> /shadowed.Paths/Doc also matches /docs/*, which the gateway "
            "answers itself: those requests do not reach it",
            "GET /{id}/x -> /shadowed.Paths/Any also matches /docs/*, which the gateway "
            "answers itself: those requests do not reach it"]), gateway.log())

    def test_two_bindings_for_the_same_requests(self):
        pb = self.descriptor_set("clash", CONFLICT_PROTO)
        ini = os.path.join(self.dir, "rpcrest.ini")
        write_ini(ini, harness.free_port(), harness.free_port(), [("echo", pb)])
        gateway = self.program("rpcrest-gateway", ini, "gateway.log")
        try:
            code = gateway.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("the gateway started with conflicting bindings:\n" + gateway.log())
        log = gateway.log()
        self.assertEqual(code, 78, log)
        self.assertIn("/conflict.Clash/GetById", log)
        self.assertIn("/conflict.Clash/GetByName", log)


class BusyPoll(ProcessCase):
    """[gateway] busy_poll_us: with one connection open, an HTTP thread polls
    for that long before it sleeps.  The polling must end: a process that
    polled on would use a whole CPU (100 ticks a second)."""

    def start(self, gateway_extra):
        host_port, self.port = harness.free_port(), harness.free_port()
        ini = os.path.join(self.dir, "rpcrest.ini")
        write_ini(ini, host_port, self.port,
                  [("echo", os.path.join(BUILD, "services", "echo.pb")),
                   ("testkit", os.path.join(BUILD, "services", "testkit.pb"))],
                  gateway_extra)
        self.program("rpcrest-host", ini, "host.log")
        gateway = self.program("rpcrest-gateway", ini, "gateway.log")
        self.assertTrue(harness.wait_until(
            lambda: harness.port_open(self.port) and self.http("GET", "/healthz")[0] == 200,
            10, 0.05), self.logs())
        return gateway

    def test_lone_connection_served_and_idle_without_cpu(self):
        gateway = self.start("busy_poll_us = 1000")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(conn.close)
        for i in range(200):  # one keep-alive connection: polled between requests
            conn.request("POST", "/v1/example/echo", body=json.dumps({"value": "v%d" % i}),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            self.assertEqual((resp.status, json.loads(resp.read())), (200, {"value": "v%d" % i}))
        time.sleep(0.2)
        before = harness.cpu_ticks(gateway.proc.pid)
        time.sleep(2)  # the connection stays open, with nothing on it
        used = harness.cpu_ticks(gateway.proc.pid) - before
        self.assertLessEqual(used, 10, "the gateway used %d ticks in 2 s idle" % used)
        conn.request("POST", "/v1/example/echo", body=b'{"value":"after"}')
        self.assertEqual(json.loads(conn.getresponse().read()), {"value": "after"})

    def test_no_cpu_while_a_long_call_waits(self):
        gateway = self.start("busy_poll_us = 1000")
        before = harness.cpu_ticks(gateway.proc.pid)
        t0 = time.monotonic()
        self.ok("POST", "/v1/testkit/sleep", {"duration": "1.5s"})
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        used = harness.cpu_ticks(gateway.proc.pid) - before
        self.assertLessEqual(used, 15, "the gateway used %d ticks during a 1.5 s call" % used)

    def test_off_when_one_cpu_is_allowed(self):
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(allowed)})  # inherited by the programs started now
        try:
            self.start("")
        finally:
            os.sched_setaffinity(0, allowed)
        self.assertEqual(self.ok("POST", "/v1/example/echo", {"value": "one"}), {"value": "one"})
        self.assertIn("busy_poll_us: off: this process may run on one CPU only",
                      self.programs[-1].log())

    def test_on_with_more_cpus_and_off_when_zero(self):
        if len(os.sched_getaffinity(0)) < 2:
            self.skipTest("one CPU only")
        self.start("")
        self.assertNotIn("busy_poll_us", self.programs[-1].log())
        self.stop_programs()
        self.programs = []
        self.start("busy_poll_us = 0")
        self.assertEqual(self.ok("POST", "/v1/example/echo", {"value": "0"}), {"value": "0"})
        self.assertNotIn("busy_poll_us", self.programs[-1].log())


if __name__ == "__main__":
    unittest.main()
