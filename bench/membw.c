// Read bandwidth with T threads over a buffer much larger than the caches:
// the roofline's denominator. Prints GB/s (best of 5 passes).
//   membw THREADS [MiB]
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t *buf;
static size_t n_words;
static int n_threads;
static volatile uint64_t sink;

static void *reader(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg, per = n_words / (size_t)n_threads;
    const uint64_t *p = buf + t * per;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= per; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    sink += s0 + s1 + s2 + s3;
    return NULL;
}

int main(int argc, char **argv)
{
    n_threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    n_words = mib * 1024 * 1024 / 8;
    buf = malloc(n_words * 8);
    memset(buf, 1, n_words * 8);
    double best = 0;
    for (int r = 0; r < 5; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pthread_t th[64];
        for (int t = 0; t < n_threads; t++)
            pthread_create(&th[t], NULL, reader, (void *)(uintptr_t)t);
        for (int t = 0; t < n_threads; t++)
            pthread_join(th[t], NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        double gbs = (double)(n_words * 8) / s / 1e9;
        if (gbs > best) best = gbs;
    }
    printf("%.2f\n", best);
    free(buf);
    return 0;
}
