/*
 * gw_call.c -- freeing what calls give, and building a streaming call's
 * request messages.
 */
#include "gw_call.h"

#include <stdlib.h>

void gw_metadata_free(gw_metadata *md, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(md[i].key);
        free(md[i].value);
    }
    free(md);
}

void gw_upstream_result_free(gw_upstream_result *r)
{
    if (!r)
        return;
    free(r->reply_block);
    free(r->message);
    gw_metadata_free(r->initial, r->n_initial);
    gw_metadata_free(r->trailing, r->n_trailing);
    free(r);
}

int gw_request_messages_end(gw_request_messages *m)
{
    if (m->data.oom)
        return -1;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        size_t *grown = realloc(m->ends, cap * sizeof(*grown));
        if (!grown)
            return -1;
        m->ends = grown;
        m->cap = cap;
    }
    m->ends[m->n++] = m->data.len;
    return 0;
}

void gw_request_messages_free(gw_request_messages *m)
{
    gw_buf_free(&m->data);
    free(m->ends);
    *m = (gw_request_messages)GW_REQUEST_MESSAGES_INIT;
}
