/*
 * test_rp_grpc_status.c -- common/rp_grpc_status.c: every gRPC status code
 * by its name, checked against gRPC core's own numbering, and the name of a
 * code gRPC does not define.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <grpc/status.h>

#include "rp_grpc_status.h"

static void test_every_code(void **state)
{
    (void)state;
    static const struct {
        grpc_status_code code;
        const char *name;
    } codes[] = {
#define CODE(x) {GRPC_STATUS_##x, #x}
        CODE(OK), CODE(CANCELLED), CODE(UNKNOWN), CODE(INVALID_ARGUMENT),
        CODE(DEADLINE_EXCEEDED), CODE(NOT_FOUND), CODE(ALREADY_EXISTS),
        CODE(PERMISSION_DENIED), CODE(RESOURCE_EXHAUSTED), CODE(FAILED_PRECONDITION),
        CODE(ABORTED), CODE(OUT_OF_RANGE), CODE(UNIMPLEMENTED), CODE(INTERNAL),
        CODE(UNAVAILABLE), CODE(DATA_LOSS), CODE(UNAUTHENTICATED),
#undef CODE
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        assert_string_equal(rp_grpc_code_name(codes[i].code), codes[i].name);
}

static void test_codes_grpc_does_not_define(void **state)
{
    (void)state;
    assert_string_equal(rp_grpc_code_name(17), "UNKNOWN");
    assert_string_equal(rp_grpc_code_name(-1), "UNKNOWN");
    assert_string_equal(rp_grpc_code_name(1000), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code),
        cmocka_unit_test(test_codes_grpc_does_not_define),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
