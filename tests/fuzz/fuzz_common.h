/*
 * fuzz_common.h — helpers shared by the libFuzzer targets: temporary files, JSON escaping,
 * checkpoint assembly, and a short workout for whatever a parser accepted.
 *
 * A target must never crash, hang or leak on any input; every status a call returns must be
 * an SN_ERR_* code with a non-empty message. fuzz_check() aborts otherwise, which libFuzzer
 * records as a crash with the input that caused it.
 */
#ifndef SMALLNET_FUZZ_COMMON_H
#define SMALLNET_FUZZ_COMMON_H

#include <smallnet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A status must be SN_OK or a known error code with a message. */
static inline void fuzz_check(sn_status status, const char *call) {
    if (status == SN_OK) return;
    if (status < SN_ERR_INVALID_ARGUMENT || status > SN_ERR_DIVERGED) {
        fprintf(stderr, "%s returned an unknown status %d\n", call, status);
        abort();
    }
    if (status == SN_ERR_INTERNAL) {
        fprintf(stderr, "%s returned SN_ERR_INTERNAL: %s\n", call, sn_last_error());
        abort();
    }
    const char *message = sn_last_error();
    if (message == NULL || message[0] == '\0') {
        fprintf(stderr, "%s returned %d without a message\n", call, status);
        abort();
    }
}

#define FUZZ_CALL(call) (fuzz_check_status_((call), #call))
static inline sn_status fuzz_check_status_(sn_status status, const char *call) {
    fuzz_check(status, call);
    return status;
}

/* Once per process: one kernel thread (reproducible runs). */
static inline void fuzz_setup(void) {
    static int done = 0;
    if (done) return;
    done = 1;
    if (sn_set_num_threads(1) != SN_OK) abort();
}

/* A growable byte buffer. */
typedef struct {
    uint8_t *data;
    size_t size, capacity;
} fuzz_buffer;

static inline void fuzz_append(fuzz_buffer *b, const void *bytes, size_t n) {
    if (b->size + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 256;
        while (capacity < b->size + n) capacity *= 2;
        b->data = realloc(b->data, capacity);
        if (!b->data) abort();
        b->capacity = capacity;
    }
    if (n) memcpy(b->data + b->size, bytes, n);
    b->size += n;
}

static inline void fuzz_append_str(fuzz_buffer *b, const char *s) { fuzz_append(b, s, strlen(s)); }

/* Appends bytes as the inside of a JSON string: quotes, backslashes and control bytes escaped,
 * everything else (also invalid UTF-8) as it is. */
static inline void fuzz_append_escaped(fuzz_buffer *b, const uint8_t *bytes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = bytes[i];
        if (c == '"' || c == '\\') {
            uint8_t pair[2] = {'\\', c};
            fuzz_append(b, pair, 2);
        } else if (c < 0x20) {
            char escape[8];
            snprintf(escape, sizeof escape, "\\u%04x", c);
            fuzz_append_str(b, escape);
        } else {
            fuzz_append(b, &c, 1);
        }
    }
}

/* A safetensors file: 8-byte little-endian header length, the header, then `body` bytes of
 * zeros (zero floats and zero counters are valid tensor values). */
static inline void fuzz_checkpoint(fuzz_buffer *out, const uint8_t *header, size_t header_size, size_t body) {
    uint8_t length[8];
    for (int i = 0; i < 8; i++) length[i] = (uint8_t)((uint64_t)header_size >> (8 * i));
    out->size = 0;
    fuzz_append(out, length, 8);
    fuzz_append(out, header, header_size);
    for (size_t i = 0; i < body; i++) fuzz_append(out, "", 1);
}

static char fuzz_paths[4][256];

static inline void fuzz_remove_files(void) {
    for (int i = 0; i < 4; i++)
        if (fuzz_paths[i][0]) unlink(fuzz_paths[i]);
}

/* Writes bytes to the file `tag` of this process under $SMALLNET_FUZZ_TMP, else /dev/shm
 * (else /tmp), removed at exit; returns its path. At most four tags. */
static inline const char *fuzz_write_file(const char *tag, const uint8_t *data, size_t size) {
    char wanted[256];
    const char *dir = getenv("SMALLNET_FUZZ_TMP");
    if (!dir || !dir[0]) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(wanted, sizeof wanted, "%s/smallnet-fuzz-%d-%s", dir, (int)getpid(), tag);
    char *path = NULL;
    for (int i = 0; i < 4 && !path; i++) {
        if (fuzz_paths[i][0] == '\0') {
            if (i == 0) atexit(fuzz_remove_files);
            snprintf(fuzz_paths[i], sizeof fuzz_paths[i], "%s", wanted);
        }
        if (strcmp(fuzz_paths[i], wanted) == 0) path = fuzz_paths[i];
    }
    if (!path) abort();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) abort();
        done += (size_t)n;
    }
    close(fd);
    return path;
}

/* Exercises a model a parser accepted: description, tensors, a forward pass and predictions
 * when it is small, a checkpoint round trip and a clone. Every call must succeed or fail
 * cleanly. */
static inline void fuzz_use_model(sn_model *m) {
    int64_t n_params = 0, outputs = 0;
    size_t n_layers = 0, n_tensors = 0;
    int32_t c = 0, h = 0, w = 0;
    if (FUZZ_CALL(sn_model_n_params(m, &n_params)) != SN_OK) abort();
    if (FUZZ_CALL(sn_model_n_outputs(m, &outputs)) != SN_OK) abort();
    if (FUZZ_CALL(sn_model_n_layers(m, &n_layers)) != SN_OK) abort();
    if (FUZZ_CALL(sn_model_input_shape(m, &c, &h, &w)) != SN_OK) abort();
    for (size_t i = 0; i < n_layers; i++) {
        sn_layer_info info = {.struct_size = sizeof info};
        FUZZ_CALL(sn_model_layer_info(m, i, &info));
    }
    FUZZ_CALL(sn_model_n_tensors(m, &n_tensors));
    for (size_t i = 0; i < n_tensors && i < 64; i++) {
        sn_tensor_info info = {.struct_size = sizeof info};
        if (FUZZ_CALL(sn_model_tensor_info(m, i, &info)) != SN_OK) continue;
        if (info.count > 0 && info.count <= 4096) {
            float *values = malloc((size_t)info.count * sizeof(float));
            FUZZ_CALL(sn_model_get_tensor(m, info.name, values, (size_t)info.count));
            free(values);
        }
    }
    char name[64];
    FUZZ_CALL(sn_model_class_name(m, 0, name, sizeof name));
    sn_preprocessing pre = {.struct_size = sizeof pre};
    FUZZ_CALL(sn_model_get_preprocessing(m, &pre));

    /* A forward pass, predictions on raw pixels: only for small shapes (the input shape of a
     * checkpoint is not bounded by its size). */
    int64_t in = (int64_t)c * h * w;
    if (in > 0 && in <= 4096 && outputs > 0 && outputs <= 4096 && n_params <= 100000) {
        size_t n = 2;
        float *x = calloc((size_t)in * n, sizeof(float));
        float *y = calloc((size_t)outputs * n, sizeof(float));
        uint8_t *pixels = calloc((size_t)in * n, 1);
        for (size_t i = 0; i < (size_t)in * n; i++) { x[i] = (float)(i % 7) - 3.0f; pixels[i] = (uint8_t)(i * 37); }
        FUZZ_CALL(sn_model_forward(m, x, n, y, (size_t)outputs * n));
        FUZZ_CALL(sn_model_predict_u8(m, pixels, n, y, (size_t)outputs * n));
        free(x);
        free(y);
        free(pixels);
    }

    /* Save and reload: what loaded must save, and what saves must load. */
    size_t length = 0;
    if (FUZZ_CALL(sn_model_save_to_buffer(m, NULL, NULL, 0, &length)) != SN_ERR_SHAPE_MISMATCH) abort();
    uint8_t *bytes = malloc(length);
    if (FUZZ_CALL(sn_model_save_to_buffer(m, "{}", bytes, length, &length)) == SN_OK) {
        sn_model *again = NULL;
        if (FUZZ_CALL(sn_model_load_from_buffer(bytes, length, &again)) != SN_OK) {
            fprintf(stderr, "a loaded model's own checkpoint does not load: %s\n", sn_last_error());
            abort();
        }
        sn_model_free(again);
    }
    free(bytes);
    sn_model *twin = NULL;
    if (FUZZ_CALL(sn_model_clone(m, &twin)) == SN_OK) sn_model_free(twin);
}

#endif /* SMALLNET_FUZZ_COMMON_H */
