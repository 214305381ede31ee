// Tests for src/engine/cpu/threadpool.c: every task runs exactly once on a
// valid thread, across many back-to-back jobs and after the workers sleep.
#include "testutil.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "engine/cpu/threadpool.h"

enum { MAX_TASKS = 1000 };

typedef struct {
    _Atomic int runs[MAX_TASKS];
    _Atomic int bad_thread;
    int n_threads;
} job_state;

static void count_task(void *arg, int task, int thread)
{
    job_state *s = arg;
    atomic_fetch_add(&s->runs[task], 1);
    if (thread < 0 || thread >= s->n_threads) atomic_store(&s->bad_thread, 1);
}

static void run_and_check(thread_pool *pool, int n_tasks)
{
    static job_state s;
    memset(&s, 0, sizeof s);
    s.n_threads = thread_pool_size(pool);
    thread_pool_run(pool, count_task, &s, n_tasks);
    for (int i = 0; i < n_tasks; i++) assert_int_equal(atomic_load(&s.runs[i]), 1);
    for (int i = n_tasks; i < MAX_TASKS; i++) assert_int_equal(atomic_load(&s.runs[i]), 0);
    assert_int_equal(atomic_load(&s.bad_thread), 0);
}

static void test_pool_sizes(void **state)
{
    (void)state;
    for (int n = 1; n <= 4; n++) {
        thread_pool *pool = thread_pool_init(n);
        assert_non_null(pool);
        assert_int_equal(thread_pool_size(pool), n);
        const int counts[] = {0, 1, 2, 3, 7, 64, 999};
        for (int rep = 0; rep < 50; rep++)
            for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) run_and_check(pool, counts[i]);
        thread_pool_free(pool);
    }
    thread_pool *pool = thread_pool_init(0);
    assert_non_null(pool);
    assert_true(thread_pool_size(pool) >= 1);
    run_and_check(pool, 100);
    thread_pool_free(pool);
}

static void test_pool_after_sleep(void **state)
{
    (void)state;
    thread_pool *pool = thread_pool_init(3);
    run_and_check(pool, 10);
    // Long enough for the workers to stop spinning and block.
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    run_and_check(pool, 10);
    thread_pool_free(pool);
}

static void test_null_pool_and_scratch(void **state)
{
    (void)state;
    run_and_check(NULL, 5);
    assert_int_equal(thread_pool_size(NULL), 1);
    assert_null(thread_pool_scratch(NULL, 10));
    thread_pool *pool = thread_pool_init(2);
    char *a = thread_pool_scratch(pool, 100);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 64, 0);
    memset(a, 1, 100);
    assert_ptr_equal(thread_pool_scratch(pool, 50), a); // no reallocation when it fits
    char *b = thread_pool_scratch(pool, 1 << 20);
    assert_non_null(b);
    memset(b, 2, 1 << 20);
    thread_pool_free(pool);
    thread_pool_free(NULL);
}

// Jobs of alternating sizes back to back, more threads than cores here: a
// worker that looks late at a finished small job must not take a task of it
// against the next big job's n_tasks (this hung the engine before the
// ticket was closed first).
typedef struct {
    int n;
    _Atomic int bad;
    _Atomic int count;
} sized_job;

static void sized_task(void *arg, int task, int thread)
{
    (void)thread;
    sized_job *j = arg;
    if (task < 0 || task >= j->n) atomic_store(&j->bad, 1);
    atomic_fetch_add(&j->count, 1);
}

static void test_pool_alternating_jobs(void **state)
{
    (void)state;
    alarm(120); // a regression hangs: fail in minutes, not at CTest's timeout
    thread_pool *pool = thread_pool_init(3);
    static sized_job jobs[2];
    for (int k = 0; k < 300000; k++) {
        sized_job *j = &jobs[k & 1];
        j->n = (k & 1) ? 64 : 2;
        atomic_store(&j->count, 0);
        thread_pool_run(pool, sized_task, j, j->n);
        assert_int_equal(atomic_load(&j->bad), 0);
        assert_int_equal(atomic_load(&j->count), j->n);
    }
    thread_pool_free(pool);
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_sizes),
        cmocka_unit_test(test_pool_after_sleep),
        cmocka_unit_test(test_null_pool_and_scratch),
        cmocka_unit_test(test_pool_alternating_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
