#ifndef RS_ENGINE_CPU_THREADPOOL_H
#define RS_ENGINE_CPU_THREADPOOL_H

#include <stddef.h>

// A fixed pool of worker threads sized to the cores; work is split into
// n_tasks indices run as fn(arg, task, thread). No allocation per call.
// The calling thread takes part as thread 0; thread indices are below
// thread_pool_size(pool). A NULL pool runs everything on the caller.
typedef struct thread_pool thread_pool;

thread_pool *thread_pool_init(int n_threads); // n_threads <= 0: one per available core
void thread_pool_free(thread_pool *pool);
int thread_pool_size(const thread_pool *pool);
void thread_pool_run(thread_pool *pool, void (*fn)(void *arg, int task, int thread), void *arg,
                     int n_tasks);

// Scratch memory owned by the pool, 64-byte aligned, valid until the next
// call with a larger size or thread_pool_free. It grows on demand and is
// kept, so a steady token loop allocates nothing. NULL on out of memory or
// for a NULL pool. Not thread-safe: call it from the thread that runs jobs.
void *thread_pool_scratch(thread_pool *pool, size_t bytes);

#endif
