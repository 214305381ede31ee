#ifndef RS_TESTS_TESTUTIL_H
#define RS_TESTS_TESTUTIL_H

// Shared helpers for the cmocka tests. Include after <cmocka.h>'s
// prerequisites: stdarg.h, stddef.h, stdint.h, setjmp.h.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

// The shared test data (../shared/testdata by default, RIGHTSIZE_TESTDATA
// overrides). Tests that need it call TESTDATA_PATH(buf, "models/x.gguf"):
// where the data is absent they skip, except under CI=true where its absence
// is a failure.
static inline const char *testdata_dir(void)
{
    const char *d = getenv("RIGHTSIZE_TESTDATA");
    return d && *d ? d : "../shared/testdata";
}

static inline int testdata_present(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", testdata_dir(), rel);
    struct stat st;
    return stat(path, &st) == 0;
}

#define TESTDATA_PATH(buf, rel)                                                                    \
    do {                                                                                           \
        snprintf((buf), sizeof(buf), "%s/%s", testdata_dir(), (rel));                             \
        if (!testdata_present(rel)) {                                                              \
            const char *ci_ = getenv("CI");                                                        \
            if (ci_ && strcmp(ci_, "true") == 0)                                                   \
                fail_msg("testdata missing under CI: %s", (buf));                                  \
            fprintf(stderr, "SKIP: testdata not found: %s (set RIGHTSIZE_TESTDATA)\n", (buf));     \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static char test_tmpdir_path[256];

static inline int test_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

// Removes the scratch directory when the test process exits, so test runs
// leave nothing behind in /tmp.
static inline void test_tmpdir_cleanup(void)
{
    if (test_tmpdir_path[0]) nftw(test_tmpdir_path, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

// A scratch directory unique to this test process, created on first use and
// removed at exit.
static inline const char *test_tmpdir(void)
{
    char *dir = test_tmpdir_path;
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof test_tmpdir_path, "%s/rightsize-test-XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(test_tmpdir_cleanup);
    }
    return dir;
}

// The whole file, NUL-terminated, its size in *n (when n; 0 on failure):
// NULL when it cannot be opened or read. The caller frees it.
static inline char *test_slurp(const char *path, size_t *n)
{
    if (n) *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = sz >= 0 ? malloc((size_t)sz + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[sz] = '\0';
    if (n) *n = (size_t)sz;
    return buf;
}

// Writes n bytes to dir/name and returns the full path in buf.
static inline const char *test_write_file(char *buf, size_t bufsz, const char *name,
                                          const void *data, size_t n)
{
    snprintf(buf, bufsz, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(buf, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(buf);
        abort();
    }
    fclose(f);
    return buf;
}

#endif
