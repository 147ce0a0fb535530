/*
 * canary.c — one deliberate bug per sanitizer, to show that a report fails the run: before the
 * real suites, scripts/test-sanitize.sh runs each canary and requires a non-zero exit and the
 * sanitizer's report, from a C program and from Python through ctypes (the same LD_PRELOAD
 * recipe the Python tests run under).
 *
 *   canary use-after-free   reads freed heap memory (AddressSanitizer)
 *   canary race             two threads increment one counter without a lock (ThreadSanitizer)
 *
 * Built as a program (-DCANARY_MAIN) and as a shared library for ctypes, where Python threads
 * call canary_bump() at once (ctypes releases the GIL), so the race is between threads that
 * Python started.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int canary_use_after_free(void) {
    int *volatile p = malloc(16 * sizeof(int));
    p[3] = 42;
    free(p);
    return p[3];
}

static long counter;

static int arrived; /* threads inside canary_bump, counted with relaxed atomics (no ordering) */

/* Adds n to the counter, one unguarded increment at a time, once the other thread is inside too
 * (for at most a second): with both calls under way, nothing orders one thread's increments
 * before the other's (in Python, the GIL orders calls that do not overlap), however loaded the
 * machine. Relaxed atomics are no synchronisation to ThreadSanitizer. */
long canary_bump(int n) {
    __atomic_fetch_add(&arrived, 1, __ATOMIC_RELAXED);
    for (int waited = 0; waited < 1000 && __atomic_load_n(&arrived, __ATOMIC_RELAXED) < 2; waited++) usleep(1000);
    for (int i = 0; i < n; i++) counter++;
    usleep(1000);
    return counter;
}

static void *increment(void *arg) {
    (void)arg;
    canary_bump(100000);
    return NULL;
}

long canary_race(void) {
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) pthread_create(&threads[t], NULL, increment, NULL);
    for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
    return counter;
}

#ifdef CANARY_MAIN
int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "use-after-free") == 0) printf("%d\n", canary_use_after_free());
    else if (argc == 2 && strcmp(argv[1], "race") == 0) printf("%ld\n", canary_race());
    else {
        fprintf(stderr, "usage: canary use-after-free|race\n");
        return 2;
    }
    return 0;
}
#endif
