// CPU memory bandwidth, measured the way decoding uses memory: every
// thread streams through its share of a buffer far larger than the caches,
// reading each byte once. The best of a few runs is reported (the others
// lost time to neighbours, not to the memory system).
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hw/hw.h"
#include "util/clock.h"

typedef struct measure_job {
    const uint64_t *data; // (n) this thread's slice of the buffer
    size_t n;
    uint64_t sum; // written so the reads cannot be optimized away
    int init;     // first pass: write the slice (first touch places pages near the thread)
} measure_job;

static void *measure_thread(void *arg)
{
    measure_job *job = arg;
    if (job->init) {
        uint64_t *w = (uint64_t *)job->data;
        for (size_t i = 0; i < job->n; i++)
            w[i] = i * 0x9E3779B97F4A7C15ull;
        return NULL;
    }
    // Eight independent accumulators keep several loads in flight; the
    // hot loop is here.
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    const uint64_t *p = job->data;
    size_t i = 0;
    for (; i + 8 <= job->n; i += 8) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
        s4 += p[i + 4];
        s5 += p[i + 5];
        s6 += p[i + 6];
        s7 += p[i + 7];
    }
    for (; i < job->n; i++)
        s0 += p[i];
    job->sum = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
    return NULL;
}

// Runs every job once on its own thread (the first on this one).
static rs_status run_jobs(measure_job *jobs, int threads, rs_error *err)
{
    pthread_t tid[256];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        int rc = pthread_create(&tid[t], NULL, measure_thread, &jobs[t]);
        if (rc != 0) {
            for (int k = 1; k <= started; k++)
                pthread_join(tid[k], NULL);
            return rs_fail(err, RS_ERR_RUNTIME, "bandwidth measurement: pthread_create: %s",
                           strerror(rc));
        }
        started = t;
    }
    measure_thread(&jobs[0]);
    for (int t = 1; t < threads; t++)
        pthread_join(tid[t], NULL);
    return RS_OK;
}

rs_status hw_measure_cpu_bandwidth(int threads, uint64_t bytes, int runs, double *gbs,
                                   rs_error *err)
{
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    if (runs < 1) runs = 1;
    if (bytes < (uint64_t)threads * 4096 || bytes > (UINT64_C(1) << 40))
        return rs_fail(err, RS_ERR_INPUT,
                       "bandwidth measurement: buffer of %llu bytes is out of range",
                       (unsigned long long)bytes);
    size_t n = (size_t)(bytes / sizeof(uint64_t)); // words in the buffer
    uint64_t *buf = malloc(n * sizeof(uint64_t));  // (n) the streamed buffer
    if (!buf)
        return rs_fail(err, RS_ERR_RUNTIME, "bandwidth measurement: cannot allocate %llu bytes",
                       (unsigned long long)bytes);
    measure_job jobs[256];
    size_t per = n / (size_t)threads;
    for (int t = 0; t < threads; t++) {
        jobs[t].data = buf + per * (size_t)t;
        jobs[t].n = t == threads - 1 ? n - per * (size_t)t : per;
        jobs[t].sum = 0;
        jobs[t].init = 1;
    }
    rs_status st = run_jobs(jobs, threads, err);
    double best = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < runs && st == RS_OK; r++) {
        for (int t = 0; t < threads; t++)
            jobs[t].init = 0;
        double t0 = clock_now_s();
        st = run_jobs(jobs, threads, err);
        double dt = clock_now_s() - t0;
        for (int t = 0; t < threads; t++)
            sink += jobs[t].sum;
        double v = dt > 0 ? (double)(n * sizeof(uint64_t)) / dt / 1e9 : 0;
        if (v > best) best = v;
    }
    (void)sink;
    free(buf);
    if (st == RS_OK) *gbs = best;
    return st;
}
