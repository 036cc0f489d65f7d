"""GET /openapi.json and the API console at /docs ([gateway] docs).

The document describes the API the gateway serves now: every route with its
path and query parameters, bodies and replies built from the descriptors
(proto3 JSON names, int64 as strings, enums as string enums, well-known
types as their JSON forms, repeated fields, maps), the error body, and the
.proto comments, whether the API came from descriptor files or from the
host's reflection.  It is checked by an OpenAPI validator from npm
(tests/browser/validate.cjs), real replies are checked against it
(tests/browser/conforms.cjs), and it changes when a reload adds a service.
The console is driven in headless Chromium (tests/browser/console.cjs):
Try it out -> Execute on MyService.Echo shows the echoed value; the
screenshot is saved as build/tests/console.png.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, ROOT, Rpcrest, wait_until
from test_supervisor import SupervisorCase

NODE = shutil.which("node") or "/usr/bin/node"
NODE_MODULES = os.path.join(BUILD, "npm", "browser", "node_modules")
VALIDATE = os.path.join(ROOT, "tests", "browser", "validate.cjs")
CONFORMS = os.path.join(ROOT, "tests", "browser", "conforms.cjs")
CONSOLE = os.path.join(ROOT, "tests", "browser", "console.cjs")
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = os.path.join(BUILD, "tests", "console.png")
SCHEMAS = "#/components/schemas/"


def node(script, *args, timeout=300):
    """Runs a tests/browser script with the npm packages make installed."""
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    return subprocess.run([NODE, script] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL, cwd=ROOT)


def fetch_document(r):
    status, headers, body = r.http("GET", "/openapi.json")
    assert status == 200, (status, body)
    return json.loads(body)


def operations(doc):
    """{(METHOD, path): operation}."""
    return {(method.upper(), path): op
            for path, item in doc["paths"].items() for method, op in item.items()}


def params(op):
    return {p["name"]: p for p in op.get("parameters", [])}


def schemas_in(tree):
    """Every object in the document, schemas among them, depth first."""
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from schemas_in(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from schemas_in(value)


def path_shape(path):
    """/v1/shelves/{}/books/{} for /v1/shelves/{a}/books/{b}."""
    return re.sub(r"\{[^}]*\}", "{}", path)


class DocumentCheck(unittest.TestCase):
    def assert_valid(self, doc):
        """The document passes @apidevtools/swagger-parser's validation,
        and two rules of OpenAPI 3.0.3 it does not check: nullable only
        beside a type, and no two paths that differ only in their
        parameters' names."""
        for schema in schemas_in(doc):
            if schema.get("nullable") is True:
                self.assertIn("type", schema, schema)
        shapes = [path_shape(path) for path in doc["paths"]]
        self.assertEqual(len(shapes), len(set(shapes)), sorted(doc["paths"]))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        self.addCleanup(os.unlink, f.name)
        out = node(VALIDATE, f.name)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertRegex(out.stdout, r"^valid: OpenAPI 3\.0\.3, \d+ paths")


class OpenApiDocumentTest(DocumentCheck):
    """echo, testkit and bindings, their API read through reflection."""

    @classmethod
    def setUpClass(cls):
        cls.r = Rpcrest(services=("echo", "testkit", "bindings"), descriptors=False)
        try:
            cls.r.start()
            cls.doc = fetch_document(cls.r)
        except BaseException:
            cls.r.cleanup()
            raise
        cls.ops = operations(cls.doc)
        cls.schemas = cls.doc["components"]["schemas"]

    @classmethod
    def tearDownClass(cls):
        cls.r.cleanup()

    def schema(self, ref_or_schema):
        """The component a {"$ref"} (or a one-item allOf of one) names."""
        s = ref_or_schema
        if "allOf" in s:
            s = s["allOf"][0]
        self.assertIn("$ref", s)
        self.assertTrue(s["$ref"].startswith(SCHEMAS), s)
        return self.schemas[s["$ref"][len(SCHEMAS):]]

    def test_served_as_json(self):
        status, headers, body = self.r.http("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(json.loads(body), self.doc)
        status, headers, body = self.r.http("HEAD", "/openapi.json")
        self.assertEqual((status, body), (200, b""))
        status, body = self.r.http_json("POST", "/openapi.json", {})
        self.assertEqual(status, 405)
        self.assertEqual(body["code"], 12)
        # the API itself is untouched
        self.assertEqual(self.r.http_json("POST", "/v1/example/echo", {"value": "v"}),
                         (200, {"value": "v"}))

    def test_validates(self):
        self.assertEqual(self.doc["openapi"], "3.0.3")
        self.assert_valid(self.doc)

    def test_every_route(self):
        want = {
            ("POST", "/v1/example/echo"),
            ("POST", "/v1/testkit/echo"), ("GET", "/v1/testkit/echo/{string_value}"),
            ("POST", "/v1/testkit/metadata"), ("POST", "/v1/testkit/sleep"),
            ("POST", "/v1/testkit/fail"), ("POST", "/v1/testkit/async"),
            ("GET", "/v1/testkit/stream"), ("GET", "/v1/testkit/stream/index"),
            ("GET", "/v1/testkit/stats"),
            ("GET", "/v1/shelves/{shelf}/books/{book.id}"),
            ("PUT", "/v1/shelves/{shelf}/books/{book.id}"),
            ("PATCH", "/v1/shelves/{shelf}/books/{book.id}"),
            ("DELETE", "/v1/shelves/{shelf}/books/{book.id}"),
            ("GET", "/v1/publishers/{name-1}/books/{name-2}"),
            ("PATCH", "/v1/publishers/{name-1}/books/{name-2}"),
            ("GET", "/v1/files/{path}"),
            ("POST", "/v1/shelves/{name-1}/books/{name-2}:undelete"),
            ("POST", "/v1/echo/{shelf}"), ("POST", "/v1/shelves/{shelf}/books"),
            ("GET", "/v1/shelves/{shelf}/request"), ("GET", "/v1/search"),
            ("POST", "/v1/search"), ("GET", "/v1/shelves/{shelf}/search"),
            ("GET", "/v1/whoami"),
        }
        self.assertEqual(set(self.ops), want)  # PURGE: a verb OpenAPI has no place for
        ids = [op["operationId"] for op in self.ops.values()]
        self.assertEqual(len(ids), len(set(ids)))
        echo = self.ops[("POST", "/v1/example/echo")]
        self.assertEqual(echo["operationId"], "MyService_Echo")
        self.assertEqual(echo["tags"], ["MyService"])
        # additional bindings: one operation each, numbered
        self.assertEqual(self.ops[("POST", "/v1/testkit/echo")]["operationId"], "TestKit_Echo")
        self.assertEqual(self.ops[("GET", "/v1/testkit/echo/{string_value}")]["operationId"],
                         "TestKit_Echo2")
        self.assertEqual({t["name"] for t in self.doc["tags"]},
                         {"MyService", "TestKit", "Bindings"})

    def test_path_and_query_parameters(self):
        op = self.ops[("GET", "/v1/testkit/echo/{string_value}")]
        p = params(op)
        self.assertEqual(p["string_value"]["in"], "path")
        self.assertTrue(p["string_value"]["required"])
        self.assertEqual(p["string_value"]["schema"], {"type": "string"})
        self.assertEqual(p["int64Value"]["in"], "query")
        self.assertEqual(p["int64Value"]["schema"], {"type": "string", "format": "int64"})
        self.assertEqual(p["repeatedInt32"]["schema"],
                         {"type": "array", "items": {"type": "integer", "format": "int32"}})
        # a parameter takes the enum's names and numbers, no other number
        self.assertEqual(p["color"]["schema"], {"$ref": SCHEMAS + "rpcrest.testkit.Color"})
        self.assertEqual(p["doubleValue"]["schema"], {"type": "number", "format": "double"})
        self.assertEqual(p["nested.name"]["schema"], {"type": "string"})
        self.assertEqual(p["int32Wrapper"]["schema"]["format"], "int32")
        self.assertEqual(self.schema(p["timestamp"]["schema"])["format"], "date-time")
        self.assertIn("fieldMask", p)
        # no map, no repeated message, nothing the path took, no body
        for absent in ("stringMap", "nestedMap", "repeatedNested", "stringValue", "any"):
            self.assertNotIn(absent, p)
        self.assertNotIn("requestBody", op)
        # a variable over several segments is written out, so that its
        # slashes are sent as they are
        p = params(self.ops[("GET", "/v1/publishers/{name-1}/books/{name-2}")])
        self.assertEqual(p["name-1"]["in"], "path")
        self.assertIn("name", p["name-2"]["description"])
        self.assertNotIn("name", p)
        # the same URLs with another variable: under the first's names
        p = params(self.ops[("PATCH", "/v1/publishers/{name-1}/books/{name-2}")])
        self.assertEqual(p["name-1"]["in"], "path")
        self.assertRegex(p["name-2"]["description"], r"^book\.id-2: segment 2 of book\.id ")
        # body "book": the body is the Book, the query fills the rest but book
        op = self.ops[("POST", "/v1/shelves/{shelf}/books")]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        self.assertEqual(self.schema(body), self.schemas["rpcrest.bindings.Book"])
        p = params(op)
        self.assertEqual(p["shelf"]["in"], "path")
        self.assertEqual(p["filter.author"]["in"], "query")
        self.assertEqual(p["offset"]["schema"], {"type": "string", "format": "int64"})
        self.assertFalse([name for name in p if name.startswith("book")], p)
        # body "*": everything in the body, nothing in the query
        op = self.ops[("POST", "/v1/example/echo")]
        self.assertNotIn("parameters", op)
        self.assertEqual(op["requestBody"]["content"]["application/json"]["schema"],
                         {"$ref": SCHEMAS + "example.StringMessage"})

    def test_replies(self):
        op = self.ops[("POST", "/v1/example/echo")]
        self.assertEqual(op["responses"]["200"]["content"]["application/json"]["schema"],
                         {"$ref": SCHEMAS + "example.StringMessage"})
        # response_body: the reply is that field
        op = self.ops[("GET", "/v1/shelves/{shelf}/request")]
        self.assertEqual(op["responses"]["200"]["content"]["application/json"]["schema"],
                         {"$ref": SCHEMAS + "rpcrest.bindings.BindRequest"})
        # a server stream: {"result": …} or {"error": …} lines, or SSE
        op = self.ops[("GET", "/v1/testkit/stream")]
        content = op["responses"]["200"]["content"]
        line = content["application/json"]["schema"]["properties"]
        self.assertEqual(line["result"], {"$ref": SCHEMAS + "rpcrest.testkit.StreamReply"})
        self.assertEqual(line["error"], {"$ref": SCHEMAS + "google.rpc.Status"})
        self.assertIn("text/event-stream", content)
        # ... whose messages' response_body field is the result
        op = self.ops[("GET", "/v1/testkit/stream/index")]
        line = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
        self.assertEqual(line["result"]["type"], "integer")

    def test_error_schema(self):
        for op in self.ops.values():
            self.assertEqual(op["responses"]["default"]["content"]["application/json"]["schema"],
                             {"$ref": SCHEMAS + "google.rpc.Status"})
        status = self.schemas["google.rpc.Status"]["properties"]
        self.assertEqual(status["code"]["type"], "integer")
        self.assertEqual(status["message"]["type"], "string")
        self.assertEqual(status["details"]["items"], {"$ref": SCHEMAS + "google.protobuf.Any"})
        # and it is what the gateway answers
        code, body = self.r.http_json("GET", "/v1/nothing")
        self.assertEqual((code, sorted(body)), (404, ["code", "details", "message"]))

    def test_scalars_enums_repeated_maps(self):
        p = self.schemas["rpcrest.testkit.AllTypes"]["properties"]
        self.assertEqual(self.schemas["rpcrest.testkit.AllTypes"]["type"], "object")
        for name in ("int64Value", "sint64Value", "sfixed64Value"):
            self.assertEqual(p[name], {"type": "string", "format": "int64"}, name)
        for name in ("uint64Value", "fixed64Value"):
            self.assertEqual(p[name], {"type": "string", "format": "uint64"}, name)
        self.assertEqual(p["int32Value"], {"type": "integer", "format": "int32"})
        self.assertEqual(p["uint32Value"]["maximum"], 4294967295)
        self.assertEqual(p["doubleValue"], {"oneOf": [
            {"type": "number", "format": "double"},
            {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]})
        self.assertEqual(p["boolValue"], {"type": "boolean"})
        self.assertEqual(p["bytesValue"], {"type": "string", "format": "byte"})
        # an open enum: a name, or a number the descriptor does not know
        self.assertEqual(p["color"]["anyOf"][1], {"type": "integer", "format": "int32"})
        self.assertEqual(self.schema(p["color"]["anyOf"][0]),
                         {"type": "string", "enum": ["COLOR_UNSPECIFIED", "RED", "GREEN", "BLUE"]})
        self.assertEqual(p["repeatedString"], {"type": "array", "items": {"type": "string"}})
        self.assertEqual(p["repeatedNested"]["items"],
                         {"$ref": SCHEMAS + "rpcrest.testkit.Nested"})
        self.assertEqual(p["stringMap"],
                         {"type": "object", "additionalProperties": {"type": "string"}})
        self.assertEqual(p["nestedMap"]["additionalProperties"],
                         {"$ref": SCHEMAS + "rpcrest.testkit.Nested"})
        self.assertNotIn("rpcrest.testkit.AllTypes.StringMapEntry", self.schemas)
        self.assertIn("oneof", p["choiceInt64"]["description"])
        # Nested refers to itself: a component, not an expansion
        self.assertEqual(self.schemas["rpcrest.testkit.Nested"]["properties"]["child"],
                         {"$ref": SCHEMAS + "rpcrest.testkit.Nested"})

    def test_well_known_types(self):
        p = self.schemas["rpcrest.testkit.AllTypes"]["properties"]
        shape = {name: self.schema(p[name]) for name in (
            "timestamp", "duration", "int64Wrapper", "int32Wrapper", "doubleWrapper", "boolWrapper",
            "bytesWrapper", "structValue", "value", "listValue", "fieldMask", "empty", "any")}
        self.assertEqual((shape["timestamp"]["type"], shape["timestamp"]["format"]),
                         ("string", "date-time"))
        self.assertEqual(shape["duration"]["type"], "string")
        self.assertRegex("1.5s", shape["duration"]["pattern"])
        self.assertEqual(shape["int64Wrapper"],
                         {"type": "string", "format": "int64", "nullable": True})
        self.assertEqual(shape["int32Wrapper"],
                         {"type": "integer", "format": "int32", "nullable": True})
        self.assertEqual(shape["doubleWrapper"]["oneOf"][0],
                         {"type": "number", "format": "double", "nullable": True})
        self.assertEqual(shape["boolWrapper"], {"type": "boolean", "nullable": True})
        self.assertEqual(shape["bytesWrapper"]["format"], "byte")
        self.assertEqual(shape["structValue"]["type"], "object")
        self.assertTrue(shape["structValue"]["additionalProperties"])
        self.assertNotIn("type", shape["value"])  # any JSON value
        self.assertNotIn("nullable", shape["value"])  # meaningless without a type
        self.assertEqual(shape["listValue"]["type"], "array")
        self.assertEqual(shape["fieldMask"]["type"], "string")
        self.assertEqual((shape["empty"]["type"], shape["empty"]["properties"]), ("object", {}))
        self.assertEqual(shape["any"]["properties"]["@type"]["type"], "string")
        self.assertTrue(shape["any"]["additionalProperties"])

    def conforms(self, component, value):
        """Runs conforms.cjs: whether value, a reply's JSON, is what
        #/components/schemas/component says (checked with ajv)."""
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(self.doc, f)
        self.addCleanup(os.unlink, f.name)
        return node(CONFORMS, f.name, component, json.dumps(value))

    def test_replies_conform(self):
        """What the gateway sends besides the type's own values: "NaN" and
        the infinities for a double or float, and a number the enum does
        not declare (an upstream built from a newer .proto) as an integer."""
        sent = {"doubleValue": "NaN", "floatValue": "-Infinity", "doubleWrapper": "Infinity",
                "floatWrapper": "NaN", "color": 7, "repeatedColor": [9, "RED"],
                "nested": {"colors": [12]}, "int64Value": "-9007199254740993",
                "uint64Value": "18446744073709551615", "int32Value": -2147483648,
                "timestamp": "1972-01-01T10:00:20.021Z", "bytesValue": "+/8=",
                "int32Wrapper": 5, "value": None}
        status, reply = self.r.http_json("POST", "/v1/testkit/echo", sent)
        self.assertEqual(status, 200, reply)
        self.assertEqual((reply["doubleValue"], reply["floatValue"], reply["doubleWrapper"]),
                         ("NaN", "-Infinity", "Infinity"))
        self.assertEqual((reply["color"], reply["repeatedColor"], reply["nested"]["colors"]),
                         (7, [9, "RED"], [12]))
        out = self.conforms("rpcrest.testkit.AllTypes", reply)
        self.assertEqual(out.returncode, 0, "%s\n%s%s" % (reply, out.stdout, out.stderr))
        # and the check is one: a value the document does not allow fails it
        for field, bad in (("doubleValue", "nan"), ("color", "PURPLE"), ("color", 1.5)):
            out = self.conforms("rpcrest.testkit.AllTypes", dict(reply, **{field: bad}))
            self.assertEqual(out.returncode, 1, (field, bad, out.stdout, out.stderr))
            self.assertIn("/" + field, out.stdout)

    def test_descriptions_from_comments(self):
        """Through reflection too: the host serves the descriptor sets made
        with --include_source_info."""
        echo = self.ops[("POST", "/v1/example/echo")]
        self.assertEqual(echo["summary"], "Returns the request unchanged.")
        self.assertIn("gRPC method /example.MyService/Echo", echo["description"])
        sleep = self.ops[("POST", "/v1/testkit/sleep")]
        self.assertEqual(sleep["summary"], "Replies after `duration`, from a timer thread; a "
                         "cancelled call (client gone, deadline passed, host stopping) is "
                         "finished with CANCELLED as soon as it is noticed (within 10 ms).")
        stats = self.ops[("GET", "/v1/testkit/stats")]
        self.assertEqual(stats["summary"], "Stats")  # no comment: the method's name
        reply = self.schemas["rpcrest.testkit.MetadataReply"]
        self.assertEqual(reply["properties"]["deadlineMs"]["description"],
                         "Milliseconds left before the deadline, -1 without one.")
        self.assertTrue(reply["description"].startswith("The request metadata came back"))
        # a trailing comment, on a $ref (wrapped in allOf)
        book = self.schemas["rpcrest.bindings.Book"]["properties"]["origin"]
        self.assertEqual(book["description"], "a nested message, for PATCH's field mask")
        self.assertEqual(book["allOf"], [{"$ref": SCHEMAS + "rpcrest.bindings.Filter"}])
        # query parameters carry their field's comment
        p = params(self.ops[("GET", "/v1/search")])
        self.assertEqual(p["offset"]["description"], "?offset=9007199254740993")

    def test_console_files(self):
        for path in ("/docs", "/docs/"):
            status, headers, body = self.r.http("GET", path)
            self.assertEqual(status, 200, path)
            self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
            self.assertIn(b'url: "/openapi.json"', body)
            self.assertIn(b"/docs/swagger-ui-bundle.js", body)
            # a comment in a descriptor cannot make the console load or call
            # another site, nor can another site frame it
            self.assertEqual(headers["content-security-policy"],
                             "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
            self.assertEqual(headers["x-frame-options"], "DENY")
        for name, ctype in (("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
                            ("swagger-ui.css", "text/css; charset=utf-8"),
                            ("favicon-32x32.png", "image/png")):
            started = time.monotonic()
            status, headers, body = self.r.http("GET", "/docs/" + name)
            self.assertEqual((status, headers["content-type"]), (200, ctype), name)
            # libmicrohttpd sends a file a piece a round with nothing of the
            # gateway's called: not paced (a guard against a stuck
            # connection once made the 1.7 MB bundle take 3.7 s)
            self.assertLess(time.monotonic() - started, 1.5, name)
            with open(os.path.join(BUILD, "console", name), "rb") as f:
                self.assertEqual(body, f.read(), name)
        status, headers, body = self.r.http("HEAD", "/docs/swagger-ui-bundle.js")
        self.assertEqual((status, body), (200, b""))
        self.assertGreater(int(headers["content-length"]), 100000)
        # nothing else: no other name, no dot files, no way out of the folder
        for path in ("/docs/nothing.js", "/docs/.installed", "/docs/..", "/docs/%2e%2e",
                     "/docs/..%2fMakefile", "/docs/a/b", "/docs//etc/passwd", "/docsx"):
            status, body = self.r.http_json("GET", path)
            self.assertEqual(status, 404, path)
            self.assertEqual(body["code"], 5, path)
        status, body = self.r.http_json("DELETE", "/docs/swagger-ui.css")
        self.assertEqual((status, body["code"]), (405, 12))


class DocsKeyTest(SupervisorCase):
    def test_docs_off(self):
        """Off: both paths are unknown paths, like any other."""
        r = self.rpcrest(gateway={"docs": "off"})
        for path in ("/openapi.json", "/docs", "/docs/swagger-ui.css"):
            status, body = r.http_json("GET", path)
            self.assertEqual((status, body["code"]), (404, 5), path)
            self.assertEqual(body["message"], "no route for GET " + path)
        self.assertTrue(self.echo_works(r, 5))
        self.assertNotIn("API console", r.log())

    def test_proto_names(self):
        """json_proto_names = on: the replies' names, so the document's."""
        r = self.rpcrest(services=("echo", "testkit"), gateway={"json_proto_names": "on"})
        doc = fetch_document(r)
        p = doc["components"]["schemas"]["rpcrest.testkit.AllTypes"]["properties"]
        self.assertIn("int64_value", p)
        self.assertNotIn("int64Value", p)
        self.assertRegex(r.log(), r"API console on http://127\.0\.0\.1:%d/docs" % r.http_port)

    def test_title_and_version(self):
        """openapi_title and openapi_version: the document's info; rpcrest's
        own ("rpcrest", "1") otherwise."""
        r = self.rpcrest(gateway={"openapi_title": "Bücher-API", "openapi_version": "2.1.0"})
        info = fetch_document(r)["info"]
        self.assertEqual((info["title"], info["version"]), ("Bücher-API", "2.1.0"))
        self.assertIn("description", info)


class ReloadTest(SupervisorCase, DocumentCheck):
    def test_reload_adding_a_service_changes_the_document(self):
        r = self.rpcrest()  # echo, from its descriptor file
        doc = fetch_document(r)
        self.assertEqual({t["name"] for t in doc["tags"]}, {"MyService"})
        self.assertEqual(operations(doc)[("POST", "/v1/example/echo")]["summary"],
                         "Returns the request unchanged.")
        testkit = os.path.join(BUILD, "services", "testkit")
        with open(r.ini, "a") as f:
            f.write("\n[service.testkit]\nplugin = %s.so\ndescriptors = %s.pb\n"
                    % (testkit, testkit))
        ctl = self.ctl(r, "reload")
        self.assertEqual(ctl.returncode, 0, ctl)

        def new_document():
            try:
                d = fetch_document(r)
            except (OSError, AssertionError, ValueError):
                return None
            return d if ("POST", "/v1/testkit/echo") in operations(d) else None
        doc = wait_until(new_document, 15, 0.1)
        self.assertTrue(doc, "the document never described testkit; log:\n" + r.log())
        self.assertEqual({t["name"] for t in doc["tags"]}, {"MyService", "TestKit"})
        self.assertIn("rpcrest.testkit.AllTypes", doc["components"]["schemas"])
        self.assertIn(("POST", "/v1/example/echo"), operations(doc))
        self.assert_valid(doc)


class ConsoleBrowserTest(unittest.TestCase):
    def test_try_it_out(self):
        """Chromium loads /docs, sees MyService and Echo, and Try it out ->
        Execute shows the echoed value."""
        self.assertTrue(os.path.exists(CHROMIUM), "no %s (scripts/deps.sh installs chromium)"
                        % CHROMIUM)
        r = Rpcrest()
        self.addCleanup(r.cleanup)
        r.start()
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        if os.path.exists(SCREENSHOT):
            os.unlink(SCREENSHOT)
        value = "hello from the API console"
        out = node(CONSOLE, "http://127.0.0.1:%d" % r.http_port, SCREENSHOT, value)
        lines = out.stdout.strip().splitlines()
        self.assertTrue(lines, out.stderr)
        seen = json.loads(lines[-1])
        self.assertEqual(out.returncode, 0, "%s\n%s" % (seen, out.stderr))
        self.assertEqual(seen["title"], "rpcrest API console")
        self.assertEqual(seen["tag"], "MyService")
        self.assertEqual(seen["operation"], "POST /v1/example/echo Returns the request unchanged.")
        self.assertEqual(seen["status"], "200")
        self.assertEqual(json.loads(seen["body"]), {"value": value})
        self.assertEqual(seen["requests"], [])  # the page loaded nothing from elsewhere
        with open(SCREENSHOT, "rb") as f:
            png = f.read()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 20000)
        print("\nscreenshot: %s (%d bytes)" % (SCREENSHOT, len(png)))


if __name__ == "__main__":
    unittest.main()
