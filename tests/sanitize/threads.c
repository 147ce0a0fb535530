/*
 * threads.c — the library from several threads at once, written for the sanitizers: the
 * threaded scenarios of python/tests/test_hardening.py and test_training.py as a plain C
 * program, so that ThreadSanitizer sees every access on both sides of the boundary.
 *
 *   1. one model, four threads: three predict, one trains; the losers get SN_ERR_BAD_STATE
 *   2. two threads saving two models to one path while the main thread loads it
 *   3. two models trained at once, two kernel threads each: the same history as alone
 *   4. training while other threads change the thread count and fail calls of their own
 *   5. two models trained at once on one dataset while another thread reads it: datasets
 *      may be read by any number of calls at once, so all run and train as they do alone
 *
 * Usage: threads [DIR]   (DIR: an empty folder for the checkpoints; default: a new temp dir)
 */
#include <smallnet.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic int passed = 0, failed = 0; /* counted from several threads */

#define EXPECT(cond, ...)                                                          \
    do {                                                                           \
        if (cond) {                                                                \
            passed++;                                                              \
        } else {                                                                   \
            failed++;                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                   \
            fprintf(stderr, __VA_ARGS__);                                          \
            fprintf(stderr, "\n");                                                 \
        }                                                                          \
    } while (0)

#define OK(call)                                                                                   \
    do {                                                                                           \
        sn_status s_ = (call);                                                                     \
        EXPECT(s_ == SN_OK, "%s returned %d (%s)", #call, s_, sn_last_error());                    \
    } while (0)

/* The refusal a call on a handle in use by another thread gets. */
static int is_busy(sn_status s) { return s == SN_ERR_BAD_STATE && strstr(sn_last_error(), "another thread"); }

enum { PIXELS = 16, CLASSES = 3 };

/* n synthetic 1×4×4 images of 3 classes (the class is the brightest row band), from `seed`. */
static sn_dataset *synthetic(size_t n, uint32_t seed) {
    float *images = malloc(n * PIXELS * sizeof(float));
    int32_t *labels = malloc(n * sizeof(int32_t));
    uint32_t state = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        labels[i] = (int32_t)(i % CLASSES);
        for (int p = 0; p < PIXELS; p++) {
            state = state * 1664525u + 1013904223u;
            float noise = (float)(state >> 8) / (float)(1u << 24) - 0.5f;
            images[i * PIXELS + p] = (p / 5 == labels[i] ? 1.0f : 0.0f) + 0.2f * noise;
        }
    }
    sn_dataset *d = NULL;
    OK(sn_dataset_from_memory(images, labels, n, 1, 4, 4, CLASSES, &d));
    free(images);
    free(labels);
    return d;
}

static sn_model *small_model(uint64_t seed) {
    sn_model *m = NULL;
    OK(sn_model_create(1, 4, 4, &m));
    OK(sn_model_add_flatten(m));
    OK(sn_model_add_linear(m, 16, 1, SN_INIT_KAIMING, seed));
    OK(sn_model_add_batchnorm1d(m, 0.1f, 1e-5f));
    OK(sn_model_add_relu(m));
    OK(sn_model_add_dropout(m, 0.1f));
    OK(sn_model_add_linear(m, CLASSES, 1, SN_INIT_PYTORCH, seed + 1));
    return m;
}

static sn_optimizer *adam(sn_model *m) {
    sn_optimizer_params op;
    OK(sn_optimizer_params_default(SN_OPTIMIZER_ADAM, &op));
    op.lr = 0.01f;
    sn_optimizer *o = NULL;
    OK(sn_optimizer_create(m, &op, &o));
    return o;
}

static sn_train_params train_params(int32_t epochs, int32_t threads, uint64_t seed) {
    sn_train_params tp;
    OK(sn_train_params_default(&tp));
    tp.epochs = epochs;
    tp.batch_size = 32;
    tp.threads = threads;
    tp.seed = seed;
    return tp;
}

/* Every row of p (n × CLASSES) is a finite probability distribution. */
static int rows_are_distributions(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float sum = 0;
        for (int c = 0; c < CLASSES; c++) {
            if (!isfinite(p[i * CLASSES + c]) || p[i * CLASSES + c] < 0) return 0;
            sum += p[i * CLASSES + c];
        }
        if (fabsf(sum - 1.0f) > 1e-4f) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------- 1. one model, four threads --- */

enum { SHARED_N = 128, PREDICT_ROUNDS = 60, FIT_ROUNDS = 15 };
static sn_model *shared_model;
static sn_dataset *shared_data;
static sn_optimizer *shared_optimizer; /* made before the threads start: creating one claims the model */
static int outcome[4][3]; /* ok, busy, wrong */

static void *predict_many(void *arg) {
    int t = (int)(intptr_t)arg;
    float p[SHARED_N * CLASSES];
    for (int r = 0; r < PREDICT_ROUNDS; r++) {
        sn_status s = sn_predict(shared_model, shared_data, p, SHARED_N * CLASSES);
        outcome[t][s == SN_OK && rows_are_distributions(p, SHARED_N) ? 0 : is_busy(s) ? 1 : 2]++;
    }
    return NULL;
}

static void *fit_many(void *arg) {
    int t = (int)(intptr_t)arg;
    sn_dataset *train = synthetic(64, 7); /* its own data: only the model is contended */
    sn_train_params tp = train_params(1, 1, 1);
    for (int r = 0; r < FIT_ROUNDS; r++) {
        sn_status s = sn_fit(shared_model, shared_optimizer, train, &tp, NULL, NULL, NULL, 0, NULL);
        outcome[t][s == SN_OK ? 0 : is_busy(s) ? 1 : 2]++;
    }
    sn_dataset_free(train);
    return NULL;
}

static void test_one_model_four_threads(void) {
    shared_model = small_model(1);
    shared_data = synthetic(SHARED_N, 1);
    shared_optimizer = adam(shared_model);
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) pthread_create(&threads[t], NULL, t < 3 ? predict_many : fit_many, (void *)(intptr_t)t);
    for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
    int ok = 0, busy = 0, wrong = 0;
    for (int t = 0; t < 4; t++) ok += outcome[t][0], busy += outcome[t][1], wrong += outcome[t][2];
    printf("1. one model, 3 predicting + 1 training thread: %d ran, %d refused (busy), %d wrong\n", ok, busy, wrong);
    EXPECT(wrong == 0 && ok + busy == 3 * PREDICT_ROUNDS + FIT_ROUNDS && ok >= 1, "%d ok, %d busy, %d wrong", ok, busy,
           wrong);
    sn_optimizer_free(shared_optimizer);
    sn_model_free(shared_model);
    sn_dataset_free(shared_data);
}

/* ------------------------------------------------- 2. two threads saving to one path --- */

enum { SAVES = 150, PROBE_N = 32 };
static char save_path[512];
static sn_model *savers[2];
static int save_failures[2];

static void *save_many(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int r = 0; r < SAVES; r++)
        if (sn_model_save(savers[t], save_path, t == 0 ? "{\"writer\":0}" : "{\"writer\":1}") != SN_OK) {
            fprintf(stderr, "save %d of writer %d: %s\n", r, t, sn_last_error());
            save_failures[t]++;
        }
    return NULL;
}

static size_t entries_in(const char *dir) {
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    if (d) closedir(d);
    return n;
}

static void test_two_threads_saving_to_one_path(const char *dir) {
    snprintf(save_path, sizeof save_path, "%s/shared.safetensors", dir);
    sn_dataset *probe = synthetic(PROBE_N, 3);
    float expected[2][PROBE_N * CLASSES], got[PROBE_N * CLASSES];
    for (int t = 0; t < 2; t++) {
        savers[t] = small_model(10 + 10 * (uint64_t)t);
        OK(sn_model_set_training(savers[t], 0));
        OK(sn_predict(savers[t], probe, expected[t], PROBE_N * CLASSES));
    }
    OK(sn_model_save(savers[0], save_path, NULL)); /* the path exists before the first load */
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) pthread_create(&threads[t], NULL, save_many, (void *)(intptr_t)t);
    int loads = 0, load_failures = 0, mixed = 0;
    for (int r = 0; r < SAVES; r++) {
        sn_model *loaded = NULL;
        if (sn_model_load(save_path, &loaded) != SN_OK) {
            fprintf(stderr, "load %d: %s\n", r, sn_last_error());
            load_failures++;
            continue;
        }
        loads++;
        if (sn_predict(loaded, probe, got, PROBE_N * CLASSES) != SN_OK ||
            (memcmp(got, expected[0], sizeof got) != 0 && memcmp(got, expected[1], sizeof got) != 0))
            mixed++;
        sn_model_free(loaded);
    }
    for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
    printf("2. two threads x %d saves to one path, %d loads meanwhile: %d failed saves, %d failed loads, %d mixed\n",
           SAVES, loads, save_failures[0] + save_failures[1], load_failures, mixed);
    EXPECT(save_failures[0] + save_failures[1] == 0 && load_failures == 0 && mixed == 0, "saves and loads");
    EXPECT(entries_in(dir) == 1, "%zu entries left in %s (temporary files?)", entries_in(dir), dir);
    for (int t = 0; t < 2; t++) sn_model_free(savers[t]);
    sn_dataset_free(probe);
}

/* ------------------------------------------- 3. two models trained at once, alone-equal --- */

enum { EPOCHS = 3 };
typedef struct {
    uint64_t seed;
    const sn_dataset *train; /* NULL: the job makes its own */
    sn_epoch_record history[EPOCHS];
    size_t n_epochs;
    sn_status status;
    int busy;
    pthread_t caller;
    int global_threads; /* 1: train with threads = 0 (sn_get_num_threads()), else 2 */
    int callbacks, foreign_callbacks;
} fit_job;

/* sn_fit promises to call progress on the thread that called it. */
static int progress(const sn_progress *p, void *user) {
    fit_job *job = user;
    job->callbacks++;
    job->foreign_callbacks += !pthread_equal(pthread_self(), job->caller);
    (void)p;
    return 0; /* go on */
}

static void *run_fit(void *arg) {
    fit_job *job = arg;
    job->caller = pthread_self();
    sn_dataset *own = job->train ? NULL : synthetic(256, (uint32_t)job->seed);
    sn_model *m = small_model(job->seed);
    sn_optimizer *o = adam(m);
    sn_train_params tp = train_params(EPOCHS, job->global_threads ? 0 : 2, job->seed);
    job->status = sn_fit(m, o, own ? own : job->train, &tp, progress, job, job->history, EPOCHS, &job->n_epochs);
    job->busy = is_busy(job->status);
    sn_optimizer_free(o);
    sn_model_free(m);
    sn_dataset_free(own);
    return NULL;
}

static int same_history(const fit_job *a, const fit_job *b) {
    if (a->n_epochs != b->n_epochs) return 0;
    for (size_t e = 0; e < a->n_epochs; e++)
        if (a->history[e].train_loss != b->history[e].train_loss ||
            a->history[e].train_accuracy != b->history[e].train_accuracy)
            return 0;
    return 1;
}

static void test_two_models_at_once(void) {
    fit_job alone[2] = {{.seed = 21}, {.seed = 22}}, together[2] = {{.seed = 21}, {.seed = 22}};
    for (int t = 0; t < 2; t++) run_fit(&alone[t]);
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) pthread_create(&threads[t], NULL, run_fit, &together[t]);
    for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
    int foreign = 0;
    for (int t = 0; t < 2; t++) {
        EXPECT(alone[t].status == SN_OK && together[t].status == SN_OK, "fit %d: %d, %d", t, alone[t].status,
               together[t].status);
        EXPECT(same_history(&alone[t], &together[t]), "model %d: the history differs from its run alone", t);
        EXPECT(together[t].callbacks > 0, "model %d: no progress calls", t);
        foreign += alone[t].foreign_callbacks + together[t].foreign_callbacks;
    }
    EXPECT(foreign == 0, "%d progress calls on another thread than sn_fit's", foreign);
    printf("3. two models trained at once (2 kernel threads each): histories equal their runs alone, "
           "%d progress calls on a foreign thread\n", foreign);
}

/* --------------------------- 4. training while others change settings and fail calls --- */

static int training_done; /* under done_lock: set by the main thread once training has ended */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;

static int is_done(void) {
    pthread_mutex_lock(&done_lock);
    int d = training_done;
    pthread_mutex_unlock(&done_lock);
    return d;
}

static int wrong_thread_counts, wrong_messages[2];
static char *expected_message[2];

/* Kind 0: a model of zero channels; kind 1: a dataset from NULL. Returns the status. */
static sn_status failing_call(int kind) {
    sn_model *m = NULL;
    return kind == 0 ? sn_model_create(0, 4, 4, &m) : sn_dataset_from_memory(NULL, NULL, 0, 1, 4, 4, 3, NULL);
}

static void *change_thread_count(void *arg) {
    (void)arg;
    for (int r = 0; !is_done() || r < 10; r++) {
        sn_status s = sn_set_num_threads(1 + r % 2);
        int32_t n = sn_get_num_threads();
        if (s != SN_OK || n < 1 || n > 64) wrong_thread_counts++;
        usleep(200);
    }
    OK(sn_set_num_threads(0));
    return NULL;
}

/* Each thread's last error is its own, while another thread fails with another message. */
static void *fail_calls(void *arg) {
    int kind = (int)(intptr_t)arg;
    for (int r = 0; !is_done() || r < 10; r++) {
        sn_status s = failing_call(kind);
        if (s != SN_ERR_INVALID_ARGUMENT || strcmp(sn_last_error(), expected_message[kind]) != 0) wrong_messages[kind]++;
    }
    return NULL;
}

static void test_training_among_setters(void) {
    for (int kind = 0; kind < 2; kind++) {
        EXPECT(failing_call(kind) == SN_ERR_INVALID_ARGUMENT, "failing call %d", kind);
        expected_message[kind] = strdup(sn_last_error());
    }
    EXPECT(strcmp(expected_message[0], expected_message[1]) != 0, "two failing calls with one message: %s",
           expected_message[0]);
    fit_job job = {.seed = 31, .global_threads = 1};
    pthread_t trainer, setter, failers[2];
    pthread_create(&setter, NULL, change_thread_count, NULL);
    pthread_create(&failers[0], NULL, fail_calls, (void *)(intptr_t)0);
    pthread_create(&failers[1], NULL, fail_calls, (void *)(intptr_t)1);
    pthread_create(&trainer, NULL, run_fit, &job);
    pthread_join(trainer, NULL);
    pthread_mutex_lock(&done_lock);
    training_done = 1;
    pthread_mutex_unlock(&done_lock);
    pthread_join(setter, NULL);
    pthread_join(failers[0], NULL);
    pthread_join(failers[1], NULL);
    fit_job reference = {.seed = 31, .global_threads = 1};
    run_fit(&reference);
    int wrong = wrong_messages[0] + wrong_messages[1];
    printf("4. training while one thread flips the thread count and two fail calls: status %d, "
           "%d wrong counts, %d foreign messages\n", job.status, wrong_thread_counts, wrong);
    EXPECT(job.status == SN_OK && wrong_thread_counts == 0 && wrong == 0, "training among setters");
    EXPECT(same_history(&job, &reference), "the thread count changed the results");
    free(expected_message[0]);
    free(expected_message[1]);
}

/* ------------------------------------------ 5. two trainings and a reader on one dataset --- */

static sn_dataset *read_data;
static int reader_done, bad_reads, reads; /* reader_done under done_lock */

static void *read_many(void *arg) {
    (void)arg;
    float images[8 * PIXELS];
    int32_t labels[8];
    for (;;) {
        pthread_mutex_lock(&done_lock);
        int done = reader_done;
        pthread_mutex_unlock(&done_lock);
        if (done && reads > 0) break;
        bad_reads += sn_dataset_get(read_data, 8, 8, images, 8 * PIXELS, labels, 8) != SN_OK || labels[0] != 8 % CLASSES;
        reads++;
    }
    return NULL;
}

static void test_shared_dataset(void) {
    read_data = synthetic(256, 41);
    fit_job alone[2] = {{.seed = 41, .train = read_data}, {.seed = 42, .train = read_data}};
    fit_job together[2] = {{.seed = 41, .train = read_data}, {.seed = 42, .train = read_data}};
    for (int t = 0; t < 2; t++) run_fit(&alone[t]);
    pthread_t threads[2], reader;
    pthread_create(&reader, NULL, read_many, NULL);
    for (int t = 0; t < 2; t++) pthread_create(&threads[t], NULL, run_fit, &together[t]);
    for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
    pthread_mutex_lock(&done_lock);
    reader_done = 1;
    pthread_mutex_unlock(&done_lock);
    pthread_join(reader, NULL);
    int ran = 0;
    for (int t = 0; t < 2; t++) {
        ran += together[t].status == SN_OK;
        EXPECT(together[t].status == SN_OK, "training %d on the shared dataset: %d (%s)", t, together[t].status,
               together[t].busy ? "refused as busy" : "failed");
        EXPECT(same_history(&alone[t], &together[t]), "model %d: the history differs from its run alone", t);
    }
    printf("5. two models trained at once on one dataset while a thread reads it: %d of 2 ran, %d reads, "
           "%d bad\n", ran, reads, bad_reads);
    EXPECT(bad_reads == 0, "%d of %d reads failed", bad_reads, reads);
    sn_dataset_free(read_data);
}

int main(int argc, char **argv) {
    char temp[] = "/tmp/smallnet-threads-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(temp);
    if (!dir) return 2;
    test_one_model_four_threads();
    test_two_threads_saving_to_one_path(dir);
    test_two_models_at_once();
    test_training_among_setters();
    test_shared_dataset();
    if (argc <= 1) {
        char command[600];
        snprintf(command, sizeof command, "rm -rf '%s'", dir);
        if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    printf("threads: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
