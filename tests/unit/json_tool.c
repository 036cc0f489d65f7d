/*
 * json_tool.c -- the gateway's JSON codec as a filter, for the
 * differential test against Python protobuf (tests/e2e/test_json_differential.py).
 *
 *   json_tool SET.pb MESSAGE json2pb|pb2json [ignore-unknown] [emit-defaults] [proto-names]
 *
 * Reads records from stdin, one a line, each the base64 of a JSON text
 * (json2pb) or of wire bytes (pb2json), and writes one line per record:
 * "ok BASE64" with the base64 of the result, or "error REASON".  JSON text
 * is read with gw_json_loadb, as the gateway reads request bodies.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/gw_base64.h"
#include "../../gateway/gw_buf.h"
#include "../../gateway/gw_json.h"
#include "../../gateway/gw_schema.h"

typedef struct tool {
    const gw_message *m;
    int to_proto;
    gw_json_options opt;
} tool;

/* JSON text -> wire bytes; returns 0 or -1 with err set. */
static int json2pb(const tool *t, const gw_buf *in, gw_buf *out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *json = gw_json_loadb((const char *)in->data, in->len, JSON_DECODE_ANY, &jerr);
    if (!json) {
        snprintf(err, errlen, "malformed JSON: %s", jerr.text);
        return -1;
    }
    int rc = gw_json_to_proto(t->m, json, &t->opt, out, err, errlen);
    json_decref(json);
    return rc;
}

/* One input line (base64, newline stripped): prints its result line. */
static void convert(const tool *t, const char *line, size_t len)
{
    gw_buf in = GW_BUF_INIT, out = GW_BUF_INIT, encoded = GW_BUF_INIT;
    char err[512] = "";
    int rc;
    if (gw_base64_decode(&in, line, len) != GW_OK)
        rc = (snprintf(err, sizeof(err), "input is not base64"), -1);
    else if (t->to_proto)
        rc = json2pb(t, &in, &out, err, sizeof(err));
    else
        rc = gw_proto_to_json(t->m, in.data ? in.data : (const uint8_t *)"", in.len, &t->opt,
                              &out, err, sizeof(err));
    if (rc == 0) {
        gw_base64_encode(&encoded, out.data, out.len);
        printf("ok %.*s\n", (int)encoded.len, encoded.data ? (char *)encoded.data : "");
    } else {
        printf("error %s\n", err);
    }
    gw_buf_free(&in);
    gw_buf_free(&out);
    gw_buf_free(&encoded);
}

static int parse_args(int argc, char **argv, tool *t)
{
    if (argc < 4 || (strcmp(argv[3], "json2pb") != 0 && strcmp(argv[3], "pb2json") != 0))
        return -1;
    t->to_proto = strcmp(argv[3], "json2pb") == 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "ignore-unknown") == 0)
            t->opt.ignore_unknown_fields = 1;
        else if (strcmp(argv[i], "emit-defaults") == 0)
            t->opt.emit_defaults = 1;
        else if (strcmp(argv[i], "proto-names") == 0)
            t->opt.proto_names = 1;
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    tool t = {0};
    char err[512];
    if (parse_args(argc, argv, &t) < 0) {
        fprintf(stderr, "usage: %s SET.pb MESSAGE json2pb|pb2json [ignore-unknown] "
                        "[emit-defaults] [proto-names]\n", argv[0]);
        return 2;
    }
    const char *paths[] = {argv[1]};
    gw_schema *schema = gw_schema_load(paths, 1, err, sizeof(err));
    if (!schema) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    t.m = gw_schema_message(schema, argv[2]);
    if (!t.m) {
        fprintf(stderr, "%s: no message %s\n", argv[1], argv[2]);
        gw_schema_free(schema);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        convert(&t, line, (size_t)n);
    }
    free(line);
    gw_schema_free(schema);
    return fflush(stdout) == 0 ? 0 : 1;
}
