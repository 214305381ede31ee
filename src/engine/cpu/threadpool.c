#include "engine/cpu/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

// The calling thread is worker 0 and the pool owns n-1 more. A call to
// thread_pool_run publishes the job by bumping `generation`; workers take
// task indices from one atomic ticket until it runs past n_tasks, so uneven
// tasks balance themselves. The call returns when every task is done, not
// when every worker has looked: on a machine with more runnable threads than
// cores a worker the scheduler has parked would otherwise cost a time slice
// per call, though the caller ran all the tasks itself. The ticket carries
// the generation in its high half, so a worker that wakes late can only take
// tasks of the job still running. Between calls a worker spins a little (a decode
// step issues hundreds of matmuls back to back, and a wake-up through the
// kernel costs more than a small matmul), then yields its core a number of
// times, then sleeps on a condition variable, so an idle engine uses no CPU.
// The yields matter on a machine with more runnable threads than cores:
// the thread we wait for may be the one waiting for our core.

enum {
    POOL_SPIN_ITERS = 1000, // pause-polling before yielding (some microseconds)
    POOL_YIELDS = 200,      // sched_yield polling before sleeping
};

struct thread_pool {
    int n_threads; // including the caller
    pthread_t *threads; // (n_threads - 1) workers
    pthread_mutex_t mu;
    pthread_cond_t cv_work; // generation changed or quit
    pthread_cond_t cv_done; // done reached n_tasks

    // The job of the current generation. fn, arg and n_tasks change only
    // between jobs, when every task of the last one is done.
    void (*fn)(void *arg, int task, int thread);
    void *arg;
    _Atomic int n_tasks; // read by late workers while the next job is set up
    _Atomic uint64_t ticket; // (generation << 32) | next task index
    _Atomic int done;        // tasks finished in this generation
    _Atomic uint64_t generation;
    _Atomic bool quit;

    // Scratch memory handed to kernels (thread_pool_scratch), grown on demand.
    void *scratch;
    size_t scratch_bytes;
};

typedef struct {
    thread_pool *pool;
    int index;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Takes and runs tasks of generation gen until none is left (or a later job
// has started, which the caller of that job will see done).
static void run_tasks(thread_pool *pool, uint64_t gen, int thread)
{
    const uint32_t tag = (uint32_t)gen;
    uint64_t t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(t >> 32) != tag) return;
        // n_tasks may already belong to the next job here (its caller set it
        // up while we looked at an exhausted ticket of ours). Then the
        // caller had closed our ticket before writing n_tasks (release; we
        // acquire), so the exchange below sees the closed ticket and fails.
        if ((uint32_t)t >= (uint32_t)atomic_load_explicit(&pool->n_tasks, memory_order_acquire))
            return;
        if (!atomic_compare_exchange_weak_explicit(&pool->ticket, &t, t + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        // Holding a task of this job keeps it from finishing, so fn, arg
        // and n_tasks are still this job's.
        const int n_tasks = atomic_load_explicit(&pool->n_tasks, memory_order_relaxed);
        pool->fn(pool->arg, (int)(uint32_t)t, thread);
        if (atomic_fetch_add_explicit(&pool->done, 1, memory_order_acq_rel) + 1 == n_tasks &&
            thread != 0) {
            pthread_mutex_lock(&pool->mu);
            pthread_cond_signal(&pool->cv_done);
            pthread_mutex_unlock(&pool->mu);
        }
        t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
    }
}

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    thread_pool *pool = wa->pool;
    const int index = wa->index;
    free(wa);
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int i = 0; gen == seen && i < POOL_SPIN_ITERS + POOL_YIELDS; i++) {
            if (i < POOL_SPIN_ITERS)
                cpu_relax();
            else
                sched_yield();
            gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&pool->mu);
            while ((gen = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->quit))
                pthread_cond_wait(&pool->cv_work, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->quit)) return NULL;
        seen = gen;
        run_tasks(pool, gen, index);
    }
}

static int available_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

thread_pool *thread_pool_init(int n_threads)
{
    if (n_threads <= 0) n_threads = available_cores();
    if (n_threads > 256) n_threads = 256;
    thread_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv_work, NULL);
    pthread_cond_init(&pool->cv_done, NULL);
    if (n_threads > 1) {
        pool->threads = calloc((size_t)n_threads - 1, sizeof *pool->threads);
        if (!pool->threads) {
            thread_pool_free(pool);
            return NULL;
        }
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->pool = pool;
            wa->index = i;
        }
        if (!wa || pthread_create(&pool->threads[i - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            pool->n_threads = i; // the workers started so far are joined by free
            thread_pool_free(pool);
            return NULL;
        }
    }
    return pool;
}

void thread_pool_free(thread_pool *pool)
{
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->quit, true);
    pthread_cond_broadcast(&pool->cv_work);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n_threads && pool->threads; i++) pthread_join(pool->threads[i - 1], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv_work);
    pthread_cond_destroy(&pool->cv_done);
    free(pool->threads);
    free(pool->scratch);
    free(pool);
}

int thread_pool_size(const thread_pool *pool)
{
    return pool ? pool->n_threads : 1;
}

void thread_pool_run(thread_pool *pool, void (*fn)(void *arg, int task, int thread), void *arg,
                     int n_tasks)
{
    if (n_tasks <= 0) return;
    if (!pool || pool->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    const uint64_t gen = atomic_load_explicit(&pool->generation, memory_order_relaxed) + 1;
    // Close the last job's ticket first: a late worker that still holds its
    // exhausted value must not claim "one more" task against the new
    // n_tasks (that task would run past the last job and count in this
    // one's done, which then never equals n_tasks).
    atomic_store_explicit(&pool->ticket, ((uint64_t)(uint32_t)gen << 32) | UINT32_MAX,
                          memory_order_relaxed);
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->n_tasks, n_tasks, memory_order_release);
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->ticket, (uint64_t)(uint32_t)gen << 32, memory_order_release);
    pthread_mutex_lock(&pool->mu);
    atomic_store_explicit(&pool->generation, gen, memory_order_release);
    pthread_cond_broadcast(&pool->cv_work);
    pthread_mutex_unlock(&pool->mu);

    run_tasks(pool, gen, 0);

    for (int i = 0; atomic_load_explicit(&pool->done, memory_order_acquire) != n_tasks; i++) {
        if (i < POOL_SPIN_ITERS) {
            cpu_relax();
            continue;
        }
        if (i < POOL_SPIN_ITERS + POOL_YIELDS) {
            sched_yield();
            continue;
        }
        pthread_mutex_lock(&pool->mu);
        while (atomic_load(&pool->done) != n_tasks) pthread_cond_wait(&pool->cv_done, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
}

void *thread_pool_scratch(thread_pool *pool, size_t bytes)
{
    if (!pool) return NULL;
    if (bytes > pool->scratch_bytes) {
        // 64-byte aligned so SIMD kernels may use aligned loads.
        size_t rounded = (bytes + 63) & ~(size_t)63;
        void *p = NULL;
        if (posix_memalign(&p, 64, rounded) != 0) return NULL;
        free(pool->scratch);
        pool->scratch = p;
        pool->scratch_bytes = rounded;
    }
    return pool->scratch;
}
