/*
 * check.h — the assertions of the C test programs: EXPECT counts a passed or failed check and
 * says where a failure is; EXPECT_STATUS also asks a failing call for a non-empty message.
 * Each program prints "N passed, M failed" from `passed` and `failed` at its end. The counts
 * are atomic: tests that start threads check inside them too (read them after the joins).
 */
#ifndef SMALLNET_TEST_CHECK_H
#define SMALLNET_TEST_CHECK_H

#include <smallnet.h>
#include <stdio.h>
#include <string.h>

static int passed = 0, failed = 0;

#define EXPECT(cond, ...)                                                          \
    do {                                                                           \
        if (cond) {                                                                \
            __atomic_fetch_add(&passed, 1, __ATOMIC_RELAXED);                      \
        } else {                                                                   \
            __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED);                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                   \
            fprintf(stderr, __VA_ARGS__);                                          \
            fprintf(stderr, "\n");                                                 \
        }                                                                          \
    } while (0)

/* The call must return `want` and leave a non-empty message (for errors). */
#define EXPECT_STATUS(call, want)                                                              \
    do {                                                                                       \
        sn_status got_ = (call);                                                               \
        EXPECT(got_ == (want), "%s returned %d (%s: %s), expected %d", #call, got_,            \
               sn_status_string(got_), sn_last_error(), (want));                               \
        if ((want) != SN_OK)                                                                   \
            EXPECT(strlen(sn_last_error()) > 0, "%s left no error message", #call);            \
    } while (0)

#define OK(call) EXPECT_STATUS(call, SN_OK)

#endif
