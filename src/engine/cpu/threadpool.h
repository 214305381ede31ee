#ifndef RS_ENGINE_CPU_THREADPOOL_H
#define RS_ENGINE_CPU_THREADPOOL_H

// A fixed pool of worker threads sized to the cores; work is split into
// n_tasks indices run as fn(arg, task, thread). No allocation per call.
typedef struct thread_pool thread_pool;

thread_pool *thread_pool_init(int n_threads); // n_threads <= 0: one per available core
void thread_pool_free(thread_pool *pool);
int thread_pool_size(const thread_pool *pool);
void thread_pool_run(thread_pool *pool, void (*fn)(void *arg, int task, int thread), void *arg,
                     int n_tasks);

#endif
