/*
 * test_frame.c - the incremental frame reader: any split of the input,
 * many frames in one feed, the length bounds (OMTP_EFRAME before any body
 * byte is buffered), and the zero-copy space/commit API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/omtp_errors.h"
#include "proto/omtp_frame.h"

/* Appends a frame whose body is `n` bytes of value `fill`. */
static size_t put_frame(uint8_t *out, size_t n, uint8_t fill)
{
    uint32_t len = (uint32_t)n + 4;
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    memset(out + 4, fill, n);
    return n + 4;
}

static const size_t sizes[] = {0, 1, 2, 3, 100, 255, 256, 4000, 70000, 1};

static size_t build_stream(uint8_t *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        n += put_frame(buf + n, sizes[i], (uint8_t)(i + 1));
    return n;
}

static void drain_and_check(omtp_frame_reader *r, size_t *got)
{
    const uint8_t *f;
    size_t len;
    int rc;
    while ((rc = omtp_frame_reader_next(r, &f, &len)) == 1) {
        assert_true(*got < sizeof(sizes) / sizeof(sizes[0]));
        assert_int_equal(len, sizes[*got]);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(f[k], (uint8_t)(*got + 1));
        (*got)++;
    }
    assert_int_equal(rc, 0);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    static uint8_t buf[100000];
    size_t n = build_stream(buf);
    omtp_frame_reader r;
    omtp_frame_reader_init(&r, 0);
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(omtp_frame_reader_feed(&r, buf + i, 1), OMTP_OK);
        drain_and_check(&r, &got);
    }
    assert_int_equal(got, sizeof(sizes) / sizeof(sizes[0]));
    assert_int_equal(omtp_frame_reader_pending(&r), 0);
    omtp_frame_reader_free(&r);
}

static void test_many_in_one_feed_and_splits(void **state)
{
    (void)state;
    static uint8_t buf[100000];
    size_t n = build_stream(buf);
    const size_t chunks[] = {n, 3, 5, 7, 4096, 65536};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        omtp_frame_reader r;
        omtp_frame_reader_init(&r, 0);
        size_t got = 0;
        for (size_t i = 0; i < n; i += chunks[c]) {
            size_t k = n - i < chunks[c] ? n - i : chunks[c];
            assert_int_equal(omtp_frame_reader_feed(&r, buf + i, k), OMTP_OK);
            drain_and_check(&r, &got);
        }
        assert_int_equal(got, sizeof(sizes) / sizeof(sizes[0]));
        omtp_frame_reader_free(&r);
    }
}

static void test_space_commit(void **state)
{
    (void)state;
    static uint8_t buf[100000];
    size_t n = build_stream(buf);
    omtp_frame_reader r;
    omtp_frame_reader_init(&r, 0);
    size_t got = 0, i = 0;
    while (i < n) {
        uint8_t *p;
        size_t room;
        assert_int_equal(omtp_frame_reader_space(&r, 1000, &p, &room), OMTP_OK);
        assert_true(room >= 1000);
        size_t k = n - i < 1000 ? n - i : 1000;
        memcpy(p, buf + i, k);
        omtp_frame_reader_commit(&r, k);
        i += k;
        drain_and_check(&r, &got);
    }
    assert_int_equal(got, sizeof(sizes) / sizeof(sizes[0]));
    omtp_frame_reader_free(&r);
}

static void test_bad_lengths(void **state)
{
    (void)state;
    for (uint32_t len = 0; len < 4; len++) {
        omtp_frame_reader r;
        omtp_frame_reader_init(&r, 0);
        uint8_t h[4] = {0, 0, 0, (uint8_t)len};
        const uint8_t *f;
        size_t fl;
        omtp_frame_reader_feed(&r, h, 3);
        assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), 0);
        omtp_frame_reader_feed(&r, h + 3, 1);
        assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), OMTP_EFRAME);
        assert_int_equal(r.bad_len, len);
        omtp_frame_reader_free(&r);
    }
    /* above max_frame: refused from the 4 length bytes alone */
    static const uint32_t maxes[] = {100, OMTP_DEFAULT_MAX_FRAME};
    for (size_t m = 0; m < 2; m++) {
        omtp_frame_reader r;
        omtp_frame_reader_init(&r, maxes[m]);
        uint32_t len = maxes[m] + 1;
        uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                        (uint8_t)len};
        const uint8_t *f;
        size_t fl;
        omtp_frame_reader_feed(&r, h, 4);
        assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), OMTP_EFRAME);
        assert_int_equal(r.bad_len, len);
        omtp_frame_reader_free(&r);
    }
    /* 0xffffffff */
    omtp_frame_reader r;
    omtp_frame_reader_init(&r, 0);
    omtp_frame_reader_feed(&r, "\xff\xff\xff\xff", 4);
    const uint8_t *f;
    size_t fl;
    assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), OMTP_EFRAME);
    omtp_frame_reader_free(&r);
    /* exactly max_frame is fine; a good frame before a bad one is returned */
    omtp_frame_reader_init(&r, 100);
    static uint8_t buf[300];
    size_t n = put_frame(buf, 96, 7);
    n += put_frame(buf + n, 97, 8);
    omtp_frame_reader_feed(&r, buf, n);
    assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), 1);
    assert_int_equal(fl, 96);
    assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), OMTP_EFRAME);
    assert_int_equal(r.bad_len, 101);
    omtp_frame_reader_free(&r);
}

static void test_empty_frame_and_pending(void **state)
{
    (void)state;
    omtp_frame_reader r;
    omtp_frame_reader_init(&r, 0);
    assert_int_equal(r.max_frame, OMTP_DEFAULT_MAX_FRAME);
    omtp_frame_reader_feed(&r, "\x00\x00\x00\x04\x00\x00\x00\x06x", 9);
    const uint8_t *f;
    size_t fl;
    assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), 1);
    assert_int_equal(fl, 0);
    assert_int_equal(omtp_frame_reader_pending(&r), 5);
    assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), 0);
    omtp_frame_reader_feed(&r, "y", 1);
    assert_int_equal(omtp_frame_reader_next(&r, &f, &fl), 1);
    assert_int_equal(fl, 2);
    assert_memory_equal(f, "xy", 2);
    assert_int_equal(omtp_frame_reader_pending(&r), 0);
    assert_int_equal(omtp_frame_reader_feed(&r, "", 0), OMTP_OK);
    omtp_frame_reader_free(&r);
    omtp_frame_reader_free(&r); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_many_in_one_feed_and_splits),
        cmocka_unit_test(test_space_commit),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_empty_frame_and_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
