/*
 * testjson.h - for the tests that link jansson (testutil does not: the
 * aarch64 kernels-only build has no jansson).
 */
#ifndef TB_TESTJSON_H
#define TB_TESTJSON_H

#include <jansson.h>

#include "testutil.h"

/* The JSON document at path, or the test fails naming the file and why. */
static inline json_t *tb_test_json_load(const char *path)
{
    json_error_t e;
    json_t *doc = json_load_file(path, 0, &e);
    if (!doc)
        fail_msg("%s: %s (line %d)", path, e.text, e.line);
    return doc;
}

#endif
