/*
 * abi_sweep.c — a seeded random sweep of the whole C API with hostile arguments and orders.
 *
 * Every function of smallnet.h is called, over and over, with NULL, zero, negative and extreme
 * integers, NaN and infinities, unknown enum values, freed, foreign and wrong-kind handles,
 * empty, very long and non-UTF-8 strings, wrong struct_size values, FIFOs, directories and
 * devices as paths, and in hostile orders (backward before forward, a step after the model was
 * freed, fit on one sample, predict on data of another shape, callbacks that free or re-enter).
 * Each call must return SN_OK or an SN_ERR_* code other than SN_ERR_INTERNAL with a non-empty
 * UTF-8 message; no call may crash or hang.
 *
 * Buffers are always honest: where the header says a buffer holds n·k elements, it does (the
 * library cannot check that, so breaking it would be the sweep's bug, not the library's).
 * Counts that no buffer could honour (≥ 2^63, read by the library as negative) are passed too.
 *
 * Calls run in batches, each in a forked child with its own seeded generator, so a batch
 * reproduces alone. Before each call the child writes the call's description into memory it
 * shares with the parent, and arms alarm(); when a child dies (a signal, a Swift trap, the
 * alarm) the parent reports the call that was running.
 *
 *   abi_sweep SEED CALLS [--batch-size=N] [--batch=K] [--verbose] [--stats] [--timeout=S]
 *   abi_sweep --list        the names of the functions the sweep calls, one per line
 *
 * Exit status: 0 when every call kept the contract (and, from 5,000 calls on, every function
 * was called), 1 otherwise, 2 for bad usage.
 */
#define _GNU_SOURCE
#include <smallnet.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ============================================================ Shared with the parent === */

#define N_FUNCTIONS 112
enum { DESCRIPTION = 1536 };

typedef struct {
    uint64_t calls;                  /* API calls completed, all batches */
    uint64_t per_function[N_FUNCTIONS];
    uint64_t per_function_ok[N_FUNCTIONS]; /* of those, the calls that returned SN_OK */
    uint64_t per_status[10];         /* SN_OK..SN_ERR_DIVERGED, [9]: anything else */
    char current[DESCRIPTION];       /* the call in progress */
    char nested[DESCRIPTION];        /* a call made from a progress callback, in progress */
    char violation[2 * DESCRIPTION]; /* a broken contract (the child exits with status 3) */
} shared_state;

static shared_state *shared;
static int verbose = 0, stats = 0;
static unsigned call_timeout = 20;
static int in_callback = 0;

/* ==================================================================== Generator === */

static uint64_t rng_state;

static uint64_t next_u64(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t below(uint32_t n) { return n ? (uint32_t)(next_u64() % n) : 0; }
static int chance(int percent) { return (int)below(100) < percent; }

/* A "clean" call (40 % of them) gets valid values wherever the sweep knows them, so that
 * deep paths (training, checkpoints) run, and the hostile orders around them matter. */
static int clean;
static int hostile(int percent) { return !clean && chance(percent); }
static int sane(int percent) { return clean || chance(percent); }
#define PICK(array) ((array)[below((uint32_t)(sizeof(array) / sizeof((array)[0])))])

/* ============================================================= Hostile values === */

static int32_t any_i32(void) {
    static const int32_t v[] = {0, 1, -1, 2, 3, 7, 10, 16, 28, 255, 256, 257, 65536, 100000, INT32_MAX,
                                INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, -1000};
    return chance(20) ? (int32_t)next_u64() : PICK(v);
}

static int64_t any_i64(void) {
    static const int64_t v[] = {0, 1, -1, 2, 10, 1000, 4999, 5000, 15000, 100000, 100000000, 100000001,
                                INT64_MAX, INT64_MIN, (int64_t)1 << 40, -((int64_t)1 << 40), INT32_MAX,
                                (int64_t)INT32_MAX + 1};
    return chance(15) ? (int64_t)next_u64() : PICK(v);
}

static float any_float(void) {
    static const float v[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 0.1f, 0.9f, 0.999f, 1e-5f, 1e-8f, 1e-30f, 1e30f,
                              -1e30f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, 2.0f, 100.0f, 0.01f};
    switch (below(10)) {
    case 0: return NAN;
    case 1: return chance(50) ? INFINITY : -INFINITY;
    case 2: {
        uint32_t bits = (uint32_t)next_u64();
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    default: return PICK(v);
    }
}

/* Sizes that need no buffer behind them (indices, starts). */
static size_t any_index(void) {
    static const size_t v[] = {0, 1, 2, 3, 5, 9, 63, 64, 65, 1000, SIZE_MAX, SIZE_MAX - 1, (size_t)1 << 63,
                               (size_t)INT64_MAX, (size_t)1 << 40, (size_t)INT32_MAX + 1};
    return PICK(v);
}

/* A count a buffer of `honest` elements can hold, or one no buffer could (≥ 2^63). */
static size_t any_count(size_t honest) {
    switch (clean ? 6 : below(12)) {
    case 0: return 0;
    case 1: return SIZE_MAX;
    case 2: return (size_t)1 << 63;
    case 3: return SIZE_MAX - 1;
    case 4: return honest;
    case 5: return honest > 0 ? honest - 1 : 0;
    default: return honest ? 1 + below((uint32_t)(honest < 70 ? honest : 70)) : 0;
    }
}

static uint32_t any_struct_size(uint32_t right) {
    if (sane(85)) return right;
    static const uint32_t v[] = {0, 1, 4, UINT32_MAX, 0x80000000u};
    switch (below(4)) {
    case 0: return right - 4;
    case 1: return right + 4;
    case 2: return right * 2;
    default: return PICK(v);
    }
}

/* Strings: NULL, empty, very long, not UTF-8, NUL-less tricks are impossible in C, so also
 * embedded control bytes and lookalikes of real names. */
static char long_string[100001];
static const char *any_text(void) {
    static const char *v[] = {"", "a", "0.weight", "1.bias", "0.running_mean", "x\n\t\"\\", "\xff\xfe\xfd",
                              "\xc3", "\xed\xa0\x80", "T-shirt/top", "\xe2\x82\xac uro", "{}", "{\"a\":1}",
                              "smallnet.architecture", "smallnet.class_names", "smallnet.preprocessing",
                              "smallnet.version", "smallnet.training_config", "__metadata__", "%s%n%s%n"};
    switch (below(12)) {
    case 0: return NULL;
    case 1: return long_string;
    default: return PICK(v);
    }
}

/* ============================================================ Files and paths === */

static char tmp_root[256];   /* the sweep's temporary folder (parent) */
static char batch_dir[512];  /* this batch's own folder (child) */
static char paths[32][1024]; /* filled by setup_batch_files */
enum {
    P_CKPT, P_CKPT_TRUNC, P_CKPT_GZ, P_GARBAGE, P_EMPTY, P_MISSING, P_DIR, P_FIFO, P_IMAGES, P_LABELS,
    P_IMAGES_GZ, P_LABELS_GZ, P_LABELS_SHORT, P_LABELS_BIG, P_FMNIST, P_FMNIST_MISSING, P_LONG, P_BAD_UTF8,
    P_OUT, P_OUT_SUB, P_FIFO_OUT, P_SYMLINK, N_PATHS
};

static void write_bytes(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); _exit(4); }
    if (size) fwrite(data, 1, size, f);
    fclose(f);
}

static size_t idx_bytes(uint8_t *out, const uint32_t *dims, int rank, int modulo) {
    size_t n = 4, count = 1;
    out[0] = 0; out[1] = 0; out[2] = 8; out[3] = (uint8_t)rank;
    for (int r = 0; r < rank; r++) {
        out[n++] = (uint8_t)(dims[r] >> 24); out[n++] = (uint8_t)(dims[r] >> 16);
        out[n++] = (uint8_t)(dims[r] >> 8); out[n++] = (uint8_t)dims[r];
        count *= dims[r];
    }
    for (size_t i = 0; i < count; i++) out[n++] = (uint8_t)(i * 7 % (size_t)modulo);
    return n;
}

static void write_gz(const char *path, const uint8_t *data, size_t size) {
    gzFile f = gzopen(path, "wb");
    if (!f) _exit(4);
    gzwrite(f, data, (unsigned)size);
    gzclose(f);
}

/* Files every batch reads (made once by the parent) and the paths a batch may write. */
static void setup_shared_files(void) {
    static uint8_t buf[8 * 28 * 28 + 64];
    char p[1024];
    uint32_t img[3] = {6, 4, 4}, lbl[1] = {6}, lbl5[1] = {5}, lbl_big[1] = {6};
    snprintf(p, sizeof p, "%s/images.idx", tmp_root); write_bytes(p, buf, idx_bytes(buf, img, 3, 256));
    snprintf(p, sizeof p, "%s/images.idx.gz", tmp_root); write_gz(p, buf, idx_bytes(buf, img, 3, 256));
    snprintf(p, sizeof p, "%s/labels.idx", tmp_root); write_bytes(p, buf, idx_bytes(buf, lbl, 1, 3));
    snprintf(p, sizeof p, "%s/labels.idx.gz", tmp_root); write_gz(p, buf, idx_bytes(buf, lbl, 1, 3));
    snprintf(p, sizeof p, "%s/labels5.idx", tmp_root); write_bytes(p, buf, idx_bytes(buf, lbl5, 1, 3));
    snprintf(p, sizeof p, "%s/labels_big.idx", tmp_root); write_bytes(p, buf, idx_bytes(buf, lbl_big, 1, 256));
    for (size_t i = 0; i < 777; i++) buf[i] = (uint8_t)(i * 131 + 7);
    snprintf(p, sizeof p, "%s/garbage", tmp_root); write_bytes(p, buf, 777);
    snprintf(p, sizeof p, "%s/empty", tmp_root); write_bytes(p, buf, 0);
    snprintf(p, sizeof p, "%s/dir", tmp_root); mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/fifo", tmp_root); mkfifo(p, 0600);
    /* A FashionMNIST folder of 8 training and 4 test samples (checksums will not match). */
    snprintf(p, sizeof p, "%s/fmnist", tmp_root); mkdir(p, 0700);
    uint32_t tr[3] = {8, 28, 28}, te[3] = {4, 28, 28}, trl[1] = {8}, tel[1] = {4};
    snprintf(p, sizeof p, "%s/fmnist/train-images-idx3-ubyte", tmp_root); write_bytes(p, buf, idx_bytes(buf, tr, 3, 256));
    snprintf(p, sizeof p, "%s/fmnist/train-labels-idx1-ubyte", tmp_root); write_bytes(p, buf, idx_bytes(buf, trl, 1, 10));
    snprintf(p, sizeof p, "%s/fmnist/t10k-images-idx3-ubyte.gz", tmp_root); write_gz(p, buf, idx_bytes(buf, te, 3, 256));
    snprintf(p, sizeof p, "%s/fmnist/t10k-labels-idx1-ubyte.gz", tmp_root); write_gz(p, buf, idx_bytes(buf, tel, 1, 10));
    snprintf(p, sizeof p, "%s/nodata", tmp_root);
    setenv("SMALLNET_DATA", p, 1); /* sn_dataset_load_fashion_mnist(NULL, …) looks here: nothing */
}

/* Paths of this batch: its own folder for the checkpoints it writes. */
static void setup_batch_files(uint64_t batch) {
    snprintf(batch_dir, sizeof batch_dir, "%s/batch%llu", tmp_root, (unsigned long long)batch);
    mkdir(batch_dir, 0700);
    snprintf(paths[P_CKPT], 1024, "%s/model.safetensors", batch_dir);
    snprintf(paths[P_CKPT_TRUNC], 1024, "%s/truncated.safetensors", batch_dir);
    snprintf(paths[P_CKPT_GZ], 1024, "%s/model.safetensors.gz", batch_dir);
    snprintf(paths[P_GARBAGE], 1024, "%s/garbage", tmp_root);
    snprintf(paths[P_EMPTY], 1024, "%s/empty", tmp_root);
    snprintf(paths[P_MISSING], 1024, "%s/missing/nothing", tmp_root);
    snprintf(paths[P_DIR], 1024, "%s/dir", tmp_root);
    snprintf(paths[P_FIFO], 1024, "%s/fifo", tmp_root);
    snprintf(paths[P_IMAGES], 1024, "%s/images.idx", tmp_root);
    snprintf(paths[P_LABELS], 1024, "%s/labels.idx", tmp_root);
    snprintf(paths[P_IMAGES_GZ], 1024, "%s/images.idx.gz", tmp_root);
    snprintf(paths[P_LABELS_GZ], 1024, "%s/labels.idx.gz", tmp_root);
    snprintf(paths[P_LABELS_SHORT], 1024, "%s/labels5.idx", tmp_root);
    snprintf(paths[P_LABELS_BIG], 1024, "%s/labels_big.idx", tmp_root);
    snprintf(paths[P_FMNIST], 1024, "%s/fmnist", tmp_root);
    snprintf(paths[P_FMNIST_MISSING], 1024, "%s/nodata", tmp_root);
    memset(paths[P_LONG], 'x', 1023);
    paths[P_LONG][0] = '/';
    paths[P_LONG][1023] = 0;
    snprintf(paths[P_BAD_UTF8], 1024, "%s/\xff\xfe.safetensors", batch_dir);
    snprintf(paths[P_OUT], 1024, "%s/out.safetensors", batch_dir);
    snprintf(paths[P_OUT_SUB], 1024, "%s/no/such/folder/out.safetensors", batch_dir);
    snprintf(paths[P_FIFO_OUT], 1024, "%s/fifo_out", batch_dir);
    mkfifo(paths[P_FIFO_OUT], 0600);
    snprintf(paths[P_SYMLINK], 1024, "%s/link.safetensors", batch_dir);
    if (symlink(paths[P_DIR], paths[P_SYMLINK]) != 0) { /* already there */ }
}

static const char *read_path(void) {
    static const char *system_paths[] = {"/dev/null", "/dev/zero", "/proc/self/status", "/", "/etc/hostname"};
    switch (below(10)) {
    case 0: return NULL;
    case 1: return "";
    case 2: return PICK(system_paths);
    case 3: return long_string;
    default: return paths[below(N_PATHS)];
    }
}

/* Only paths inside this batch's folder (or ones that cannot be written): never a device. */
static const char *write_path(void) {
    static const int writable[] = {P_CKPT, P_OUT, P_OUT_SUB, P_FIFO_OUT, P_BAD_UTF8, P_SYMLINK, P_DIR, P_LONG,
                                   P_CKPT, P_OUT};
    switch (below(12)) {
    case 0: return NULL;
    case 1: return "";
    default: return paths[PICK(writable)];
    }
}

/* ================================================================ Handle pools === */

enum { POOL = 6 };
static sn_model *models[POOL], *dead_models[POOL];
static sn_model *last_forward; /* the model of the last successful forward pass, and its n */
static size_t last_forward_n;
static sn_optimizer *optimizers[POOL], *dead_optimizers[POOL];
static sn_dataset *datasets[POOL], *dead_datasets[POOL];
static int n_models, n_optimizers, n_datasets, n_dead_models, n_dead_optimizers, n_dead_datasets;
static int foreign_object;

static void *any_foreign(void) {
    switch (below(6)) {
    case 0: return (void *)1;
    case 1: return (void *)UINTPTR_MAX;
    case 2: return &foreign_object;
    case 3: return (void *)(uintptr_t)0x500000010ull; /* looks like a handle id */
    case 4: return (void *)(uintptr_t)(0x500000000ull + 16 * (1 + below(4000)));
    default: return long_string;
    }
}

#define POOL_PICK(live, n_live, dead, n_dead, other1, n1, other2, n2, type)                      \
    do {                                                                                          \
        int r_ = clean ? 0 : (int)below(100);                                                     \
        if (r_ < 72 && (n_live) > 0) return (live)[below((uint32_t)(n_live))];                   \
        if (r_ < 80) return NULL;                                                                 \
        if (r_ < 88 && (n_dead) > 0) return (dead)[below((uint32_t)(n_dead))];                   \
        if (r_ < 92 && (n1) > 0) return (type *)(void *)(other1)[below((uint32_t)(n1))];         \
        if (r_ < 96 && (n2) > 0) return (type *)(void *)(other2)[below((uint32_t)(n2))];         \
        if ((n_live) > 0 && r_ < 98) return (live)[below((uint32_t)(n_live))];                   \
        return (type *)any_foreign();                                                             \
    } while (0)

static sn_model *pick_model(void) {
    POOL_PICK(models, n_models, dead_models, n_dead_models, datasets, n_datasets, optimizers, n_optimizers, sn_model);
}
static sn_optimizer *pick_optimizer(void) {
    POOL_PICK(optimizers, n_optimizers, dead_optimizers, n_dead_optimizers, models, n_models, datasets, n_datasets,
              sn_optimizer);
}
static sn_dataset *pick_dataset(void) {
    POOL_PICK(datasets, n_datasets, dead_datasets, n_dead_datasets, models, n_models, optimizers, n_optimizers,
              sn_dataset);
}

static int index_of(void **pool, int n, void *h) {
    for (int i = 0; i < n; i++)
        if (pool[i] == h) return i;
    return -1;
}

/* Moves a freed handle from its live pool to its dead pool. */
static void bury(void **live, int *n_live, void **dead, int *n_dead, void *h) {
    int i = index_of(live, *n_live, h);
    if (i < 0) return;
    live[i] = live[--*n_live];
    if (*n_dead < POOL) dead[(*n_dead)++] = h;
    else dead[below(POOL)] = h;
}
#define BURY_MODEL(h) bury((void **)models, &n_models, (void **)dead_models, &n_dead_models, (h))
#define BURY_OPTIMIZER(h) bury((void **)optimizers, &n_optimizers, (void **)dead_optimizers, &n_dead_optimizers, (h))
#define BURY_DATASET(h) bury((void **)datasets, &n_datasets, (void **)dead_datasets, &n_dead_datasets, (h))

static void free_model_checked(sn_model *m);
static void free_optimizer_checked(sn_optimizer *o);
static void free_dataset_checked(sn_dataset *d);

static void keep_model(sn_model *m) {
    if (!m) return;
    if (verbose) fprintf(stderr, "  → model %p\n", (void *)m);
    if (n_models == POOL) free_model_checked(models[below(POOL)]);
    models[n_models++] = m;
}
static void keep_optimizer(sn_optimizer *o) {
    if (!o) return;
    if (verbose) fprintf(stderr, "  → optimizer %p\n", (void *)o);
    if (n_optimizers == POOL) free_optimizer_checked(optimizers[below(POOL)]);
    optimizers[n_optimizers++] = o;
}
static void keep_dataset(sn_dataset *d) {
    if (!d) return;
    if (verbose) fprintf(stderr, "  → dataset %p\n", (void *)d);
    if (n_datasets == POOL) free_dataset_checked(datasets[below(POOL)]);
    datasets[n_datasets++] = d;
}

/* ========================================================= Describe and check === */

static char description[DESCRIPTION];
static int current_function;

static void violation(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char what[DESCRIPTION];
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(shared->violation, sizeof shared->violation, "%.1200s%s%.1200s: %.500s", shared->current,
             in_callback ? " → from its progress callback: " : "", in_callback ? shared->nested : "", what);
    fprintf(stderr, "abi_sweep: contract broken: %s\n", shared->violation);
    _exit(3);
}

/* Records the call about to be made (function `f` of the table) and arms the alarm. */
static void describe(int f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(description, sizeof description, fmt, ap);
    va_end(ap);
    current_function = f;
    char *slot = in_callback ? shared->nested : shared->current;
    memcpy(slot, description, sizeof description);
    if (verbose) fprintf(stderr, "%s%s\n", in_callback ? "    [callback] " : "", description);
    if (!in_callback) alarm(call_timeout);
}

static int valid_utf8(const unsigned char *s) {
    while (*s) {
        unsigned c = *s++;
        int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (extra < 0 || (c & 0xFE) == 0xC0) return 0;
        for (int i = 0; i < extra; i++, s++)
            if ((*s & 0xC0) != 0x80) return 0;
    }
    return 1;
}

/* Checks a returned status against the contract and counts the call. */
static sn_status done(int f, sn_status s) {
    shared->calls++;
    shared->per_function[f]++;
    shared->per_status[(s >= 0 && s <= 8) ? s : 9]++;
    if (s == SN_OK) shared->per_function_ok[f]++;
    if (s != SN_OK) {
        if (s < SN_ERR_INVALID_ARGUMENT || s > SN_ERR_DIVERGED) violation("unknown status %d", s);
        if (s == SN_ERR_INTERNAL) violation("SN_ERR_INTERNAL: %s", sn_last_error());
        const char *m = sn_last_error();
        if (!m) violation("status %d and sn_last_error() is NULL", s);
        if (!m[0]) violation("status %d with an empty message", s);
        if (!valid_utf8((const unsigned char *)m)) violation("status %d with a message that is not UTF-8", s);
    }
    return s;
}

static void counted(int f) { /* a call returning no status */
    shared->calls++;
    shared->per_function[f]++;
}

/* ============================================================ Function table === */

#define FUNCTIONS(X)                                                                                                   \
    X(sn_version_string) X(sn_abi_version) X(sn_last_error) X(sn_status_string) X(sn_set_num_threads)                   \
    X(sn_get_num_threads) X(sn_model_create) X(sn_model_add_linear) X(sn_model_add_relu) X(sn_model_add_dropout)        \
    X(sn_model_add_batchnorm1d) X(sn_model_add_flatten) X(sn_model_add_conv2d) X(sn_model_add_maxpool2d)                \
    X(sn_model_add_avgpool2d) X(sn_model_add_globalavgpool2d) X(sn_model_add_batchnorm2d) X(sn_fcn_params_default)      \
    X(sn_model_create_fcn) X(sn_cnn_params_default) X(sn_model_create_cnn) X(sn_model_free) X(sn_model_n_params)        \
    X(sn_model_input_shape) X(sn_model_n_outputs) X(sn_model_n_layers) X(sn_model_layer_info) X(sn_model_set_training)  \
    X(sn_model_is_training) X(sn_model_n_tensors) X(sn_model_tensor_info) X(sn_model_get_tensor)                        \
    X(sn_model_set_tensor) X(sn_model_get_grad) X(sn_model_forward) X(sn_cross_entropy) X(sn_model_backward)            \
    X(sn_model_zero_grad) X(sn_optimizer_params_default) X(sn_optimizer_create) X(sn_optimizer_step)                    \
    X(sn_optimizer_get_lr) X(sn_optimizer_set_lr) X(sn_optimizer_free) X(sn_schedule_default) X(sn_schedule_lr)         \
    X(sn_dataset_load_fashion_mnist) X(sn_dataset_load_idx) X(sn_dataset_from_memory) X(sn_dataset_size)                \
    X(sn_dataset_shape) X(sn_dataset_get) X(sn_dataset_class_name) X(sn_dataset_subset) X(sn_dataset_split)             \
    X(sn_dataset_free) X(sn_train_params_default) X(sn_recipe_train_params) X(sn_recipe_train_params_for_budget)        \
    X(sn_recipe_optimizer_params) X(sn_recipe_optimizer_params_for_budget) X(sn_fit) X(sn_evaluate) X(sn_predict)       \
    X(sn_model_save) X(sn_model_load) X(sn_checkpoint_metadata) X(sn_preprocessing_default)                             \
    X(sn_model_get_preprocessing) X(sn_model_set_preprocessing) X(sn_model_class_name) X(sn_model_set_class_names)      \
    X(sn_model_predict_u8) X(sn_model_clone) X(sn_model_save_to_buffer) X(sn_model_load_from_buffer)                    \
    X(sn_dataset_from_u8) X(sn_dataset_get_preprocessing) X(sn_dataset_set_class_names) X(sn_model_add_leaky_relu)     \
    X(sn_model_add_elu) X(sn_model_add_gelu) X(sn_model_add_silu) X(sn_model_add_tanh) X(sn_model_add_sigmoid)         \
    X(sn_model_add_softmax) X(sn_model_add_log_softmax) X(sn_model_add_dropout2d) X(sn_model_add_layernorm)         \
    X(sn_conv2d_params_default) X(sn_model_add_conv2d_ex) X(sn_model_add_maxpool2d_ex) X(sn_model_add_avgpool2d_ex)     \
    X(sn_model_add_adaptive_avgpool2d) X(sn_model_add_batchnorm1d_ex) X(sn_model_add_batchnorm2d_ex)     \
    X(sn_loss_params_default) X(sn_loss) X(sn_optimizer_options_default) X(sn_optimizer_create_with_options)      \
    X(sn_schedule_options_default) X(sn_schedule_params_default) X(sn_schedule_lr_with_options) X(sn_model_set_grad)  \
    X(sn_model_clip_grad_norm) X(sn_model_clip_grad_value) X(sn_train_options_default) X(sn_fit_with_options)       \
    X(sn_model_profile) X(sn_tensor_init_default) X(sn_model_init_tensor) X(sn_isa)

#define ENUM_ENTRY(name) F_##name,
enum { FUNCTIONS(ENUM_ENTRY) F_COUNT };
_Static_assert((int)F_COUNT == N_FUNCTIONS, "N_FUNCTIONS must match the table");

#define NAME_ENTRY(name) #name,
static const char *function_names[] = {FUNCTIONS(NAME_ENTRY)};

/* DESCRIBE(name, "format", args…) before a call, CHECK(name, call) around it. */
#define DESCRIBE(name, ...) describe(F_##name, __VA_ARGS__)
#define CHECK(name, call) done(F_##name, (call))

/* =========================================================== Scratch buffers === */

enum { FLOATS = 1 << 20, BYTES = 1 << 22 };
static float *fin, *fout;     /* FLOATS each */
static int32_t *labels_buf;   /* FLOATS */
static float *ftargets, *floss; /* FLOATS each: sn_loss's targets and values */
static uint8_t *bytes_buf;    /* BYTES */
static uint8_t *ckpt_buf;     /* BYTES: the last checkpoint saved to memory */
static size_t ckpt_size;
static int64_t *confusion_buf; /* 65536 */

static void fill_floats(float *x, size_t n, int hostile) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)(next_u64() % 2001) - 1000) / 500.0f;
    if (hostile && n) {
        int k = (int)below(4);
        for (int j = 0; j < k; j++) x[below((uint32_t)n)] = any_float();
    }
}

static void fill_labels(int32_t *y, size_t n, int32_t classes, int hostile) {
    for (size_t i = 0; i < n; i++) y[i] = classes > 0 ? (int32_t)(below((uint32_t)classes)) : 0;
    if (hostile && n) y[below((uint32_t)n)] = PICK(((int32_t[]){-1, classes, classes + 1, INT32_MAX, INT32_MIN}));
}

/* ===================================================== Queries the sweep needs === */

/* Per-sample input size and outputs of a live model (0 when unknown or not live). */
static void model_sizes(sn_model *m, size_t *in, size_t *outputs) {
    int32_t c = 0, h = 0, w = 0;
    int64_t o = 0;
    *in = 0;
    *outputs = 0;
    if (index_of((void **)models, n_models, m) < 0) return;
    DESCRIBE(sn_model_input_shape, "sn_model_input_shape(model %p, &c, &h, &w)", (void *)m);
    if (CHECK(sn_model_input_shape, sn_model_input_shape(m, &c, &h, &w)) != SN_OK) return;
    DESCRIBE(sn_model_n_outputs, "sn_model_n_outputs(model %p, &out)", (void *)m);
    if (CHECK(sn_model_n_outputs, sn_model_n_outputs(m, &o)) != SN_OK) return;
    *in = (size_t)c * (size_t)h * (size_t)w;
    *outputs = (size_t)o;
}

static void dataset_sizes(sn_dataset *d, size_t *n, size_t *sample, size_t *classes) {
    int32_t c = 0, h = 0, w = 0, k = 0;
    *n = *sample = *classes = 0;
    if (index_of((void **)datasets, n_datasets, d) < 0) return;
    DESCRIBE(sn_dataset_size, "sn_dataset_size(dataset %p, &n)", (void *)d);
    if (CHECK(sn_dataset_size, sn_dataset_size(d, n)) != SN_OK) return;
    DESCRIBE(sn_dataset_shape, "sn_dataset_shape(dataset %p, &c, &h, &w, &classes)", (void *)d);
    if (CHECK(sn_dataset_shape, sn_dataset_shape(d, &c, &h, &w, &k)) != SN_OK) return;
    *sample = (size_t)c * (size_t)h * (size_t)w;
    *classes = (size_t)k;
}

/* A new dataset (kept in the pool) that fits a live model: its input shape, as many classes
 * as it has outputs, 1 to 40 samples (raw bytes or floats); NULL when the model cannot
 * classify such data. */
static void keep_dataset(sn_dataset *d);
static sn_dataset *matching_dataset(sn_model *m) {
    size_t in, outputs;
    int32_t c = 0, h = 0, w = 0;
    model_sizes(m, &in, &outputs);
    if (in == 0 || outputs < 2 || outputs > 256 || in > 4096) return NULL;
    DESCRIBE(sn_model_input_shape, "sn_model_input_shape(model %p, &c, &h, &w)", (void *)m);
    if (CHECK(sn_model_input_shape, sn_model_input_shape(m, &c, &h, &w)) != SN_OK) return NULL;
    size_t n = chance(20) ? 1 : 1 + below(40);
    fill_labels(labels_buf, n, (int32_t)outputs, 0);
    sn_dataset *d = NULL;
    if (chance(50)) {
        fill_floats(fin, n * in, 0);
        DESCRIBE(sn_dataset_from_memory, "sn_dataset_from_memory(images, labels, n %zu, %d×%d×%d, classes %zu, &d)", n, c, h,
                 w, outputs);
        CHECK(sn_dataset_from_memory, sn_dataset_from_memory(fin, labels_buf, n, c, h, w, (int32_t)outputs, &d));
    } else {
        for (size_t i = 0; i < n * in; i++) bytes_buf[i] = (uint8_t)next_u64();
        DESCRIBE(sn_dataset_from_u8, "sn_dataset_from_u8(images, labels, n %zu, %d×%d×%d, classes %zu, NULL, &d)", n, c, h,
                 w, outputs);
        CHECK(sn_dataset_from_u8, sn_dataset_from_u8(bytes_buf, labels_buf, n, c, h, w, (int32_t)outputs, NULL, &d));
    }
    keep_dataset(d);
    return d;
}

/* Saves a live model to this batch's checkpoint paths, so that loads find something. */
static void save_checkpoint(void) {
    if (n_models == 0) return;
    sn_model *m = models[below((uint32_t)n_models)];
    const char *path = paths[chance(50) ? P_CKPT : P_OUT];
    DESCRIBE(sn_model_save, "sn_model_save(model %p, \"%s\", \"{}\")", (void *)m, path);
    CHECK(sn_model_save, sn_model_save(m, path, "{}"));
}

/* ================================================================ The calls === */

static void c_sn_version_string(void) {
    DESCRIBE(sn_version_string, "sn_version_string()");
    const char *v = sn_version_string();
    counted(F_sn_version_string);
    if (!v || !v[0]) violation("empty version string");
}

static void c_sn_abi_version(void) {
    DESCRIBE(sn_abi_version, "sn_abi_version()");
    uint32_t v = sn_abi_version();
    counted(F_sn_abi_version);
    if (v != SN_ABI_VERSION) violation("ABI %u, header %d", v, SN_ABI_VERSION);
}

static void c_sn_last_error(void) {
    DESCRIBE(sn_last_error, "sn_last_error()");
    const char *m = sn_last_error();
    counted(F_sn_last_error);
    if (!m) violation("sn_last_error() returned NULL");
    if (!valid_utf8((const unsigned char *)m)) violation("sn_last_error() is not UTF-8");
}

static void c_sn_status_string(void) {
    sn_status s = sane(50) ? (sn_status)below(10) : any_i32();
    DESCRIBE(sn_status_string, "sn_status_string(%d)", s);
    const char *m = sn_status_string(s);
    counted(F_sn_status_string);
    if (!m || !m[0]) violation("sn_status_string(%d) is NULL or empty", s);
}

static void c_sn_set_num_threads(void) {
    static const int32_t v[] = {0, 1, 1, 1, 2, 64, 65, -1, INT32_MAX, INT32_MIN};
    int32_t n = sane(90) ? PICK(v) : any_i32();
    DESCRIBE(sn_set_num_threads, "sn_set_num_threads(%d)", n);
    sn_status s = CHECK(sn_set_num_threads, sn_set_num_threads(n));
    if ((n >= 0 && n <= 64) != (s == SN_OK)) violation("sn_set_num_threads(%d) returned %d", n, s);
    /* Keep runs small: back to one thread most of the time. */
    if (chance(70)) {
        DESCRIBE(sn_set_num_threads, "sn_set_num_threads(1)");
        CHECK(sn_set_num_threads, sn_set_num_threads(1));
    }
}

static void c_sn_get_num_threads(void) {
    DESCRIBE(sn_get_num_threads, "sn_get_num_threads()");
    int32_t n = sn_get_num_threads();
    counted(F_sn_get_num_threads);
    if (n < 1 || n > 1024) violation("sn_get_num_threads() = %d", n);
}

/* Dimensions: small valid ones mostly, or ones no model may have. */
static int32_t any_dim(void) {
    static const int32_t good[] = {1, 1, 2, 3, 4, 4, 5, 8, 8, 16, 28};
    static const int32_t bad[] = {0, -1, -28, INT32_MAX, INT32_MIN, INT32_MAX - 1};
    return sane(85) ? PICK(good) : PICK(bad);
}

/* A width for Linear/Conv2d outputs: small, or invalid whatever the input. */
static int32_t any_width(void) {
    static const int32_t good[] = {1, 2, 3, 4, 8, 10, 16};
    static const int32_t bad[] = {0, -1, INT32_MAX, INT32_MIN, -65536};
    return sane(85) ? PICK(good) : PICK(bad);
}

static void c_sn_model_create(void) {
    int32_t c = any_dim(), h = any_dim(), w = any_dim();
    /* Inputs the library may accept stay small enough to run. */
    if (c > 0 && h > 0 && w > 0 && (int64_t)c * h * w > 4096) { c = 1; h = 8; w = 8; }
    sn_model *m = NULL;
    int null_out = hostile(5);
    DESCRIBE(sn_model_create, "sn_model_create(%d, %d, %d, %s)", c, h, w, null_out ? "NULL" : "&m");
    if (CHECK(sn_model_create, sn_model_create(c, h, w, null_out ? NULL : &m)) == SN_OK) keep_model(m);
}

/* Refuses layer calls that would make a legitimately huge model (only when the model is live
 * and its current output is large); returns 1 to go ahead. */
static int model_is_small(sn_model *m) {
    size_t in, out;
    model_sizes(m, &in, &out);
    return out <= 4096;
}

static void c_sn_model_add_linear(void) {
    sn_model *m = pick_model();
    int32_t out = any_width(), bias = sane(80) ? (int32_t)below(2) : any_i32(), init = sane(80) ? (int32_t)below(2) : any_i32();
    uint64_t seed = next_u64();
    if (!model_is_small(m)) return;
    DESCRIBE(sn_model_add_linear, "sn_model_add_linear(model %p, %d, bias %d, init %d, seed %llu)", (void *)m, out, bias,
             init, (unsigned long long)seed);
    CHECK(sn_model_add_linear, sn_model_add_linear(m, out, bias, init, seed));
}

static void c_sn_model_add_relu(void) {
    sn_model *m = pick_model();
    DESCRIBE(sn_model_add_relu, "sn_model_add_relu(model %p)", (void *)m);
    CHECK(sn_model_add_relu, sn_model_add_relu(m));
}

static void c_sn_model_add_dropout(void) {
    sn_model *m = pick_model();
    float p = sane(50) ? 0.25f : any_float();
    DESCRIBE(sn_model_add_dropout, "sn_model_add_dropout(model %p, %g)", (void *)m, p);
    CHECK(sn_model_add_dropout, sn_model_add_dropout(m, p));
}

static void c_sn_model_add_batchnorm1d(void) {
    sn_model *m = pick_model();
    float momentum = sane(50) ? 0.1f : any_float(), eps = sane(50) ? 1e-5f : any_float();
    DESCRIBE(sn_model_add_batchnorm1d, "sn_model_add_batchnorm1d(model %p, %g, %g)", (void *)m, momentum, eps);
    CHECK(sn_model_add_batchnorm1d, sn_model_add_batchnorm1d(m, momentum, eps));
}

static void c_sn_model_add_flatten(void) {
    sn_model *m = pick_model();
    DESCRIBE(sn_model_add_flatten, "sn_model_add_flatten(model %p)", (void *)m);
    CHECK(sn_model_add_flatten, sn_model_add_flatten(m));
}

static void c_sn_model_add_conv2d(void) {
    static const int32_t k[] = {1, 2, 3, 3, 5, 0, -1, 15, 16, INT32_MAX, INT32_MIN};
    static const int32_t st[] = {1, 1, 2, 3, 0, -1, 15, 16, INT32_MAX};
    static const int32_t pad[] = {0, 0, 1, 2, -1, 14, 15, INT32_MAX, INT32_MIN};
    sn_model *m = pick_model();
    int32_t out = any_width(), ks = PICK(k), stride = PICK(st), padding = PICK(pad);
    if (sane(50)) { /* a convolution that fits: 1, 3 or 5, stride 1 or 2, no or "same" padding */
        ks = 1 + 2 * (int32_t)below(3);
        stride = 1 + (int32_t)below(2);
        padding = chance(50) ? 0 : ks / 2;
    }
    int32_t bias = sane(80) ? (int32_t)below(2) : any_i32(), init = sane(80) ? (int32_t)below(2) : any_i32();
    uint64_t seed = next_u64();
    if (!model_is_small(m)) return;
    DESCRIBE(sn_model_add_conv2d, "sn_model_add_conv2d(model %p, out %d, kernel %d, stride %d, padding %d, bias %d, init %d, seed %llu)",
             (void *)m, out, ks, stride, padding, bias, init, (unsigned long long)seed);
    CHECK(sn_model_add_conv2d, sn_model_add_conv2d(m, out, ks, stride, padding, bias, init, seed));
}

static void c_sn_model_add_pool(int max) {
    static const int32_t k[] = {1, 2, 2, 3, 0, -1, 64, INT32_MAX, INT32_MIN};
    static const int32_t st[] = {0, 0, 1, 2, 3, -1, INT32_MAX, INT32_MIN};
    sn_model *m = pick_model();
    int32_t ks = PICK(k), stride = PICK(st);
    if (max) {
        DESCRIBE(sn_model_add_maxpool2d, "sn_model_add_maxpool2d(model %p, %d, %d)", (void *)m, ks, stride);
        CHECK(sn_model_add_maxpool2d, sn_model_add_maxpool2d(m, ks, stride));
    } else {
        DESCRIBE(sn_model_add_avgpool2d, "sn_model_add_avgpool2d(model %p, %d, %d)", (void *)m, ks, stride);
        CHECK(sn_model_add_avgpool2d, sn_model_add_avgpool2d(m, ks, stride));
    }
}
static void c_sn_model_add_maxpool2d(void) { c_sn_model_add_pool(1); }
static void c_sn_model_add_avgpool2d(void) { c_sn_model_add_pool(0); }

static void c_sn_model_add_globalavgpool2d(void) {
    sn_model *m = pick_model();
    DESCRIBE(sn_model_add_globalavgpool2d, "sn_model_add_globalavgpool2d(model %p)", (void *)m);
    CHECK(sn_model_add_globalavgpool2d, sn_model_add_globalavgpool2d(m));
}

static void c_sn_model_add_batchnorm2d(void) {
    sn_model *m = pick_model();
    float momentum = sane(50) ? 0.1f : any_float(), eps = sane(50) ? 1e-5f : any_float();
    DESCRIBE(sn_model_add_batchnorm2d, "sn_model_add_batchnorm2d(model %p, %g, %g)", (void *)m, momentum, eps);
    CHECK(sn_model_add_batchnorm2d, sn_model_add_batchnorm2d(m, momentum, eps));
}

static int64_t any_budget(void) {
    static const int64_t v[] = {-1, 0, 1, 100, 1000, 4999, 5000, 8000, 20000, 100000, 100000001, INT64_MAX,
                                INT64_MIN, (int64_t)1 << 40, INT32_MAX};
    return PICK(v);
}

static void c_sn_fcn_params_default(void) {
    sn_fcn_params p;
    int null_out = hostile(10);
    DESCRIBE(sn_fcn_params_default, "sn_fcn_params_default(%s)", null_out ? "NULL" : "&p");
    CHECK(sn_fcn_params_default, sn_fcn_params_default(null_out ? NULL : &p));
}

static void c_sn_model_create_fcn(void) {
    sn_fcn_params p;
    memset(&p, 0, sizeof p);
    DESCRIBE(sn_fcn_params_default, "sn_fcn_params_default(&p)");
    CHECK(sn_fcn_params_default, sn_fcn_params_default(&p));
    int32_t hidden[80];
    for (int i = 0; i < 80; i++) hidden[i] = sane(90) ? (int32_t)(1 + below(12)) : any_width();
    p.struct_size = any_struct_size(sizeof p);
    if (chance(60)) { p.channels = any_dim(); p.height = any_dim(); p.width = any_dim(); }
    if (p.channels > 0 && p.height > 0 && p.width > 0 && (int64_t)p.channels * p.height * p.width > 4096) {
        p.channels = 1; p.height = 8; p.width = 8;
    }
    p.classes = sane(70) ? (int32_t)(2 + below(9)) : any_i32();
    switch (below(4)) {
    case 0: p.hidden = hidden; p.n_hidden = 1 + below(3); break;
    case 1: p.hidden = hidden; p.n_hidden = PICK(((size_t[]){0, 64, 65, 80, SIZE_MAX})); break;
    case 2: p.hidden = NULL; p.n_hidden = sane(80) ? 0 : any_index(); break;
    default: p.hidden = NULL; p.n_hidden = 0; break;
    }
    p.param_budget = sane(50) ? (int64_t)(1000 + below(20000)) : any_budget();
    if (hostile(30)) p.dropout = any_float();
    if (hostile(20)) p.batchnorm = any_i32();
    if (hostile(20)) p.init = any_i32();
    p.seed = next_u64();
    sn_model *m = NULL;
    int null_params = hostile(4), null_out = hostile(4);
    DESCRIBE(sn_model_create_fcn,
             "sn_model_create_fcn({struct_size %u, input %d×%d×%d, classes %d, hidden %s n_hidden %zu, budget %lld, dropout %g, "
             "batchnorm %d, init %d}%s, %s)",
             p.struct_size, p.channels, p.height, p.width, p.classes, p.hidden ? "[…]" : "NULL", p.n_hidden,
             (long long)p.param_budget, p.dropout, p.batchnorm, p.init, null_params ? " → NULL" : "", null_out ? "NULL" : "&m");
    if (CHECK(sn_model_create_fcn, sn_model_create_fcn(null_params ? NULL : &p, null_out ? NULL : &m)) == SN_OK)
        keep_model(m);
}

static void c_sn_cnn_params_default(void) {
    sn_cnn_params p;
    int null_out = hostile(10);
    DESCRIBE(sn_cnn_params_default, "sn_cnn_params_default(%s)", null_out ? "NULL" : "&p");
    CHECK(sn_cnn_params_default, sn_cnn_params_default(null_out ? NULL : &p));
}

static void c_sn_model_create_cnn(void) {
    sn_cnn_params p;
    memset(&p, 0, sizeof p);
    DESCRIBE(sn_cnn_params_default, "sn_cnn_params_default(&p)");
    CHECK(sn_cnn_params_default, sn_cnn_params_default(&p));
    int32_t widths[20];
    for (int i = 0; i < 20; i++) widths[i] = sane(90) ? (int32_t)(1 + below(6)) : any_width();
    p.struct_size = any_struct_size(sizeof p);
    if (chance(70)) { p.channels = any_dim(); p.height = any_dim(); p.width = any_dim(); }
    if (p.channels > 0 && p.height > 0 && p.width > 0 && (int64_t)p.channels * p.height * p.width > 4096) {
        p.channels = 1; p.height = 8; p.width = 8;
    }
    p.classes = sane(70) ? (int32_t)(2 + below(9)) : any_i32();
    switch (below(4)) {
    case 0: p.widths = widths; p.n_blocks = 1 + below(3); break;
    case 1: p.widths = widths; p.n_blocks = PICK(((size_t[]){0, 16, 17, 20, SIZE_MAX})); break;
    case 2: p.widths = NULL; p.n_blocks = sane(80) ? 0 : any_index(); break;
    default: p.widths = NULL; p.n_blocks = 0; break;
    }
    p.param_budget = sane(50) ? (int64_t)(5000 + below(20000)) : any_budget();
    if (hostile(20)) p.head = any_i32(); else p.head = (int32_t)below(2);
    if (hostile(30)) p.dropout = any_float();
    if (hostile(20)) p.init = any_i32();
    p.seed = next_u64();
    sn_model *m = NULL;
    int null_params = hostile(4), null_out = hostile(4);
    DESCRIBE(sn_model_create_cnn,
             "sn_model_create_cnn({struct_size %u, input %d×%d×%d, classes %d, widths %s n_blocks %zu, budget %lld, head %d, "
             "dropout %g, init %d}%s, %s)",
             p.struct_size, p.channels, p.height, p.width, p.classes, p.widths ? "[…]" : "NULL", p.n_blocks,
             (long long)p.param_budget, p.head, p.dropout, p.init, null_params ? " → NULL" : "", null_out ? "NULL" : "&m");
    if (CHECK(sn_model_create_cnn, sn_model_create_cnn(null_params ? NULL : &p, null_out ? NULL : &m)) == SN_OK)
        keep_model(m);
}

static void free_model_checked(sn_model *m) {
    DESCRIBE(sn_model_free, "sn_model_free(model %p)", (void *)m);
    sn_model_free(m);
    counted(F_sn_model_free);
    BURY_MODEL(m);
}
static void c_sn_model_free(void) { free_model_checked(pick_model()); }

static void c_sn_model_n_params(void) {
    sn_model *m = pick_model();
    int64_t n;
    int null_out = hostile(10);
    DESCRIBE(sn_model_n_params, "sn_model_n_params(model %p, %s)", (void *)m, null_out ? "NULL" : "&n");
    CHECK(sn_model_n_params, sn_model_n_params(m, null_out ? NULL : &n));
}

static void c_sn_model_input_shape(void) {
    sn_model *m = pick_model();
    int32_t c, h, w;
    int mask = (int)below(8);
    DESCRIBE(sn_model_input_shape, "sn_model_input_shape(model %p, %s, %s, %s)", (void *)m, mask & 1 ? "NULL" : "&c",
             mask & 2 ? "NULL" : "&h", mask & 4 ? "NULL" : "&w");
    CHECK(sn_model_input_shape, sn_model_input_shape(m, mask & 1 ? NULL : &c, mask & 2 ? NULL : &h, mask & 4 ? NULL : &w));
}

static void c_sn_model_n_outputs(void) {
    sn_model *m = pick_model();
    int64_t n;
    int null_out = hostile(10);
    DESCRIBE(sn_model_n_outputs, "sn_model_n_outputs(model %p, %s)", (void *)m, null_out ? "NULL" : "&n");
    CHECK(sn_model_n_outputs, sn_model_n_outputs(m, null_out ? NULL : &n));
}

static void c_sn_model_n_layers(void) {
    sn_model *m = pick_model();
    size_t n;
    int null_out = hostile(10);
    DESCRIBE(sn_model_n_layers, "sn_model_n_layers(model %p, %s)", (void *)m, null_out ? "NULL" : "&n");
    CHECK(sn_model_n_layers, sn_model_n_layers(m, null_out ? NULL : &n));
}

static void c_sn_model_layer_info(void) {
    sn_model *m = pick_model();
    sn_layer_info info;
    memset(&info, 0x5a, sizeof info);
    info.struct_size = any_struct_size(sizeof info);
    size_t index = sane(60) ? below(8) : any_index();
    int null_out = hostile(5);
    DESCRIBE(sn_model_layer_info, "sn_model_layer_info(model %p, %zu, %s struct_size %u)", (void *)m, index,
             null_out ? "NULL" : "&info", info.struct_size);
    if (CHECK(sn_model_layer_info, sn_model_layer_info(m, index, null_out ? NULL : &info)) == SN_OK) {
        if (memchr(info.summary, 0, sizeof info.summary) == NULL) violation("layer summary not NUL-terminated");
        if (!valid_utf8((const unsigned char *)info.summary)) violation("layer summary not UTF-8");
    }
}

static void c_sn_model_set_training(void) {
    sn_model *m = pick_model();
    int32_t t = sane(80) ? (int32_t)below(2) : any_i32();
    DESCRIBE(sn_model_set_training, "sn_model_set_training(model %p, %d)", (void *)m, t);
    CHECK(sn_model_set_training, sn_model_set_training(m, t));
}

static void c_sn_model_is_training(void) {
    sn_model *m = pick_model();
    int32_t t;
    int null_out = hostile(10);
    DESCRIBE(sn_model_is_training, "sn_model_is_training(model %p, %s)", (void *)m, null_out ? "NULL" : "&t");
    if (CHECK(sn_model_is_training, sn_model_is_training(m, null_out ? NULL : &t)) == SN_OK && t != 0 && t != 1)
        violation("is_training = %d", t);
}

static void c_sn_model_n_tensors(void) {
    sn_model *m = pick_model();
    size_t n;
    int null_out = hostile(10);
    DESCRIBE(sn_model_n_tensors, "sn_model_n_tensors(model %p, %s)", (void *)m, null_out ? "NULL" : "&n");
    CHECK(sn_model_n_tensors, sn_model_n_tensors(m, null_out ? NULL : &n));
}

static void c_sn_model_tensor_info(void) {
    sn_model *m = pick_model();
    sn_tensor_info info;
    memset(&info, 0x5a, sizeof info);
    info.struct_size = any_struct_size(sizeof info);
    size_t index = sane(60) ? below(12) : any_index();
    int null_out = hostile(5);
    DESCRIBE(sn_model_tensor_info, "sn_model_tensor_info(model %p, %zu, %s struct_size %u)", (void *)m, index,
             null_out ? "NULL" : "&info", info.struct_size);
    if (CHECK(sn_model_tensor_info, sn_model_tensor_info(m, index, null_out ? NULL : &info)) == SN_OK &&
        memchr(info.name, 0, sizeof info.name) == NULL)
        violation("tensor name not NUL-terminated");
}

/* A tensor name of a live model (from sn_model_tensor_info) with its size, or a hostile name. */
static const char *any_tensor_name(sn_model *m, char *buf, size_t *count) {
    *count = 0;
    if (chance(75) && index_of((void **)models, n_models, m) >= 0) {
        sn_tensor_info info = {.struct_size = sizeof info};
        size_t index = below(10);
        DESCRIBE(sn_model_tensor_info, "sn_model_tensor_info(model %p, %zu, &info)", (void *)m, index);
        if (CHECK(sn_model_tensor_info, sn_model_tensor_info(m, index, &info)) == SN_OK) {
            memcpy(buf, info.name, sizeof info.name);
            *count = (size_t)info.count;
            return buf;
        }
    }
    return any_text();
}

/* A capacity the buffer of `real` elements honours, or one that is negative as a Swift Int. */
static size_t any_capacity(size_t needed, size_t real) {
    size_t v;
    switch (clean ? (chance(50) ? 4 : 5) : below(8)) {
    case 0: v = 0; break;
    case 1: v = needed > 0 ? needed - 1 : 0; break;
    case 2: v = SIZE_MAX; break;
    case 3: v = (size_t)1 << 63; break;
    case 4: v = real; break;
    default: v = needed; break;
    }
    if (v > real && v < ((size_t)1 << 63)) v = real;
    return v;
}

static void c_sn_model_get_tensor_or_grad(int grad) {
    sn_model *m = pick_model();
    char name[64];
    size_t count;
    const char *n = any_tensor_name(m, name, &count);
    size_t capacity = any_capacity(count, FLOATS);
    int null_dst = hostile(5);
    if (grad) {
        DESCRIBE(sn_model_get_grad, "sn_model_get_grad(model %p, \"%.40s\", %s, %zu)", (void *)m, n ? n : "(null)",
                 null_dst ? "NULL" : "dst", capacity);
        CHECK(sn_model_get_grad, sn_model_get_grad(m, n, null_dst ? NULL : fout, capacity));
    } else {
        DESCRIBE(sn_model_get_tensor, "sn_model_get_tensor(model %p, \"%.40s\", %s, %zu)", (void *)m, n ? n : "(null)",
                 null_dst ? "NULL" : "dst", capacity);
        CHECK(sn_model_get_tensor, sn_model_get_tensor(m, n, null_dst ? NULL : fout, capacity));
    }
}
static void c_sn_model_get_tensor(void) { c_sn_model_get_tensor_or_grad(0); }
static void c_sn_model_get_grad(void) { c_sn_model_get_tensor_or_grad(1); }

static void c_sn_model_set_tensor(void) {
    sn_model *m = pick_model();
    char name[64];
    size_t count;
    const char *n = any_tensor_name(m, name, &count);
    size_t k = any_count(count < FLOATS ? count : FLOATS - 1);
    if (chance(30) && count + 1 < FLOATS) k = count + 1;
    size_t filled = k < FLOATS ? k : FLOATS;
    fill_floats(fin, filled, hostile(30));
    int null_src = hostile(5);
    DESCRIBE(sn_model_set_tensor, "sn_model_set_tensor(model %p, \"%.40s\", %s, %zu)", (void *)m, n ? n : "(null)",
             null_src ? "NULL" : "src", k);
    CHECK(sn_model_set_tensor, sn_model_set_tensor(m, n, null_src ? NULL : fin, k));
}

static void c_sn_model_forward(void) {
    sn_model *m = pick_model();
    size_t in, outputs;
    model_sizes(m, &in, &outputs);
    size_t most = 64;
    if (in && most * in > FLOATS) most = FLOATS / in;
    if (outputs && most * outputs > FLOATS) most = FLOATS / outputs;
    size_t n = any_count(most);
    if (n > most && n < ((size_t)1 << 63)) n = most;
    size_t capacity = any_capacity(n * outputs, FLOATS);
    fill_floats(fin, n <= most ? n * in : 0, hostile(20));
    int null_in = hostile(4), null_out = hostile(4);
    DESCRIBE(sn_model_forward, "sn_model_forward(model %p, %s, n %zu, %s, capacity %zu)", (void *)m,
             null_in ? "NULL" : "input", n, null_out ? "NULL" : "output", capacity);
    if (CHECK(sn_model_forward, sn_model_forward(m, null_in ? NULL : fin, n, null_out ? NULL : fout, capacity)) == SN_OK) {
        last_forward = m;
        last_forward_n = n;
    }
}

static void c_sn_cross_entropy(void) {
    size_t classes = PICK(((size_t[]){0, 1, 2, 3, 10, 256, SIZE_MAX, (size_t)1 << 63}));
    size_t most = classes && classes < ((size_t)1 << 63) ? FLOATS / classes : 64;
    if (most > 64) most = 64;
    size_t n = any_count(most);
    if (n > most && n < ((size_t)1 << 63)) n = most;
    int honest = n <= most && classes < ((size_t)1 << 63);
    if (honest) {
        fill_floats(fin, n * classes, hostile(20));
        fill_labels(labels_buf, n, (int32_t)(classes < 1000 ? classes : 2), hostile(25));
    }
    float loss, smoothing = sane(60) ? 0.1f : any_float();
    int null_logits = hostile(4), null_labels = hostile(4), null_loss = hostile(4), with_d = chance(60);
    DESCRIBE(sn_cross_entropy, "sn_cross_entropy(%s, %s, n %zu, classes %zu, smoothing %g, %s, %s)",
             null_logits ? "NULL" : "logits", null_labels ? "NULL" : "labels", n, classes, smoothing,
             null_loss ? "NULL" : "&loss", with_d ? "dlogits" : "NULL");
    CHECK(sn_cross_entropy, sn_cross_entropy(null_logits ? NULL : fin, null_labels ? NULL : labels_buf, n, classes,
                                             smoothing, null_loss ? NULL : &loss, with_d ? fout : NULL));
}

/* Loss options: defaults of a kind, often with hostile fields (weights point at honest buffers
 * of n_class_weights / n_pos_weight floats, or NULL with a count). */
static float loss_weights[300];
static void any_loss_params(sn_loss_params *p) {
    int32_t kind = sane(85) ? (int32_t)below(7) : any_i32();
    if (sn_loss_params_default(kind, p) != SN_OK) sn_loss_params_default(SN_LOSS_CROSS_ENTROPY, p);
    p->struct_size = any_struct_size(sizeof *p);
    if (!sane(85)) p->kind = kind;
    if (hostile(15)) p->reduction = sane(50) ? (int32_t)below(3) : any_i32();
    else p->reduction = (int32_t)below(3);
    if (hostile(15)) p->label_smoothing = any_float();
    if (hostile(15)) p->ignore_index = any_i32();
    if (hostile(15)) p->beta = any_float();
    if (hostile(15)) p->delta = any_float();
    for (size_t i = 0; i < 300; i++) loss_weights[i] = hostile(5) ? any_float() : 0.5f + (float)below(3);
    if (chance(30)) {
        p->n_class_weights = PICK(((size_t[]){1, 2, 3, 10, 256, 300}));
        p->class_weights = hostile(10) ? NULL : loss_weights;
    } else if (hostile(5)) {
        p->n_class_weights = any_index();
    }
    if (chance(20)) {
        p->n_pos_weight = PICK(((size_t[]){1, 2, 3, 10, 256, 300}));
        p->pos_weight = hostile(10) ? NULL : loss_weights;
    }
}

static void c_sn_loss_params_default(void) {
    sn_loss_params p;
    int32_t kind = sane(70) ? (int32_t)below(7) : any_i32();
    int null_out = hostile(10);
    DESCRIBE(sn_loss_params_default, "sn_loss_params_default(%d, %s)", kind, null_out ? "NULL" : "&p");
    CHECK(sn_loss_params_default, sn_loss_params_default(kind, null_out ? NULL : &p));
}

static void c_sn_loss(void) {
    sn_loss_params p;
    any_loss_params(&p);
    size_t classes = PICK(((size_t[]){0, 1, 2, 3, 10, 256, SIZE_MAX, (size_t)1 << 63}));
    size_t most = classes && classes < ((size_t)1 << 63) ? FLOATS / classes : 64;
    if (most > 64) most = 64;
    size_t n = any_count(most);
    if (n > most && n < ((size_t)1 << 63)) n = most;
    int honest = n <= most && classes < ((size_t)1 << 63);
    if (honest) {
        fill_floats(fin, n * classes, hostile(20));
        fill_floats(ftargets, n * classes, hostile(20));
        fill_labels(labels_buf, n, (int32_t)(classes < 1000 ? classes : 2), hostile(25));
        if (chance(10) && n) labels_buf[below((uint32_t)n)] = p.ignore_index;
    }
    size_t capacity = any_capacity(honest ? n * classes : 1, FLOATS);
    int null_params = hostile(4), null_input = hostile(4), null_labels = hostile(10), null_targets = hostile(10);
    int null_out = hostile(4), with_d = chance(60);
    DESCRIBE(sn_loss,
             "sn_loss({struct_size %u, kind %d, reduction %d, smoothing %g, ignore %d, weights %s×%zu, beta %g, "
             "delta %g, pos_weight %s×%zu}%s, %s, n %zu, classes %zu, %s, %s, %s, capacity %zu, %s)",
             p.struct_size, p.kind, p.reduction, p.label_smoothing, p.ignore_index,
             p.class_weights ? "w" : "NULL", p.n_class_weights, p.beta, p.delta, p.pos_weight ? "w" : "NULL",
             p.n_pos_weight, null_params ? " → NULL" : "", null_input ? "NULL" : "input", n, classes,
             null_labels ? "NULL" : "labels", null_targets ? "NULL" : "targets", null_out ? "NULL" : "out", capacity,
             with_d ? "dinput" : "NULL");
    CHECK(sn_loss, sn_loss(null_params ? NULL : &p, null_input ? NULL : fin, n, classes,
                           null_labels ? NULL : labels_buf, null_targets ? NULL : ftargets,
                           null_out ? NULL : floss, capacity, with_d ? fout : NULL));
}

static void c_sn_model_forward(void);
static void c_sn_model_backward(void) {
    if (sane(40)) c_sn_model_forward(); /* often after a forward pass (of some model, some n) */
    sn_model *m = last_forward && sane(70) ? last_forward : pick_model();
    size_t in, outputs;
    model_sizes(m, &in, &outputs);
    size_t most = outputs ? FLOATS / outputs : 64;
    if (most > 64) most = 64;
    size_t n = last_forward == m && sane(70) ? last_forward_n : any_count(most);
    if (n > most && n < ((size_t)1 << 63)) n = most;
    fill_floats(fin, n <= most ? n * outputs : 0, hostile(20));
    int null_d = hostile(5);
    DESCRIBE(sn_model_backward, "sn_model_backward(model %p, %s, n %zu)", (void *)m, null_d ? "NULL" : "dlogits", n);
    CHECK(sn_model_backward, sn_model_backward(m, null_d ? NULL : fin, n));
}

static void c_sn_model_zero_grad(void) {
    sn_model *m = pick_model();
    DESCRIBE(sn_model_zero_grad, "sn_model_zero_grad(model %p)", (void *)m);
    CHECK(sn_model_zero_grad, sn_model_zero_grad(m));
}

static void c_sn_optimizer_params_default(void) {
    int32_t kind = sane(70) ? (int32_t)below(5) : any_i32();
    sn_optimizer_params p;
    int null_out = hostile(10);
    DESCRIBE(sn_optimizer_params_default, "sn_optimizer_params_default(%d, %s)", kind, null_out ? "NULL" : "&p");
    CHECK(sn_optimizer_params_default, sn_optimizer_params_default(kind, null_out ? NULL : &p));
}

/* Optimizer params of a kind, often with hostile fields. */
static void any_optimizer_params(sn_optimizer_params *p) {
    memset(p, 0, sizeof *p);
    int32_t kind = (int32_t)below(5);
    DESCRIBE(sn_optimizer_params_default, "sn_optimizer_params_default(%d, &p)", kind);
    CHECK(sn_optimizer_params_default, sn_optimizer_params_default(kind, p));
    p->struct_size = any_struct_size(sizeof *p);
    if (hostile(10)) p->kind = any_i32();
    if (hostile(25)) p->lr = any_float();
    if (hostile(15)) p->momentum = any_float();
    if (hostile(10)) p->dampening = any_float();
    if (hostile(10)) p->nesterov = sane(50) ? 1 : any_i32();
    if (hostile(10)) p->weight_decay = any_float();
    if (hostile(10)) p->alpha = any_float();
    if (hostile(10)) p->centered = sane(50) ? 1 : any_i32();
    if (hostile(10)) p->beta1 = any_float();
    if (hostile(10)) p->beta2 = any_float();
    if (hostile(10)) p->eps = any_float();
}

static void c_sn_optimizer_create(void) {
    sn_model *m = pick_model();
    sn_optimizer_params p;
    any_optimizer_params(&p);
    sn_optimizer *o = NULL;
    int null_params = hostile(4), null_out = hostile(4);
    DESCRIBE(sn_optimizer_create,
             "sn_optimizer_create(model %p, {struct_size %u, kind %d, lr %g, momentum %g, dampening %g, nesterov %d, "
             "weight_decay %g, alpha %g, centered %d, betas %g/%g, eps %g}%s, %s)",
             (void *)m, p.struct_size, p.kind, p.lr, p.momentum, p.dampening, p.nesterov, p.weight_decay, p.alpha,
             p.centered, p.beta1, p.beta2, p.eps, null_params ? " → NULL" : "", null_out ? "NULL" : "&o");
    if (CHECK(sn_optimizer_create, sn_optimizer_create(m, null_params ? NULL : &p, null_out ? NULL : &o)) == SN_OK)
        keep_optimizer(o);
}

static void c_sn_optimizer_step(void) {
    sn_optimizer *o = pick_optimizer();
    DESCRIBE(sn_optimizer_step, "sn_optimizer_step(optimizer %p)", (void *)o);
    CHECK(sn_optimizer_step, sn_optimizer_step(o));
}

static void c_sn_optimizer_get_lr(void) {
    sn_optimizer *o = pick_optimizer();
    float lr;
    int null_out = hostile(10);
    DESCRIBE(sn_optimizer_get_lr, "sn_optimizer_get_lr(optimizer %p, %s)", (void *)o, null_out ? "NULL" : "&lr");
    CHECK(sn_optimizer_get_lr, sn_optimizer_get_lr(o, null_out ? NULL : &lr));
}

static void c_sn_optimizer_set_lr(void) {
    sn_optimizer *o = pick_optimizer();
    float lr = sane(40) ? 0.01f : any_float();
    DESCRIBE(sn_optimizer_set_lr, "sn_optimizer_set_lr(optimizer %p, %g)", (void *)o, lr);
    CHECK(sn_optimizer_set_lr, sn_optimizer_set_lr(o, lr));
}

static void free_optimizer_checked(sn_optimizer *o) {
    DESCRIBE(sn_optimizer_free, "sn_optimizer_free(optimizer %p)", (void *)o);
    sn_optimizer_free(o);
    counted(F_sn_optimizer_free);
    BURY_OPTIMIZER(o);
}
static void c_sn_optimizer_free(void) { free_optimizer_checked(pick_optimizer()); }

static void hostile_schedule(sn_schedule *s) {
    DESCRIBE(sn_schedule_default, "sn_schedule_default(&s)");
    CHECK(sn_schedule_default, sn_schedule_default(s));
    s->struct_size = any_struct_size(sizeof *s);
    if (chance(40)) s->kind = sane(60) ? (int32_t)below(6) : any_i32();
    if (hostile(30)) s->step_size = any_i32();
    if (hostile(30)) s->gamma = any_float();
    if (hostile(30)) s->warmup_epochs = any_float();
    if (hostile(30)) s->min_lr = any_float();
}

/* Schedule options: the defaults, often with hostile fields or size. */
static void any_schedule_options(sn_schedule_options *o) {
    o->struct_size = sizeof *o;
    DESCRIBE(sn_schedule_options_default, "sn_schedule_options_default(&o)");
    CHECK(sn_schedule_options_default, sn_schedule_options_default(o));
    o->struct_size = any_struct_size(sizeof *o);
    if (chance(30)) o->warmup_every_kind = sane(70) ? (int32_t)below(2) : any_i32();
    if (hostile(20)) o->pct_start = any_float();
    if (chance(30)) o->anneal_strategy = sane(70) ? (int32_t)below(2) : any_i32();
    if (hostile(20)) o->div_factor = any_float();
    if (hostile(20)) o->final_div_factor = any_float();
    if (hostile(20)) o->factor = any_float();
    if (chance(30)) o->patience = sane(70) ? (int32_t)below(3) : any_i32();
    if (hostile(20)) o->threshold = any_float();
    if (chance(20)) o->cooldown = sane(70) ? (int32_t)below(3) : any_i32();
}

static void c_sn_schedule_default(void) {
    sn_schedule s;
    int null_out = hostile(10);
    DESCRIBE(sn_schedule_default, "sn_schedule_default(%s)", null_out ? "NULL" : "&s");
    CHECK(sn_schedule_default, sn_schedule_default(null_out ? NULL : &s));
}

static void c_sn_schedule_lr(void) {
    sn_schedule s;
    hostile_schedule(&s);
    float base = sane(50) ? 0.1f : any_float(), lr;
    int64_t step = sane(50) ? (int64_t)below(1000) : any_i64();
    int64_t total = sane(50) ? (int64_t)below(2000) : any_i64();
    int64_t per_epoch = sane(50) ? (int64_t)(1 + below(100)) : any_i64();
    int null_s = hostile(4), null_out = hostile(4);
    DESCRIBE(sn_schedule_lr, "sn_schedule_lr({struct_size %u, kind %d, step_size %d, gamma %g, warmup %g, min_lr %g}%s, "
             "base %g, step %lld, total %lld, per_epoch %lld, %s)",
             s.struct_size, s.kind, s.step_size, s.gamma, s.warmup_epochs, s.min_lr, null_s ? " → NULL" : "", base,
             (long long)step, (long long)total, (long long)per_epoch, null_out ? "NULL" : "&lr");
    CHECK(sn_schedule_lr, sn_schedule_lr(null_s ? NULL : &s, base, step, total, per_epoch, null_out ? NULL : &lr));
}

static void c_sn_dataset_load_fashion_mnist(void) {
    const char *dir;
    switch (below(6)) {
    case 0: dir = NULL; break;
    case 1: case 2: dir = paths[P_FMNIST]; break;
    default: dir = read_path(); break;
    }
    int32_t train = sane(80) ? (int32_t)below(2) : any_i32(), verify = sane(80) ? (int32_t)below(2) : any_i32();
    sn_dataset *d = NULL;
    int null_out = hostile(5);
    DESCRIBE(sn_dataset_load_fashion_mnist, "sn_dataset_load_fashion_mnist(\"%.200s\", train %d, verify %d, %s)",
             dir ? dir : "(null)", train, verify, null_out ? "NULL" : "&d");
    if (CHECK(sn_dataset_load_fashion_mnist, sn_dataset_load_fashion_mnist(dir, train, verify, null_out ? NULL : &d)) == SN_OK)
        keep_dataset(d);
}

static void c_sn_dataset_load_idx(void) {
    static const int images[] = {P_IMAGES, P_IMAGES_GZ, P_IMAGES, P_LABELS, P_GARBAGE, P_EMPTY, P_FIFO, P_DIR, P_MISSING};
    static const int labels[] = {P_LABELS, P_LABELS_GZ, P_LABELS, P_LABELS_SHORT, P_LABELS_BIG, P_IMAGES, P_GARBAGE,
                                 P_FIFO, P_DIR};
    const char *ip = sane(85) ? paths[PICK(images)] : read_path();
    const char *lp = sane(85) ? paths[PICK(labels)] : read_path();
    int32_t classes = sane(60) ? PICK(((int32_t[]){3, 10, 256})) : any_i32();
    float mean = sane(70) ? 0.5f : any_float(), std = sane(70) ? 0.25f : any_float();
    sn_dataset *d = NULL;
    int null_out = hostile(5);
    DESCRIBE(sn_dataset_load_idx, "sn_dataset_load_idx(\"%.200s\", \"%.200s\", classes %d, mean %g, std %g, %s)",
             ip ? ip : "(null)", lp ? lp : "(null)", classes, mean, std, null_out ? "NULL" : "&d");
    if (CHECK(sn_dataset_load_idx, sn_dataset_load_idx(ip, lp, classes, mean, std, null_out ? NULL : &d)) == SN_OK)
        keep_dataset(d);
}

/* Shapes for datasets: often those of the models, so that fit and predict run. */
static void any_sample_shape(int32_t *c, int32_t *h, int32_t *w) {
    static const int32_t shapes[][3] = {{1, 8, 8}, {1, 4, 4}, {1, 1, 1}, {3, 8, 8}, {1, 28, 28}, {2, 5, 3}, {1, 16, 16}};
    if (chance(60) && n_models > 0) {
        sn_model *m = models[below((uint32_t)n_models)];
        DESCRIBE(sn_model_input_shape, "sn_model_input_shape(model %p, &c, &h, &w)", (void *)m);
        if (CHECK(sn_model_input_shape, sn_model_input_shape(m, c, h, w)) == SN_OK) return;
    }
    int i = (int)below(sizeof shapes / sizeof shapes[0]);
    *c = shapes[i][0]; *h = shapes[i][1]; *w = shapes[i][2];
    if (hostile(10)) *c = any_dim();
    if (hostile(10)) *h = any_dim();
    if (hostile(10)) *w = any_dim();
}

/* n samples of c×h×w: honest when the buffer holds them, or refused whatever the buffer
 * (a non-positive dimension, a count ≥ 2^63); otherwise made honest. */
static size_t honest_samples(int32_t *c, int32_t *h, int32_t *w, size_t n, size_t buffer) {
    if (*c <= 0 || *h <= 0 || *w <= 0 || n >= ((size_t)1 << 63)) return n;
    size_t sample = (size_t)*c * (size_t)*h * (size_t)*w;
    if (sample > buffer / 64) { *c = 1; *h = 8; *w = 8; sample = 64; }
    if (n * sample > buffer) n = buffer / sample;
    return n;
}

static void c_sn_dataset_from_memory(void) {
    int32_t c, h, w;
    any_sample_shape(&c, &h, &w);
    int32_t classes = sane(70) ? (int32_t)(2 + below(9)) : any_i32();
    size_t n = honest_samples(&c, &h, &w, any_count(64), FLOATS);
    size_t sample = (c > 0 && h > 0 && w > 0) ? (size_t)c * h * w : 0;
    if (n < ((size_t)1 << 63)) {
        fill_floats(fin, n * sample, hostile(15));
        fill_labels(labels_buf, n, classes, hostile(15));
    }
    sn_dataset *d = NULL;
    int null_images = hostile(4), null_labels = hostile(4), null_out = hostile(4);
    DESCRIBE(sn_dataset_from_memory, "sn_dataset_from_memory(%s, %s, n %zu, %d×%d×%d, classes %d, %s)",
             null_images ? "NULL" : "images", null_labels ? "NULL" : "labels", n, c, h, w, classes,
             null_out ? "NULL" : "&d");
    if (CHECK(sn_dataset_from_memory, sn_dataset_from_memory(null_images ? NULL : fin, null_labels ? NULL : labels_buf, n,
                                                              c, h, w, classes, null_out ? NULL : &d)) == SN_OK)
        keep_dataset(d);
}

static void c_sn_dataset_size(void) {
    sn_dataset *d = pick_dataset();
    size_t n;
    int null_out = hostile(10);
    DESCRIBE(sn_dataset_size, "sn_dataset_size(dataset %p, %s)", (void *)d, null_out ? "NULL" : "&n");
    CHECK(sn_dataset_size, sn_dataset_size(d, null_out ? NULL : &n));
}

static void c_sn_dataset_shape(void) {
    sn_dataset *d = pick_dataset();
    int32_t c, h, w, k;
    int mask = (int)below(16);
    DESCRIBE(sn_dataset_shape, "sn_dataset_shape(dataset %p, mask %d)", (void *)d, mask);
    CHECK(sn_dataset_shape, sn_dataset_shape(d, mask & 1 ? NULL : &c, mask & 2 ? NULL : &h, mask & 4 ? NULL : &w,
                                             mask & 8 ? NULL : &k));
}

static void c_sn_dataset_get(void) {
    sn_dataset *d = pick_dataset();
    size_t n, sample, classes;
    dataset_sizes(d, &n, &sample, &classes);
    size_t start = sane(70) ? below((uint32_t)(n + 2)) : any_index();
    size_t count = sane(70) ? below((uint32_t)(n + 2)) : any_index();
    size_t needed = (count < ((size_t)1 << 32) && sample) ? count * sample : 0;
    size_t images_capacity = any_capacity(needed, FLOATS), labels_capacity = any_capacity(count, FLOATS);
    int null_images = hostile(20), null_labels = hostile(20);
    DESCRIBE(sn_dataset_get, "sn_dataset_get(dataset %p, start %zu, count %zu, %s, %zu, %s, %zu)", (void *)d, start, count,
             null_images ? "NULL" : "images", images_capacity, null_labels ? "NULL" : "labels", labels_capacity);
    CHECK(sn_dataset_get, sn_dataset_get(d, start, count, null_images ? NULL : fout, images_capacity,
                                         null_labels ? NULL : labels_buf, labels_capacity));
}

static void c_sn_dataset_class_name(void) {
    sn_dataset *d = pick_dataset();
    char dst[300];
    int32_t index = sane(70) ? (int32_t)below(12) : any_i32();
    size_t capacity = PICK(((size_t[]){0, 1, 2, 5, 12, 300, SIZE_MAX}));
    int null_dst = hostile(5);
    DESCRIBE(sn_dataset_class_name, "sn_dataset_class_name(dataset %p, %d, %s, %zu)", (void *)d, index,
             null_dst ? "NULL" : "dst", capacity);
    if (CHECK(sn_dataset_class_name, sn_dataset_class_name(d, index, null_dst ? NULL : dst, capacity)) == SN_OK &&
        !valid_utf8((const unsigned char *)dst))
        violation("class name is not UTF-8");
}

static void c_sn_dataset_subset(void) {
    sn_dataset *d = pick_dataset();
    size_t n, sample, classes;
    dataset_sizes(d, &n, &sample, &classes);
    size_t start = sane(70) ? below((uint32_t)(n + 2)) : any_index();
    size_t count = chance(30) ? 1 : sane(60) ? below((uint32_t)(n + 2)) : any_index();
    sn_dataset *out = NULL;
    int null_out = hostile(5);
    DESCRIBE(sn_dataset_subset, "sn_dataset_subset(dataset %p, %zu, %zu, %s)", (void *)d, start, count,
             null_out ? "NULL" : "&out");
    if (CHECK(sn_dataset_subset, sn_dataset_subset(d, start, count, null_out ? NULL : &out)) == SN_OK) keep_dataset(out);
}

static void c_sn_dataset_split(void) {
    sn_dataset *d = pick_dataset();
    size_t n, sample, classes;
    dataset_sizes(d, &n, &sample, &classes);
    size_t holdout = sane(70) ? below((uint32_t)(n + 2)) : any_index();
    uint64_t seed = next_u64();
    sn_dataset *a = NULL, *b = NULL;
    int null_a = hostile(5), null_b = hostile(5);
    DESCRIBE(sn_dataset_split, "sn_dataset_split(dataset %p, %zu, seed %llu, %s, %s)", (void *)d, holdout,
             (unsigned long long)seed, null_a ? "NULL" : "&rest", null_b ? "NULL" : "&held");
    if (CHECK(sn_dataset_split, sn_dataset_split(d, holdout, seed, null_a ? NULL : &a, null_b ? NULL : &b)) == SN_OK) {
        keep_dataset(a);
        keep_dataset(b);
    }
}

static void free_dataset_checked(sn_dataset *d) {
    DESCRIBE(sn_dataset_free, "sn_dataset_free(dataset %p)", (void *)d);
    sn_dataset_free(d);
    counted(F_sn_dataset_free);
    BURY_DATASET(d);
}
static void c_sn_dataset_free(void) { free_dataset_checked(pick_dataset()); }

static void c_sn_train_params_default(void) {
    sn_train_params p;
    int null_out = hostile(10);
    DESCRIBE(sn_train_params_default, "sn_train_params_default(%s)", null_out ? "NULL" : "&p");
    CHECK(sn_train_params_default, sn_train_params_default(null_out ? NULL : &p));
}

static void c_sn_recipe_train_params(void) {
    int32_t arch = sane(70) ? (int32_t)below(2) : any_i32();
    sn_train_params p;
    int null_out = hostile(10);
    DESCRIBE(sn_recipe_train_params, "sn_recipe_train_params(%d, %s)", arch, null_out ? "NULL" : "&p");
    CHECK(sn_recipe_train_params, sn_recipe_train_params(arch, null_out ? NULL : &p));
}

static void c_sn_recipe_train_params_for_budget(void) {
    int32_t arch = sane(70) ? (int32_t)below(2) : any_i32();
    int64_t budget = sane(30) ? any_i64() : any_budget();
    sn_train_params p;
    int null_out = hostile(10);
    DESCRIBE(sn_recipe_train_params_for_budget, "sn_recipe_train_params_for_budget(%d, %lld, %s)", arch,
             (long long)budget, null_out ? "NULL" : "&p");
    CHECK(sn_recipe_train_params_for_budget, sn_recipe_train_params_for_budget(arch, budget, null_out ? NULL : &p));
}

static void c_sn_recipe_optimizer_params(void) {
    int32_t arch = sane(70) ? (int32_t)below(2) : any_i32();
    sn_optimizer_params p;
    int null_out = hostile(10);
    DESCRIBE(sn_recipe_optimizer_params, "sn_recipe_optimizer_params(%d, %s)", arch, null_out ? "NULL" : "&p");
    CHECK(sn_recipe_optimizer_params, sn_recipe_optimizer_params(arch, null_out ? NULL : &p));
}

static void c_sn_recipe_optimizer_params_for_budget(void) {
    int32_t arch = sane(70) ? (int32_t)below(2) : any_i32();
    int64_t budget = sane(30) ? any_i64() : any_budget();
    sn_optimizer_params p;
    int null_out = hostile(10);
    DESCRIBE(sn_recipe_optimizer_params_for_budget, "sn_recipe_optimizer_params_for_budget(%d, %lld, %s)", arch,
             (long long)budget, null_out ? "NULL" : "&p");
    CHECK(sn_recipe_optimizer_params_for_budget,
          sn_recipe_optimizer_params_for_budget(arch, budget, null_out ? NULL : &p));
}

/* ------------------------------------------------------------ sn_fit callbacks --- */

typedef struct {
    int kind;          /* see callback names below */
    int steps, limit;
    sn_model *model;
    sn_optimizer *optimizer;
    sn_dataset *data;
    int freed_model, freed_optimizer, freed_data;
} fit_user;

enum { CB_NONE, CB_CONTINUE, CB_STOP_NOW, CB_STOP_AFTER, CB_REENTER, CB_FREE, CB_NESTED_FIT, CB_COUNT };
static const char *callback_names[] = {"NULL", "continue", "stop-now", "stop-after", "re-enter", "free-handles",
                                       "nested-fit"};

static int progress_callback(const sn_progress *p, void *user) {
    fit_user *u = user;
    u->steps++;
    if (!p || p->struct_size != sizeof(sn_progress)) violation("progress struct_size %u", p ? p->struct_size : 0);
    if (in_callback) return 1; /* a nested fit's own callback: stop at once */
    in_callback = 1;
    int stop = 0;
    switch (u->kind) {
    case CB_CONTINUE: break;
    case CB_STOP_NOW: stop = 1; break;
    case CB_STOP_AFTER: stop = u->steps >= u->limit; break;
    case CB_REENTER: {
        /* Calls on the handles being trained, from inside sn_fit. */
        int64_t n;
        float lr, loss, acc;
        size_t in, outputs;
        DESCRIBE(sn_model_n_params, "sn_model_n_params(model %p, &n)", (void *)u->model);
        CHECK(sn_model_n_params, sn_model_n_params(u->model, &n));
        DESCRIBE(sn_optimizer_get_lr, "sn_optimizer_get_lr(optimizer %p, &lr)", (void *)u->optimizer);
        CHECK(sn_optimizer_get_lr, sn_optimizer_get_lr(u->optimizer, &lr));
        DESCRIBE(sn_optimizer_set_lr, "sn_optimizer_set_lr(optimizer %p, 0.5)", (void *)u->optimizer);
        CHECK(sn_optimizer_set_lr, sn_optimizer_set_lr(u->optimizer, 0.5f));
        DESCRIBE(sn_model_zero_grad, "sn_model_zero_grad(model %p)", (void *)u->model);
        CHECK(sn_model_zero_grad, sn_model_zero_grad(u->model));
        DESCRIBE(sn_evaluate, "sn_evaluate(model %p, data %p, &loss, &acc, NULL, 0)", (void *)u->model, (void *)u->data);
        CHECK(sn_evaluate, sn_evaluate(u->model, u->data, &loss, &acc, NULL, 0));
        model_sizes(u->model, &in, &outputs);
        if (in && in <= FLOATS && outputs <= FLOATS) {
            fill_floats(fin, in, 0);
            DESCRIBE(sn_model_forward, "sn_model_forward(model %p, input, 1, output, %zu)", (void *)u->model, outputs);
            CHECK(sn_model_forward, sn_model_forward(u->model, fin, 1, fout, outputs));
            DESCRIBE(sn_model_set_training, "sn_model_set_training(model %p, 0)", (void *)u->model);
            CHECK(sn_model_set_training, sn_model_set_training(u->model, 0));
        }
        DESCRIBE(sn_set_num_threads, "sn_set_num_threads(2)");
        CHECK(sn_set_num_threads, sn_set_num_threads(2));
        stop = u->steps >= u->limit;
        break;
    }
    case CB_FREE:
        if (!u->freed_model && chance(50)) {
            DESCRIBE(sn_model_free, "sn_model_free(model %p) [being trained]", (void *)u->model);
            sn_model_free(u->model);
            counted(F_sn_model_free);
            u->freed_model = 1;
        }
        if (!u->freed_optimizer && chance(50)) {
            DESCRIBE(sn_optimizer_free, "sn_optimizer_free(optimizer %p) [being used]", (void *)u->optimizer);
            sn_optimizer_free(u->optimizer);
            counted(F_sn_optimizer_free);
            u->freed_optimizer = 1;
        }
        if (!u->freed_data && chance(50)) {
            DESCRIBE(sn_dataset_free, "sn_dataset_free(dataset %p) [being trained on]", (void *)u->data);
            sn_dataset_free(u->data);
            counted(F_sn_dataset_free);
            u->freed_data = 1;
        }
        stop = u->steps >= u->limit;
        break;
    case CB_NESTED_FIT: {
        sn_train_params p;
        DESCRIBE(sn_train_params_default, "sn_train_params_default(&p)");
        CHECK(sn_train_params_default, sn_train_params_default(&p));
        p.epochs = 1;
        p.batch_size = 2;
        fit_user inner = {.kind = CB_STOP_NOW};
        DESCRIBE(sn_fit, "sn_fit(model %p, optimizer %p, data %p, epochs 1, batch 2) [nested]", (void *)u->model,
                 (void *)u->optimizer, (void *)u->data);
        CHECK(sn_fit, sn_fit(u->model, u->optimizer, u->data, &p, progress_callback, &inner, NULL, 0, NULL));
        stop = u->steps >= u->limit;
        break;
    }
    default: break;
    }
    in_callback = 0;
    return stop;
}

/* sn_fit, or sn_fit_with_options (options NULL, the defaults, or with a hostile loss or size). */
static void fit_with(int with_options) {
    sn_model *m = pick_model();
    sn_optimizer *o = pick_optimizer();
    sn_dataset *d = NULL;
    if (sane(60)) d = matching_dataset(m);
    if (!d) d = pick_dataset();
    /* Often an optimizer made for this model, so that training runs. */
    if (sane(50) && index_of((void **)models, n_models, m) >= 0) {
        sn_optimizer_params op;
        int32_t kind = (int32_t)below(5);
        DESCRIBE(sn_optimizer_params_default, "sn_optimizer_params_default(%d, &p)", kind);
        CHECK(sn_optimizer_params_default, sn_optimizer_params_default(kind, &op));
        if (hostile(20)) op.lr = PICK(((float[]){1e30f, 1e10f, 100.0f}));
        sn_optimizer *fresh = NULL;
        DESCRIBE(sn_optimizer_create, "sn_optimizer_create(model %p, {kind %d, lr %g}, &o)", (void *)m, kind, op.lr);
        if (CHECK(sn_optimizer_create, sn_optimizer_create(m, &op, &fresh)) == SN_OK) {
            keep_optimizer(fresh);
            o = fresh;
        }
    }
    sn_train_params p;
    DESCRIBE(sn_train_params_default, "sn_train_params_default(&p)");
    CHECK(sn_train_params_default, sn_train_params_default(&p));
    int cb = (int)below(CB_COUNT);
    p.struct_size = any_struct_size(sizeof p);
    int stops = cb == CB_STOP_NOW || cb == CB_STOP_AFTER || cb == CB_REENTER || cb == CB_FREE || cb == CB_NESTED_FIT;
    static const int32_t bounded[] = {0, 1, 1, 2, 3, -1, INT32_MIN, 100001};
    p.epochs = clean ? (int32_t)(1 + below(2)) : stops && chance(40) ? any_i32() : PICK(bounded);
    static const int32_t batches[] = {1, 2, 3, 7, 64, 65536, 65537, 0, -1, INT32_MAX};
    p.batch_size = clean ? PICK(((int32_t[]){1, 2, 3, 7, 64})) : PICK(batches);
    p.seed = next_u64();
    if (hostile(30)) hostile_schedule(&p.schedule);
    if (hostile(25)) p.label_smoothing = any_float();
    if (hostile(25)) p.crop_padding = sane(50) ? (int32_t)below(4) : any_i32();
    if (hostile(25)) p.horizontal_flip = sane(50) ? 1 : any_i32();
    if (hostile(25)) p.threads = PICK(((int32_t[]){0, 1, 2, 64, 65, -1, INT32_MAX}));
    p.validation = chance(30) ? (chance(70) ? matching_dataset(m) : pick_dataset()) : NULL;
    sn_epoch_record history[8];
    size_t capacity = PICK(((size_t[]){0, 1, 2, 8, SIZE_MAX}));
    int with_history = chance(60), with_n = chance(60), null_params = hostile(4);
    size_t n_epochs = 0;
    fit_user user = {.kind = cb, .limit = 1 + (int)below(6), .model = m, .optimizer = o, .data = d};
    DESCRIBE(sn_fit,
             "sn_fit(model %p, optimizer %p, data %p, {struct_size %u, epochs %d, batch %d, schedule kind %d "
             "struct_size %u, smoothing %g, crop %d, flip %d, threads %d, validation %p}%s, callback %s (limit %d), "
             "history %s capacity %zu, %s)",
             (void *)m, (void *)o, (void *)d, p.struct_size, p.epochs, p.batch_size, p.schedule.kind,
             p.schedule.struct_size, p.label_smoothing, p.crop_padding, p.horizontal_flip, p.threads,
             (const void *)p.validation, null_params ? " → NULL" : "", callback_names[cb], user.limit,
             with_history ? "buffer" : "NULL", capacity, with_n ? "&n_epochs" : "NULL");
    if (!with_options) {
        CHECK(sn_fit, sn_fit(m, o, d, null_params ? NULL : &p, cb == CB_NONE ? NULL : progress_callback, &user,
                             with_history ? history : NULL, capacity, with_n ? &n_epochs : NULL));
    } else {
        sn_train_options options;
        options.struct_size = sizeof options;
        DESCRIBE(sn_train_options_default, "sn_train_options_default(&o)");
        CHECK(sn_train_options_default, sn_train_options_default(&options));
        if (chance(50)) any_loss_params(&options.loss);
        if (chance(30)) options.clip_grad_norm = sane(70) ? PICK(((float[]){0.0f, 0.5f, 1e-3f})) : any_float();
        if (chance(30)) options.clip_grad_value = sane(70) ? PICK(((float[]){0.0f, 0.1f, 1e3f})) : any_float();
        if (chance(40)) any_schedule_options(&options.schedule);
        options.struct_size = chance(20) ? PICK(((uint32_t[]){(uint32_t)offsetof(sn_train_options, clip_grad_norm),
                                                              (uint32_t)offsetof(sn_train_options, clip_grad_value),
                                                              (uint32_t)offsetof(sn_train_options, schedule),
                                                              (uint32_t)offsetof(sn_train_options, schedule) + 6}))
                                         : any_struct_size(sizeof options);
        int null_options = chance(20);
        DESCRIBE(sn_fit_with_options,
                 "sn_fit_with_options(model %p, optimizer %p, data %p, params as sn_fit's%s, options %s{struct_size %u, "
                 "loss {struct_size %u, kind %d, reduction %d, smoothing %g, weights %s×%zu, pos_weight %s×%zu}, "
                 "clip_grad_norm %g, clip_grad_value %g, schedule {struct_size %u, warmup_every_kind %d, pct_start %g, "
                 "anneal %d, div %g/%g, factor %g, patience %d, threshold %g, cooldown %d}}, "
                 "callback %s (limit %d), history %s capacity %zu, %s)",
                 (void *)m, (void *)o, (void *)d, null_params ? " → NULL" : "", null_options ? "NULL, not " : "",
                 options.struct_size, options.loss.struct_size, options.loss.kind, options.loss.reduction,
                 options.loss.label_smoothing, options.loss.class_weights ? "w" : "NULL", options.loss.n_class_weights,
                 options.loss.pos_weight ? "w" : "NULL", options.loss.n_pos_weight, options.clip_grad_norm,
                 options.clip_grad_value, options.schedule.struct_size, options.schedule.warmup_every_kind,
                 options.schedule.pct_start, options.schedule.anneal_strategy, options.schedule.div_factor,
                 options.schedule.final_div_factor, options.schedule.factor, options.schedule.patience,
                 options.schedule.threshold, options.schedule.cooldown, callback_names[cb], user.limit,
                 with_history ? "buffer" : "NULL", capacity, with_n ? "&n_epochs" : "NULL");
        CHECK(sn_fit_with_options,
              sn_fit_with_options(m, o, d, null_params ? NULL : &p, null_options ? NULL : &options,
                                  cb == CB_NONE ? NULL : progress_callback, &user, with_history ? history : NULL,
                                  capacity, with_n ? &n_epochs : NULL));
    }
    if (user.freed_model) BURY_MODEL(m);
    if (user.freed_optimizer) BURY_OPTIMIZER(o);
    if (user.freed_data) BURY_DATASET(d);
    if (cb == CB_REENTER) {
        DESCRIBE(sn_set_num_threads, "sn_set_num_threads(1)");
        CHECK(sn_set_num_threads, sn_set_num_threads(1));
    }
}

static void c_sn_fit(void) { fit_with(0); }
static void c_sn_fit_with_options(void) { fit_with(1); }

static void c_sn_train_options_default(void) {
    union {
        sn_train_options options;
        unsigned char bytes[sizeof(sn_train_options) + 64];
    } u;
    u.options.struct_size = sane(70) ? (uint32_t)sizeof u.options : any_struct_size(sizeof u.options);
    uint32_t declared = u.options.struct_size;
    int null_out = hostile(10);
    DESCRIBE(sn_train_options_default, "sn_train_options_default(%s with struct_size %u)", null_out ? "NULL" : "&o",
             declared);
    CHECK(sn_train_options_default, sn_train_options_default(null_out ? NULL : &u.options));
}

/* sn_model_profile: short measurements only (seconds 0, small batches), so a valid call never
 * looks like a hang; hostile durations are ones the library must refuse. */
static void c_sn_model_profile(void) {
    sn_model *m = pick_model();
    int32_t kind = sane(80) ? (int32_t)below(5) : any_i32();
    float lr = sane(80) ? 0.001f : any_float();
    int32_t batch = sane(70) ? 2 + (int32_t)below(7) : any_i32();
    if (batch > 64 && batch <= 65536) batch = 64;
    static const double bad_seconds[] = {-1.0, 3601.0, 1e300, -1e-300};
    double seconds = sane(85) ? 0.0 : (chance(50) ? PICK(bad_seconds) : (chance(50) ? NAN : INFINITY));
    sn_layer_profile layers[64];
    size_t capacity = any_capacity(64, 64), n = 0;
    sn_step_profile out;
    out.struct_size = any_struct_size((uint32_t)sizeof out);
    int null_out = hostile(10), null_layers = hostile(10);
    DESCRIBE(sn_model_profile, "sn_model_profile(model %p, kind %d, lr %g, batch %d, seconds %g, %s, %s, capacity %zu, &n)",
             (void *)m, kind, (double)lr, batch, seconds, null_out ? "NULL" : "&out", null_layers ? "NULL" : "layers",
             capacity);
    CHECK(sn_model_profile, sn_model_profile(m, kind, lr, batch, seconds, null_out ? NULL : &out,
                                             null_layers ? NULL : layers, capacity, &n));
}

static void c_sn_evaluate(void) {
    sn_model *m = pick_model();
    sn_dataset *d = sane(50) ? matching_dataset(m) : NULL;
    if (!d) d = pick_dataset();
    float loss, acc;
    size_t n, sample, classes;
    dataset_sizes(d, &n, &sample, &classes);
    size_t capacity = any_capacity(classes * classes, 65536);
    int with_loss = chance(70), with_acc = chance(70), with_conf = chance(50);
    DESCRIBE(sn_evaluate, "sn_evaluate(model %p, data %p, %s, %s, %s, %zu)", (void *)m, (void *)d,
             with_loss ? "&loss" : "NULL", with_acc ? "&acc" : "NULL", with_conf ? "confusion" : "NULL", capacity);
    CHECK(sn_evaluate, sn_evaluate(m, d, with_loss ? &loss : NULL, with_acc ? &acc : NULL,
                                   with_conf ? confusion_buf : NULL, capacity));
}

static void c_sn_predict(void) {
    sn_model *m = pick_model();
    sn_dataset *d = sane(50) ? matching_dataset(m) : NULL;
    if (!d) d = pick_dataset();
    size_t n, sample, classes;
    dataset_sizes(d, &n, &sample, &classes);
    size_t capacity = any_capacity(n * classes, FLOATS);
    int null_out = hostile(5);
    DESCRIBE(sn_predict, "sn_predict(model %p, data %p, %s, %zu)", (void *)m, (void *)d, null_out ? "NULL" : "out",
             capacity);
    CHECK(sn_predict, sn_predict(m, d, null_out ? NULL : fout, capacity));
}

static void c_sn_model_save(void) {
    sn_model *m = pick_model();
    const char *path = write_path();
    const char *config = sane(50) ? NULL : any_text();
    DESCRIBE(sn_model_save, "sn_model_save(model %p, \"%.200s\", config \"%.40s\")", (void *)m, path ? path : "(null)",
             config ? config : "(null)");
    CHECK(sn_model_save, sn_model_save(m, path, config));
}

static void c_sn_model_load(void) {
    if (sane(40)) save_checkpoint();
    const char *path = sane(50) ? paths[PICK(((int[]){P_CKPT, P_OUT, P_CKPT_TRUNC, P_CKPT_GZ, P_BAD_UTF8, P_SYMLINK,
                                                         P_FIFO_OUT}))]
                                  : read_path();
    sn_model *m = NULL;
    int null_out = hostile(5);
    DESCRIBE(sn_model_load, "sn_model_load(\"%.200s\", %s)", path ? path : "(null)", null_out ? "NULL" : "&m");
    if (CHECK(sn_model_load, sn_model_load(path, null_out ? NULL : &m)) == SN_OK) keep_model(m);
}

static void c_sn_checkpoint_metadata(void) {
    if (sane(40)) save_checkpoint();
    const char *path = sane(50) ? paths[PICK(((int[]){P_CKPT, P_OUT, P_CKPT_TRUNC, P_CKPT_GZ}))] : read_path();
    static const char *keys[] = {"smallnet.architecture", "smallnet.version", "smallnet.training_config",
                                 "smallnet.preprocessing", "smallnet.class_names"};
    const char *key = sane(50) ? PICK(keys) : any_text();
    char dst[512];
    size_t capacity = PICK(((size_t[]){0, 1, 2, 8, 64, 512, SIZE_MAX}));
    size_t length;
    int null_dst = hostile(5), null_length = hostile(30);
    DESCRIBE(sn_checkpoint_metadata, "sn_checkpoint_metadata(\"%.200s\", \"%.60s\", %s, %zu, %s)", path ? path : "(null)",
             key ? key : "(null)", null_dst ? "NULL" : "dst", capacity, null_length ? "NULL" : "&length");
    CHECK(sn_checkpoint_metadata,
          sn_checkpoint_metadata(path, key, null_dst ? NULL : dst, capacity, null_length ? NULL : &length));
}

static void hostile_preprocessing(sn_preprocessing *p) {
    DESCRIBE(sn_preprocessing_default, "sn_preprocessing_default(&p)");
    CHECK(sn_preprocessing_default, sn_preprocessing_default(p));
    p->struct_size = any_struct_size(sizeof *p);
    if (hostile(30)) p->channels = sane(50) ? (int32_t)below(18) : any_i32();
    if (hostile(20)) p->pixel_scale = any_float();
    if (hostile(20)) p->known = any_i32();
    for (int i = 0; i < SN_MAX_CHANNELS; i++) {
        p->mean[i] = sane(90) ? 0.5f : any_float();
        p->std[i] = sane(90) ? 0.25f : any_float();
    }
}

static void c_sn_preprocessing_default(void) {
    sn_preprocessing p;
    int null_out = hostile(10);
    DESCRIBE(sn_preprocessing_default, "sn_preprocessing_default(%s)", null_out ? "NULL" : "&p");
    CHECK(sn_preprocessing_default, sn_preprocessing_default(null_out ? NULL : &p));
}

static void c_sn_model_get_preprocessing(void) {
    sn_model *m = pick_model();
    sn_preprocessing p;
    memset(&p, 0x5a, sizeof p);
    p.struct_size = any_struct_size(sizeof p);
    int null_out = hostile(5);
    DESCRIBE(sn_model_get_preprocessing, "sn_model_get_preprocessing(model %p, %s struct_size %u)", (void *)m,
             null_out ? "NULL" : "&p", p.struct_size);
    CHECK(sn_model_get_preprocessing, sn_model_get_preprocessing(m, null_out ? NULL : &p));
}

static void c_sn_model_set_preprocessing(void) {
    sn_model *m = pick_model();
    sn_preprocessing p;
    hostile_preprocessing(&p);
    int null_p = hostile(15);
    DESCRIBE(sn_model_set_preprocessing, "sn_model_set_preprocessing(model %p, %s{struct_size %u, known %d, scale %g, "
             "channels %d, mean0 %g, std0 %g})",
             (void *)m, null_p ? "NULL " : "", p.struct_size, p.known, p.pixel_scale, p.channels, p.mean[0], p.std[0]);
    CHECK(sn_model_set_preprocessing, sn_model_set_preprocessing(m, null_p ? NULL : &p));
}

static void c_sn_model_class_name(void) {
    sn_model *m = pick_model();
    char dst[300];
    int32_t index = sane(70) ? (int32_t)below(12) : any_i32();
    size_t capacity = PICK(((size_t[]){0, 1, 2, 5, 12, 300, SIZE_MAX}));
    int null_dst = hostile(5);
    DESCRIBE(sn_model_class_name, "sn_model_class_name(model %p, %d, %s, %zu)", (void *)m, index,
             null_dst ? "NULL" : "dst", capacity);
    if (CHECK(sn_model_class_name, sn_model_class_name(m, index, null_dst ? NULL : dst, capacity)) == SN_OK &&
        !valid_utf8((const unsigned char *)dst))
        violation("class name is not UTF-8");
}

/* Class names: n entries (honest), some hostile. */
static size_t any_names(const char **names, size_t outputs) {
    enum { MAX_NAMES = 300 };
    size_t n = PICK(((size_t[]){0, 1, 2, 3, 10, SIZE_MAX, (size_t)1 << 63}));
    if (chance(50) && outputs <= MAX_NAMES) n = outputs;
    for (size_t i = 0; i < MAX_NAMES; i++) names[i] = sane(95) ? "class" : any_text();
    return n;
}

static void c_sn_set_class_names(int model) {
    const char *names[300];
    if (model) {
        sn_model *m = pick_model();
        size_t in, outputs;
        model_sizes(m, &in, &outputs);
        size_t n = any_names(names, outputs);
        int null_names = hostile(5);
        DESCRIBE(sn_model_set_class_names, "sn_model_set_class_names(model %p, %s, %zu)", (void *)m,
                 null_names ? "NULL" : "names", n);
        CHECK(sn_model_set_class_names, sn_model_set_class_names(m, null_names ? NULL : names, n));
    } else {
        sn_dataset *d = pick_dataset();
        size_t n0, sample, classes;
        dataset_sizes(d, &n0, &sample, &classes);
        size_t n = any_names(names, classes);
        int null_names = hostile(5);
        DESCRIBE(sn_dataset_set_class_names, "sn_dataset_set_class_names(dataset %p, %s, %zu)", (void *)d,
                 null_names ? "NULL" : "names", n);
        CHECK(sn_dataset_set_class_names, sn_dataset_set_class_names(d, null_names ? NULL : names, n));
    }
}
static void c_sn_model_set_class_names(void) { c_sn_set_class_names(1); }
static void c_sn_dataset_set_class_names(void) { c_sn_set_class_names(0); }

static void c_sn_model_predict_u8(void) {
    sn_model *m = pick_model();
    if (sane(40)) {
        sn_preprocessing p;
        DESCRIBE(sn_preprocessing_default, "sn_preprocessing_default(&p)");
        CHECK(sn_preprocessing_default, sn_preprocessing_default(&p));
        DESCRIBE(sn_model_set_preprocessing, "sn_model_set_preprocessing(model %p, FashionMNIST's)", (void *)m);
        CHECK(sn_model_set_preprocessing, sn_model_set_preprocessing(m, &p));
    }
    size_t in, outputs;
    model_sizes(m, &in, &outputs);
    size_t most = 64;
    if (in && most * in > BYTES) most = BYTES / in;
    if (outputs && most * outputs > FLOATS) most = FLOATS / outputs;
    size_t n = any_count(most);
    if (n > most && n < ((size_t)1 << 63)) n = most;
    if (n <= most)
        for (size_t i = 0; i < n * in; i++) bytes_buf[i] = (uint8_t)next_u64();
    size_t capacity = any_capacity(n * outputs, FLOATS);
    int null_pixels = hostile(5), null_out = hostile(5);
    DESCRIBE(sn_model_predict_u8, "sn_model_predict_u8(model %p, %s, n %zu, %s, %zu)", (void *)m,
             null_pixels ? "NULL" : "pixels", n, null_out ? "NULL" : "out", capacity);
    CHECK(sn_model_predict_u8, sn_model_predict_u8(m, null_pixels ? NULL : bytes_buf, n, null_out ? NULL : fout, capacity));
}

static void c_sn_model_clone(void) {
    sn_model *m = pick_model();
    sn_model *twin = NULL;
    int null_out = hostile(5);
    DESCRIBE(sn_model_clone, "sn_model_clone(model %p, %s)", (void *)m, null_out ? "NULL" : "&twin");
    if (CHECK(sn_model_clone, sn_model_clone(m, null_out ? NULL : &twin)) == SN_OK) keep_model(twin);
}

static void c_sn_model_save_to_buffer(void) {
    sn_model *m = pick_model();
    const char *config = sane(60) ? NULL : any_text();
    size_t length = 0;
    /* First the size, then often the real thing into the buffer. */
    DESCRIBE(sn_model_save_to_buffer, "sn_model_save_to_buffer(model %p, config, NULL, 0, &length)", (void *)m);
    sn_status s = CHECK(sn_model_save_to_buffer, sn_model_save_to_buffer(m, config, NULL, 0, &length));
    size_t capacity = any_capacity(length, BYTES);
    int null_dst = hostile(5), null_length = hostile(5);
    DESCRIBE(sn_model_save_to_buffer, "sn_model_save_to_buffer(model %p, config \"%.40s\", %s, %zu, %s) [length %zu, first %d]",
             (void *)m, config ? config : "(null)", null_dst ? "NULL" : "dst", capacity, null_length ? "NULL" : "&length",
             length, s);
    if (CHECK(sn_model_save_to_buffer, sn_model_save_to_buffer(m, config, null_dst ? NULL : ckpt_buf, capacity,
                                                               null_length ? NULL : &length)) == SN_OK && !null_length)
        ckpt_size = length;
}

static void c_sn_model_load_from_buffer(void) {
    /* The last checkpoint saved to memory, as it is, cut, or with a few bytes changed. */
    size_t size = ckpt_size;
    if (size && hostile(40)) {
        int flips = 1 + (int)below(4);
        for (int i = 0; i < flips; i++) ckpt_buf[below((uint32_t)size)] ^= (uint8_t)(1u << below(8));
    }
    if (size && hostile(20)) size = below((uint32_t)size);
    if (hostile(10)) size = PICK(((size_t[]){SIZE_MAX, (size_t)1 << 63}));
    sn_model *m = NULL;
    int null_bytes = hostile(5), null_out = hostile(5);
    DESCRIBE(sn_model_load_from_buffer, "sn_model_load_from_buffer(%s, %zu, %s)", null_bytes ? "NULL" : "bytes", size,
             null_out ? "NULL" : "&m");
    if (CHECK(sn_model_load_from_buffer, sn_model_load_from_buffer(null_bytes ? NULL : ckpt_buf, size,
                                                                   null_out ? NULL : &m)) == SN_OK)
        keep_model(m);
    /* Keep the buffer's last good checkpoint for later batches of this run of calls. */
    if (chance(10)) ckpt_size = 0;
}

static void c_sn_dataset_from_u8(void) {
    int32_t c, h, w;
    any_sample_shape(&c, &h, &w);
    int32_t classes = sane(70) ? (int32_t)(2 + below(9)) : any_i32();
    size_t n = honest_samples(&c, &h, &w, any_count(64), BYTES);
    size_t sample = (c > 0 && h > 0 && w > 0) ? (size_t)c * h * w : 0;
    if (n < ((size_t)1 << 63)) {
        for (size_t i = 0; i < n * sample; i++) bytes_buf[i] = (uint8_t)next_u64();
        fill_labels(labels_buf, n, classes, hostile(15));
    }
    sn_preprocessing p;
    memset(&p, 0, sizeof p);
    int with_p = chance(50);
    if (with_p) hostile_preprocessing(&p);
    sn_dataset *d = NULL;
    int null_images = hostile(4), null_labels = hostile(4), null_out = hostile(4);
    DESCRIBE(sn_dataset_from_u8, "sn_dataset_from_u8(%s, %s, n %zu, %d×%d×%d, classes %d, %s{struct_size %u, channels %d, "
             "scale %g}, %s)",
             null_images ? "NULL" : "images", null_labels ? "NULL" : "labels", n, c, h, w, classes,
             with_p ? "" : "NULL ", p.struct_size, p.channels, p.pixel_scale,
             null_out ? "NULL" : "&d");
    if (CHECK(sn_dataset_from_u8, sn_dataset_from_u8(null_images ? NULL : bytes_buf, null_labels ? NULL : labels_buf, n, c,
                                                     h, w, classes, with_p ? &p : NULL, null_out ? NULL : &d)) == SN_OK)
        keep_dataset(d);
}

static void c_sn_dataset_get_preprocessing(void) {
    sn_dataset *d = pick_dataset();
    sn_preprocessing p;
    memset(&p, 0x5a, sizeof p);
    p.struct_size = any_struct_size(sizeof p);
    int null_out = hostile(5);
    DESCRIBE(sn_dataset_get_preprocessing, "sn_dataset_get_preprocessing(dataset %p, %s struct_size %u)", (void *)d,
             null_out ? "NULL" : "&p", p.struct_size);
    CHECK(sn_dataset_get_preprocessing, sn_dataset_get_preprocessing(d, null_out ? NULL : &p));
}

static void c_sn_model_add_leaky_relu(void) {
    sn_model *m = pick_model();
    float slope = sane(50) ? 0.01f : any_float();
    DESCRIBE(sn_model_add_leaky_relu, "sn_model_add_leaky_relu(model %p, %g)", (void *)m, slope);
    CHECK(sn_model_add_leaky_relu, sn_model_add_leaky_relu(m, slope));
}

static void c_sn_model_add_elu(void) {
    sn_model *m = pick_model();
    float alpha = sane(50) ? 1.0f : any_float();
    DESCRIBE(sn_model_add_elu, "sn_model_add_elu(model %p, %g)", (void *)m, alpha);
    CHECK(sn_model_add_elu, sn_model_add_elu(m, alpha));
}

static void c_sn_model_add_gelu(void) {
    sn_model *m = pick_model();
    int32_t approximate = sane(70) ? (int32_t)below(2) : any_i32();
    DESCRIBE(sn_model_add_gelu, "sn_model_add_gelu(model %p, %d)", (void *)m, approximate);
    CHECK(sn_model_add_gelu, sn_model_add_gelu(m, approximate));
}

#define SIMPLE_ADD(name)                                         \
    static void c_##name(void) {                                 \
        sn_model *m = pick_model();                              \
        DESCRIBE(name, #name "(model %p)", (void *)m);           \
        CHECK(name, name(m));                                    \
    }
SIMPLE_ADD(sn_model_add_silu)
SIMPLE_ADD(sn_model_add_tanh)
SIMPLE_ADD(sn_model_add_sigmoid)
SIMPLE_ADD(sn_model_add_softmax)
SIMPLE_ADD(sn_model_add_log_softmax)

static void c_sn_model_add_dropout2d(void) {
    sn_model *m = pick_model();
    float p = sane(50) ? 0.25f : any_float();
    DESCRIBE(sn_model_add_dropout2d, "sn_model_add_dropout2d(model %p, %g)", (void *)m, p);
    CHECK(sn_model_add_dropout2d, sn_model_add_dropout2d(m, p));
}

static void c_sn_model_add_layernorm(void) {
    sn_model *m = pick_model();
    int32_t dims = sane(70) ? 1 + (int32_t)below(3) : any_i32(), affine = sane(70) ? (int32_t)below(2) : any_i32();
    float eps = sane(50) ? 1e-5f : any_float();
    DESCRIBE(sn_model_add_layernorm, "sn_model_add_layernorm(model %p, %d, %g, %d)", (void *)m, dims, eps, affine);
    CHECK(sn_model_add_layernorm, sn_model_add_layernorm(m, dims, eps, affine));
}

static void c_sn_conv2d_params_default(void) {
    sn_conv2d_params p;
    int null = chance(10);
    DESCRIBE(sn_conv2d_params_default, "sn_conv2d_params_default(%s)", null ? "NULL" : "&p");
    CHECK(sn_conv2d_params_default, sn_conv2d_params_default(null ? NULL : &p));
}

static void c_sn_model_add_conv2d_ex(void) {
    sn_model *m = pick_model();
    sn_conv2d_params p;
    memset(&p, 0, sizeof p);
    sn_conv2d_params_default(&p);
    p.out_channels = any_width();
    if (sane(50)) { /* dilated, grouped or "same" convolutions that fit */
        p.kernel_size = 1 + 2 * (int32_t)below(2);
        p.dilation = 1 + (int32_t)below(2);
        p.groups = chance(50) ? 1 : 1 + (int32_t)below(2);
        p.padding = chance(50) ? SN_PADDING_SAME : 0;
    } else {
        p.kernel_size = any_i32(); p.stride = any_i32(); p.padding = any_i32(); p.dilation = any_i32();
        p.groups = any_i32(); p.bias = any_i32(); p.init = any_i32();
        if (chance(20)) p.struct_size = (uint32_t)any_i32();
    }
    if (!model_is_small(m)) return;
    DESCRIBE(sn_model_add_conv2d_ex, "sn_model_add_conv2d_ex(model %p, out %d, k %d, stride %d, pad %d, dil %d, groups %d, size %u)",
             (void *)m, p.out_channels, p.kernel_size, p.stride, p.padding, p.dilation, p.groups, p.struct_size);
    CHECK(sn_model_add_conv2d_ex, sn_model_add_conv2d_ex(m, chance(5) ? NULL : &p));
}

static void c_sn_model_add_maxpool2d_ex(void) {
    sn_model *m = pick_model();
    int32_t k = sane(60) ? 2 + (int32_t)below(2) : any_i32(), s = sane(60) ? (int32_t)below(3) : any_i32();
    int32_t pad = sane(60) ? (int32_t)below(2) : any_i32(), ceil = sane(70) ? (int32_t)below(2) : any_i32();
    DESCRIBE(sn_model_add_maxpool2d_ex, "sn_model_add_maxpool2d_ex(model %p, %d, %d, %d, %d)", (void *)m, k, s, pad, ceil);
    CHECK(sn_model_add_maxpool2d_ex, sn_model_add_maxpool2d_ex(m, k, s, pad, ceil));
}

static void c_sn_model_add_avgpool2d_ex(void) {
    sn_model *m = pick_model();
    int32_t k = sane(60) ? 2 + (int32_t)below(2) : any_i32(), s = sane(60) ? (int32_t)below(3) : any_i32();
    int32_t pad = sane(60) ? (int32_t)below(2) : any_i32(), ceil = sane(70) ? (int32_t)below(2) : any_i32();
    int32_t include = sane(70) ? (int32_t)below(2) : any_i32();
    DESCRIBE(sn_model_add_avgpool2d_ex, "sn_model_add_avgpool2d_ex(model %p, %d, %d, %d, %d, %d)", (void *)m, k, s, pad, ceil,
             include);
    CHECK(sn_model_add_avgpool2d_ex, sn_model_add_avgpool2d_ex(m, k, s, pad, ceil, include));
}

static void c_sn_model_add_adaptive_avgpool2d(void) {
    sn_model *m = pick_model();
    int32_t h = sane(60) ? 1 + (int32_t)below(4) : any_i32(), w = sane(60) ? 1 + (int32_t)below(4) : any_i32();
    DESCRIBE(sn_model_add_adaptive_avgpool2d, "sn_model_add_adaptive_avgpool2d(model %p, %d, %d)", (void *)m, h, w);
    CHECK(sn_model_add_adaptive_avgpool2d, sn_model_add_adaptive_avgpool2d(m, h, w));
}

#define BATCHNORM_EX(name)                                                                                             \
    static void c_##name(void) {                                                                                       \
        sn_model *m = pick_model();                                                                                    \
        float momentum = sane(50) ? 0.1f : any_float(), eps = sane(50) ? 1e-5f : any_float();                           \
        int32_t affine = sane(70) ? (int32_t)below(2) : any_i32(), track = sane(70) ? (int32_t)below(2) : any_i32();    \
        DESCRIBE(name, #name "(model %p, %g, %g, %d, %d)", (void *)m, momentum, eps, affine, track);                   \
        CHECK(name, name(m, momentum, eps, affine, track));                                                            \
    }
BATCHNORM_EX(sn_model_add_batchnorm1d_ex)
BATCHNORM_EX(sn_model_add_batchnorm2d_ex)

/* ---------------------------------------------- optimizers, schedules, gradients (new) --- */

static void c_sn_optimizer_options_default(void) {
    union {
        sn_optimizer_options options;
        unsigned char bytes[sizeof(sn_optimizer_options) + 64];
    } u;
    memset(&u, 0xAB, sizeof u);
    u.options.struct_size = sane(70) ? (uint32_t)sizeof u.options : any_struct_size(sizeof u.options);
    uint32_t declared = u.options.struct_size;
    int null_out = hostile(10);
    DESCRIBE(sn_optimizer_options_default, "sn_optimizer_options_default(%s with struct_size %u)",
             null_out ? "NULL" : "&o", declared);
    CHECK(sn_optimizer_options_default, sn_optimizer_options_default(null_out ? NULL : &u.options));
    size_t limit = declared <= sizeof u.options ? declared : 0;
    for (size_t i = limit > 4 ? limit : 4; i < sizeof u; i++)
        if (u.bytes[i] != 0xAB) violation("sn_optimizer_options_default wrote byte %zu of a %u-byte struct", i, declared);
}

static void c_sn_optimizer_create_with_options(void) {
    sn_model *m = pick_model();
    sn_optimizer_params p;
    any_optimizer_params(&p);
    sn_optimizer_options options;
    options.struct_size = sizeof options;
    DESCRIBE(sn_optimizer_options_default, "sn_optimizer_options_default(&o)");
    CHECK(sn_optimizer_options_default, sn_optimizer_options_default(&options));
    options.struct_size = any_struct_size(sizeof options);
    if (chance(40)) options.amsgrad = sane(70) ? (int32_t)below(2) : any_i32();
    if (chance(30)) options.maximize = sane(70) ? (int32_t)below(2) : any_i32();
    if (chance(30)) options.lr_decay = sane(50) ? 0.01f : any_float();
    if (chance(30)) options.initial_accumulator_value = sane(50) ? 0.1f : any_float();
    sn_optimizer *o = NULL;
    int null_params = hostile(4), null_options = chance(15), null_out = hostile(4);
    DESCRIBE(sn_optimizer_create_with_options,
             "sn_optimizer_create_with_options(model %p, {struct_size %u, kind %d, lr %g, eps %g}%s, "
             "%s{struct_size %u, amsgrad %d, maximize %d, lr_decay %g, initial_accumulator_value %g}, %s)",
             (void *)m, p.struct_size, p.kind, p.lr, p.eps, null_params ? " → NULL" : "", null_options ? "NULL, not " : "",
             options.struct_size, options.amsgrad, options.maximize, options.lr_decay, options.initial_accumulator_value,
             null_out ? "NULL" : "&o");
    if (CHECK(sn_optimizer_create_with_options,
              sn_optimizer_create_with_options(m, null_params ? NULL : &p, null_options ? NULL : &options,
                                               null_out ? NULL : &o)) == SN_OK)
        keep_optimizer(o);
}

static void c_sn_schedule_options_default(void) {
    union {
        sn_schedule_options options;
        unsigned char bytes[sizeof(sn_schedule_options) + 64];
    } u;
    memset(&u, 0xAB, sizeof u);
    u.options.struct_size = sane(70) ? (uint32_t)sizeof u.options : any_struct_size(sizeof u.options);
    uint32_t declared = u.options.struct_size;
    int null_out = hostile(10);
    DESCRIBE(sn_schedule_options_default, "sn_schedule_options_default(%s with struct_size %u)",
             null_out ? "NULL" : "&o", declared);
    CHECK(sn_schedule_options_default, sn_schedule_options_default(null_out ? NULL : &u.options));
    size_t limit = declared <= sizeof u.options ? declared : 0;
    for (size_t i = limit > 4 ? limit : 4; i < sizeof u; i++)
        if (u.bytes[i] != 0xAB) violation("sn_schedule_options_default wrote byte %zu of a %u-byte struct", i, declared);
}

static void c_sn_schedule_params_default(void) {
    int32_t kind = sane(70) ? (int32_t)below(6) : any_i32();
    sn_schedule s;
    int null_out = hostile(10);
    DESCRIBE(sn_schedule_params_default, "sn_schedule_params_default(%d, %s)", kind, null_out ? "NULL" : "&s");
    CHECK(sn_schedule_params_default, sn_schedule_params_default(kind, null_out ? NULL : &s));
}

static void c_sn_schedule_lr_with_options(void) {
    sn_schedule s;
    hostile_schedule(&s);
    sn_schedule_options options;
    any_schedule_options(&options);
    float base = sane(50) ? 0.1f : any_float(), lr;
    int64_t step = sane(50) ? (int64_t)below(1000) : any_i64();
    int64_t total = sane(50) ? (int64_t)below(2000) : any_i64();
    int64_t per_epoch = sane(50) ? (int64_t)(1 + below(100)) : any_i64();
    int null_s = hostile(4), null_options = chance(15), null_out = hostile(4);
    DESCRIBE(sn_schedule_lr_with_options,
             "sn_schedule_lr_with_options({struct_size %u, kind %d, step_size %d, gamma %g, warmup %g, min_lr %g}%s, "
             "%s{struct_size %u, warmup_every_kind %d, pct_start %g, anneal %d, div %g/%g, factor %g, patience %d, "
             "threshold %g, cooldown %d}, base %g, step %lld, total %lld, per_epoch %lld, %s)",
             s.struct_size, s.kind, s.step_size, s.gamma, s.warmup_epochs, s.min_lr, null_s ? " → NULL" : "",
             null_options ? "NULL, not " : "", options.struct_size, options.warmup_every_kind, options.pct_start,
             options.anneal_strategy, options.div_factor, options.final_div_factor, options.factor, options.patience,
             options.threshold, options.cooldown, base, (long long)step, (long long)total, (long long)per_epoch,
             null_out ? "NULL" : "&lr");
    CHECK(sn_schedule_lr_with_options,
          sn_schedule_lr_with_options(null_s ? NULL : &s, null_options ? NULL : &options, base, step, total, per_epoch,
                                      null_out ? NULL : &lr));
}

static void c_sn_model_set_grad(void) {
    sn_model *m = pick_model();
    char name[64];
    size_t count;
    const char *n = any_tensor_name(m, name, &count);
    size_t k = sane(60) && count < FLOATS ? count : any_count(count < FLOATS ? count : FLOATS - 1);
    if (hostile(30) && count + 1 < FLOATS) k = count + 1;
    size_t filled = k < FLOATS ? k : FLOATS;
    fill_floats(fin, filled, hostile(30));
    int null_src = hostile(5);
    DESCRIBE(sn_model_set_grad, "sn_model_set_grad(model %p, \"%.40s\", %s, %zu)", (void *)m, n ? n : "(null)",
             null_src ? "NULL" : "src", k);
    CHECK(sn_model_set_grad, sn_model_set_grad(m, n, null_src ? NULL : fin, k));
}

static void c_sn_model_clip_grad_norm(void) {
    sn_model *m = pick_model();
    float max_norm = sane(60) ? PICK(((float[]){0.0f, 0.5f, 1.0f, 1e3f})) : any_float(), total;
    int null_total = chance(30);
    DESCRIBE(sn_model_clip_grad_norm, "sn_model_clip_grad_norm(model %p, %g, %s)", (void *)m, max_norm,
             null_total ? "NULL" : "&total");
    CHECK(sn_model_clip_grad_norm, sn_model_clip_grad_norm(m, max_norm, null_total ? NULL : &total));
}

static void c_sn_model_clip_grad_value(void) {
    sn_model *m = pick_model();
    float clip = sane(60) ? PICK(((float[]){0.0f, 0.1f, 1.0f, 1e3f})) : any_float();
    DESCRIBE(sn_model_clip_grad_value, "sn_model_clip_grad_value(model %p, %g)", (void *)m, clip);
    CHECK(sn_model_clip_grad_value, sn_model_clip_grad_value(m, clip));
}

static void c_sn_tensor_init_default(void) {
    union {
        sn_tensor_init params;
        unsigned char bytes[sizeof(sn_tensor_init) + 64];
    } u;
    memset(&u, 0xAB, sizeof u);
    u.params.struct_size = sane(70) ? (uint32_t)sizeof u.params : any_struct_size(sizeof u.params);
    uint32_t declared = u.params.struct_size;
    int32_t scheme = sane(70) ? (int32_t)below(8) : any_i32();
    int null_out = hostile(10);
    DESCRIBE(sn_tensor_init_default, "sn_tensor_init_default(%d, %s with struct_size %u)", scheme,
             null_out ? "NULL" : "&p", declared);
    CHECK(sn_tensor_init_default, sn_tensor_init_default(scheme, null_out ? NULL : &u.params));
    size_t limit = declared <= sizeof u.params ? declared : 0;
    for (size_t i = limit > 4 ? limit : 4; i < sizeof u; i++)
        if (u.bytes[i] != 0xAB) violation("sn_tensor_init_default wrote byte %zu of a %u-byte struct", i, declared);
}

/* sn_model_init_tensor: the defaults of a scheme, often with hostile fields, on a named tensor
 * of a live model (or a hostile name). */
static void c_sn_model_init_tensor(void) {
    sn_model *m = pick_model();
    char name[64];
    size_t count;
    const char *n = any_tensor_name(m, name, &count);
    sn_tensor_init p;
    int32_t scheme = sane(85) ? (int32_t)below(8) : any_i32();
    p.struct_size = sizeof p;
    if (sn_tensor_init_default(scheme, &p) != SN_OK) sn_tensor_init_default(SN_TENSOR_INIT_NORMAL, &p);
    p.struct_size = any_struct_size(sizeof p);
    if (!sane(85)) p.scheme = scheme;
    if (hostile(15)) p.mode = sane(50) ? (int32_t)below(2) : any_i32();
    if (hostile(15)) p.nonlinearity = sane(50) ? (int32_t)below(6) : any_i32();
    if (hostile(15)) p.a = any_float();
    if (hostile(15)) p.gain = any_float();
    if (hostile(15)) p.low = any_float();
    if (hostile(15)) p.high = any_float();
    if (hostile(15)) p.mean = any_float();
    if (hostile(15)) p.std = any_float();
    if (hostile(15)) p.value = any_float();
    p.seed = next_u64();
    int null_params = hostile(5);
    DESCRIBE(sn_model_init_tensor,
             "sn_model_init_tensor(model %p, \"%.40s\", %s{struct_size %u, scheme %d, mode %d, nonlinearity %d, a %g, "
             "gain %g, low %g, high %g, mean %g, std %g, value %g, seed %llu})",
             (void *)m, n ? n : "(null)", null_params ? "NULL, not " : "", p.struct_size, p.scheme, p.mode,
             p.nonlinearity, p.a, p.gain, p.low, p.high, p.mean, p.std, p.value, (unsigned long long)p.seed);
    CHECK(sn_model_init_tensor, sn_model_init_tensor(m, n, null_params ? NULL : &p));
}

static void c_sn_isa(void) {
    DESCRIBE(sn_isa, "sn_isa()");
    const char *isa = sn_isa();
    counted(F_sn_isa);
    if (!isa || (strcmp(isa, "avx512") != 0 && strcmp(isa, "avx2") != 0 && strcmp(isa, "baseline") != 0))
        violation("sn_isa() = \"%s\"", isa ? isa : "(null)");
}

/* The table, in the order of FUNCTIONS; weights favour the calls that build state. */
typedef struct {
    void (*call)(void);
    int weight;
} entry;

#define ROW(name, w) [F_##name] = {c_##name, w}
static const entry table[N_FUNCTIONS] = {
    ROW(sn_version_string, 1), ROW(sn_abi_version, 1), ROW(sn_last_error, 2), ROW(sn_status_string, 1),
    ROW(sn_set_num_threads, 2), ROW(sn_get_num_threads, 1), ROW(sn_model_create, 8), ROW(sn_model_add_linear, 8),
    ROW(sn_model_add_relu, 4), ROW(sn_model_add_dropout, 3), ROW(sn_model_add_batchnorm1d, 3),
    ROW(sn_model_add_flatten, 5), ROW(sn_model_add_conv2d, 5), ROW(sn_model_add_maxpool2d, 3),
    ROW(sn_model_add_avgpool2d, 3), ROW(sn_model_add_globalavgpool2d, 2), ROW(sn_model_add_batchnorm2d, 3),
    ROW(sn_fcn_params_default, 1), ROW(sn_model_create_fcn, 5), ROW(sn_cnn_params_default, 1),
    ROW(sn_model_create_cnn, 4), ROW(sn_model_free, 3), ROW(sn_model_n_params, 2), ROW(sn_model_input_shape, 2),
    ROW(sn_model_n_outputs, 2), ROW(sn_model_n_layers, 2), ROW(sn_model_layer_info, 3), ROW(sn_model_set_training, 4),
    ROW(sn_model_is_training, 2), ROW(sn_model_n_tensors, 2), ROW(sn_model_tensor_info, 3), ROW(sn_model_get_tensor, 3),
    ROW(sn_model_set_tensor, 3), ROW(sn_model_get_grad, 3), ROW(sn_model_forward, 8), ROW(sn_cross_entropy, 4),
    ROW(sn_model_backward, 6), ROW(sn_model_zero_grad, 3), ROW(sn_optimizer_params_default, 2),
    ROW(sn_optimizer_create, 6), ROW(sn_optimizer_step, 6), ROW(sn_optimizer_get_lr, 2), ROW(sn_optimizer_set_lr, 2),
    ROW(sn_optimizer_free, 3), ROW(sn_schedule_default, 1), ROW(sn_schedule_lr, 4),
    ROW(sn_dataset_load_fashion_mnist, 2), ROW(sn_dataset_load_idx, 4), ROW(sn_dataset_from_memory, 7),
    ROW(sn_dataset_size, 2), ROW(sn_dataset_shape, 2), ROW(sn_dataset_get, 3), ROW(sn_dataset_class_name, 2),
    ROW(sn_dataset_subset, 4), ROW(sn_dataset_split, 3), ROW(sn_dataset_free, 3), ROW(sn_train_params_default, 1),
    ROW(sn_recipe_train_params, 1), ROW(sn_recipe_train_params_for_budget, 2), ROW(sn_recipe_optimizer_params, 1),
    ROW(sn_recipe_optimizer_params_for_budget, 2), ROW(sn_fit, 8), ROW(sn_evaluate, 4), ROW(sn_predict, 4),
    ROW(sn_model_save, 3), ROW(sn_model_load, 3), ROW(sn_checkpoint_metadata, 3), ROW(sn_preprocessing_default, 1),
    ROW(sn_model_get_preprocessing, 2), ROW(sn_model_set_preprocessing, 3), ROW(sn_model_class_name, 2),
    ROW(sn_model_set_class_names, 3), ROW(sn_model_predict_u8, 4), ROW(sn_model_clone, 3),
    ROW(sn_model_save_to_buffer, 3), ROW(sn_model_load_from_buffer, 4), ROW(sn_dataset_from_u8, 4),
    ROW(sn_dataset_get_preprocessing, 2), ROW(sn_dataset_set_class_names, 2), ROW(sn_model_add_leaky_relu, 2),
    ROW(sn_model_add_elu, 2), ROW(sn_model_add_gelu, 2), ROW(sn_model_add_silu, 2), ROW(sn_model_add_tanh, 2),
    ROW(sn_model_add_sigmoid, 2), ROW(sn_model_add_softmax, 2), ROW(sn_model_add_log_softmax, 2),
    ROW(sn_model_add_dropout2d, 2), ROW(sn_model_add_layernorm, 2), ROW(sn_conv2d_params_default, 1),
    ROW(sn_model_add_conv2d_ex, 4), ROW(sn_model_add_maxpool2d_ex, 2), ROW(sn_model_add_avgpool2d_ex, 2),
    ROW(sn_model_add_adaptive_avgpool2d, 2), ROW(sn_model_add_batchnorm1d_ex, 2), ROW(sn_model_add_batchnorm2d_ex, 2),
    ROW(sn_loss_params_default, 1), ROW(sn_loss, 4), ROW(sn_optimizer_options_default, 1),
    ROW(sn_optimizer_create_with_options, 5), ROW(sn_schedule_options_default, 1), ROW(sn_schedule_params_default, 1),
    ROW(sn_schedule_lr_with_options, 3), ROW(sn_model_set_grad, 3), ROW(sn_model_clip_grad_norm, 3),
    ROW(sn_model_clip_grad_value, 2), ROW(sn_train_options_default, 1), ROW(sn_fit_with_options, 6),
    ROW(sn_model_profile, 2), ROW(sn_tensor_init_default, 1), ROW(sn_model_init_tensor, 3),
    ROW(sn_isa, 1),
};

/* ================================================================ Processes === */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void run_batch(uint64_t seed, uint64_t batch, uint64_t calls) {
    rng_state = seed ^ (0xD1B54A32D192ED03ull * (batch + 1));
    next_u64();
    setup_batch_files(batch);
    int total = 0;
    for (int i = 0; i < N_FUNCTIONS; i++) total += table[i].weight;
    uint64_t start = shared->calls;
    while (shared->calls - start < calls) {
        clean = chance(40);
        int r = (int)below((uint32_t)total), f = 0;
        while (r >= table[f].weight) r -= table[f].weight, f++;
        table[f].call();
    }
    alarm(0);
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGILL: return "SIGILL (a Swift trap: overflow, force unwrap, range or precondition)";
    case SIGTRAP: return "SIGTRAP (a Swift trap)";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGALRM: return "SIGALRM: a hang";
    case SIGKILL: return "SIGKILL (out of memory?)";
    default: return strsignal(sig);
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < N_FUNCTIONS; i++) printf("%s\n", function_names[i]);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s SEED CALLS [--batch-size=N] [--batch=K] [--verbose] [--stats] [--timeout=S] | --list\n", argv[0]);
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 10), calls = strtoull(argv[2], NULL, 10), batch_size = 250;
    long only_batch = -1;
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "--batch-size=", 13) == 0) batch_size = strtoull(argv[i] + 13, NULL, 10);
        else if (strncmp(argv[i], "--batch=", 8) == 0) only_batch = strtol(argv[i] + 8, NULL, 10);
        else if (strcmp(argv[i], "--verbose") == 0) verbose = 1;
        else if (strcmp(argv[i], "--stats") == 0) stats = 1;
        else if (strncmp(argv[i], "--timeout=", 10) == 0) call_timeout = (unsigned)strtoul(argv[i] + 10, NULL, 10);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (batch_size == 0) batch_size = 1;

    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    fin = malloc(FLOATS * sizeof(float));
    fout = malloc(FLOATS * sizeof(float));
    labels_buf = malloc(FLOATS * sizeof(int32_t));
    ftargets = malloc(FLOATS * sizeof(float));
    floss = malloc(FLOATS * sizeof(float));
    bytes_buf = malloc(BYTES);
    ckpt_buf = malloc(BYTES);
    confusion_buf = malloc(65536 * sizeof(int64_t));
    if (shared == MAP_FAILED || !fin || !fout || !labels_buf || !bytes_buf || !ckpt_buf || !confusion_buf) return 2;
    memset(long_string, 'L', sizeof long_string - 1);
    snprintf(tmp_root, sizeof tmp_root, "%s/smallnet-abi-sweep-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_root)) { perror("mkdtemp"); return 2; }
    setup_shared_files();

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t batches = (calls + batch_size - 1) / batch_size, crashes = 0, hangs = 0, broken = 0;
    for (uint64_t b = 0; b < batches; b++) {
        if (only_batch >= 0 && (uint64_t)only_batch != b) continue;
        uint64_t n = b + 1 == batches ? calls - b * batch_size : batch_size;
        shared->current[0] = shared->nested[0] = shared->violation[0] = 0;
        uint64_t before = shared->calls;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 2; }
        if (pid == 0) {
            struct rlimit limit = {(rlim_t)8 << 30, (rlim_t)8 << 30}; /* 8 GiB of address space */
            setrlimit(RLIMIT_AS, &limit);
            signal(SIGPIPE, SIG_IGN);
            run_batch(seed, b, n);
            _exit(0);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        char batch_path[600];
        snprintf(batch_path, sizeof batch_path, "%s/batch%llu", tmp_root, (unsigned long long)b);
        nftw(batch_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
        const char *what;
        if (WIFSIGNALED(status)) {
            what = signal_name(WTERMSIG(status));
            if (WTERMSIG(status) == SIGALRM) hangs++; else crashes++;
        } else if (WEXITSTATUS(status) == 3) {
            what = "contract broken";
            broken++;
        } else {
            what = "exited";
            crashes++;
        }
        printf("FAIL seed %llu batch %llu (call %llu of the batch): %s (%s %d)\n  call: %s\n",
               (unsigned long long)seed, (unsigned long long)b, (unsigned long long)(shared->calls - before + 1), what,
               WIFEXITED(status) ? "exit status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
               shared->current);
        if (shared->nested[0]) printf("  last call from its progress callback: %s\n", shared->nested);
        if (shared->violation[0]) printf("  %s\n", shared->violation);
        printf("  reproduce: %s %llu %llu --batch-size=%llu --batch=%llu --verbose\n", argv[0], (unsigned long long)seed,
               (unsigned long long)calls, (unsigned long long)batch_size, (unsigned long long)b);
        fflush(stdout);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

    if (stats)
        for (int i = 0; i < N_FUNCTIONS; i++)
            printf("%-40s %8llu calls %8llu ok\n", function_names[i], (unsigned long long)shared->per_function[i],
                   (unsigned long long)shared->per_function_ok[i]);
    int uncovered = 0;
    if (only_batch < 0) {
        printf("covered:");
        for (int i = 0; i < N_FUNCTIONS; i++)
            if (shared->per_function[i] == 0) { printf(" %s(0 calls)", function_names[i]); uncovered++; }
        printf(uncovered ? "\n" : " all %d functions called\n", N_FUNCTIONS);
    }
    printf("statuses: ok %llu, invalid %llu, shape %llu, memory %llu, io %llu, state %llu, not-found %llu, internal %llu, "
           "diverged %llu\n",
           (unsigned long long)shared->per_status[0], (unsigned long long)shared->per_status[1],
           (unsigned long long)shared->per_status[2], (unsigned long long)shared->per_status[3],
           (unsigned long long)shared->per_status[4], (unsigned long long)shared->per_status[5],
           (unsigned long long)shared->per_status[6], (unsigned long long)shared->per_status[7],
           (unsigned long long)shared->per_status[8]);
    printf("abi_sweep: seed %llu, %llu calls in %.1f s (%.0f calls/s), %llu batches: %llu crashes, %llu hangs, "
           "%llu broken contracts\n",
           (unsigned long long)seed, (unsigned long long)shared->calls, seconds, (double)shared->calls / seconds,
           (unsigned long long)batches, (unsigned long long)crashes, (unsigned long long)hangs,
           (unsigned long long)broken);
    /* With a few thousand calls every function is reached; one that is not is a dead entry. */
    if (uncovered && calls >= 5000) printf("abi_sweep: %d functions were never called\n", uncovered);
    return crashes || hangs || broken || (uncovered && calls >= 5000) ? 1 : 0;
}
