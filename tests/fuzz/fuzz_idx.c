/*
 * fuzz_idx.c — the IDX reader on arbitrary bytes through sn_dataset_load_idx. The first input
 * byte chooses the file the rest becomes (even: the images file, odd: the labels file) and
 * the second the class count (its value + 1, so 1 and 256 occur); the other file of the pair
 * is written to match the sample count the fuzzed bytes declare, so that inputs which parse
 * reach the dataset checks and the dataset functions. Built with FUZZ_IDX_GZIP (fuzz_idx_gz.c),
 * the bytes are the file as it is on disk: gzip members, raw bytes, or both.
 */
#include "fuzz_common.h"
#ifdef FUZZ_IDX_GZIP
#include <zlib.h>
#endif

/* The first 8 bytes of the IDX data the file holds (after decompression when it is gzip). */
static size_t idx_prefix(const uint8_t *file, size_t size, uint8_t prefix[8]) {
#ifdef FUZZ_IDX_GZIP
    if (size >= 2 && file[0] == 0x1f && file[1] == 0x8b) {
        z_stream stream;
        memset(&stream, 0, sizeof stream);
        if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return 0;
        stream.next_in = (Bytef *)file;
        stream.avail_in = (uInt)size;
        stream.next_out = prefix;
        stream.avail_out = 8;
        inflate(&stream, Z_SYNC_FLUSH);
        size_t got = 8 - stream.avail_out;
        inflateEnd(&stream);
        return got;
    }
#endif
    size_t got = size < 8 ? size : 8;
    memcpy(prefix, file, got);
    return got;
}

/* An IDX file of unsigned bytes with the given dimensions; pixel or label i is i % modulo. */
static void idx_file(fuzz_buffer *out, const uint32_t *dims, int rank, int modulo) {
    uint8_t magic[4] = {0, 0, 0x08, (uint8_t)rank};
    size_t count = 1;
    out->size = 0;
    fuzz_append(out, magic, 4);
    for (int r = 0; r < rank; r++) {
        uint8_t be[4] = {(uint8_t)(dims[r] >> 24), (uint8_t)(dims[r] >> 16), (uint8_t)(dims[r] >> 8), (uint8_t)dims[r]};
        fuzz_append(out, be, 4);
        count *= dims[r];
    }
    for (size_t i = 0; i < count; i++) {
        uint8_t v = (uint8_t)(i % (size_t)modulo);
        fuzz_append(out, &v, 1);
    }
}

/* Exercises a dataset the reader accepted. */
static void use_dataset(sn_dataset *d) {
    size_t n = 0;
    int32_t c = 0, h = 0, w = 0, classes = 0;
    if (FUZZ_CALL(sn_dataset_size(d, &n)) != SN_OK) abort();
    if (FUZZ_CALL(sn_dataset_shape(d, &c, &h, &w, &classes)) != SN_OK) abort();
    int64_t sample = (int64_t)c * h * w;
    size_t take = n < 4 ? n : 4;
    if (sample <= 65536) {
        float *images = malloc((size_t)sample * take * sizeof(float) + 1);
        int32_t labels[4];
        FUZZ_CALL(sn_dataset_get(d, 0, take, images, (size_t)sample * take, labels, take));
        free(images);
    }
    char name[32];
    FUZZ_CALL(sn_dataset_class_name(d, classes - 1, name, sizeof name));
    sn_preprocessing pre = {.struct_size = sizeof pre};
    FUZZ_CALL(sn_dataset_get_preprocessing(d, &pre));
    sn_dataset *head = NULL;
    if (FUZZ_CALL(sn_dataset_subset(d, 0, n < 64 ? n : 64, &head)) != SN_OK) abort();
    if (n >= 2) {
        sn_dataset *rest = NULL, *held = NULL;
        if (FUZZ_CALL(sn_dataset_split(head, 1, 7, &rest, &held)) == SN_OK) {
            sn_dataset_free(rest);
            sn_dataset_free(held);
        }
    }
    /* A tiny classifier evaluated and predicting on the first samples. */
    sn_model *m = NULL;
    if (sample <= 4096 && FUZZ_CALL(sn_model_create(c, h, w, &m)) == SN_OK) {
        FUZZ_CALL(sn_model_add_flatten(m));
        FUZZ_CALL(sn_model_add_linear(m, classes, 1, SN_INIT_PYTORCH, 1));
        float loss = 0, accuracy = 0;
        FUZZ_CALL(sn_evaluate(m, head, &loss, &accuracy, NULL, 0));
        size_t size = 0;
        FUZZ_CALL(sn_dataset_size(head, &size));
        float *p = malloc(size * (size_t)classes * sizeof(float));
        FUZZ_CALL(sn_predict(m, head, p, size * (size_t)classes));
        free(p);
        sn_model_free(m);
    }
    sn_dataset_free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    if (size < 2) return 0;
    int labels_fuzzed = data[0] & 1;
    int32_t classes = (int32_t)data[1] + 1;
    const uint8_t *file = data + 2;
    size_t file_size = size - 2;

    /* The sample count the fuzzed file declares (its first dimension), bounded. */
    uint8_t prefix[8] = {0};
    uint32_t n = 1;
    if (idx_prefix(file, file_size, prefix) == 8) {
        n = (uint32_t)prefix[4] << 24 | (uint32_t)prefix[5] << 16 | (uint32_t)prefix[6] << 8 | prefix[7];
        if (n > 4096) n = 4096;
    }
    fuzz_buffer partner = {0};
    if (labels_fuzzed) {
        uint32_t dims[3] = {n, 2, 3};
        idx_file(&partner, dims, 3, 256);
    } else {
        uint32_t dims[1] = {n};
        idx_file(&partner, dims, 1, classes);
    }
    const char *fuzzed = fuzz_write_file("fuzzed-idx", file, file_size);
    const char *other = fuzz_write_file("partner-idx", partner.data, partner.size);
    sn_dataset *d = NULL;
    sn_status s = labels_fuzzed ? FUZZ_CALL(sn_dataset_load_idx(other, fuzzed, classes, 0.2860f, 0.3530f, &d))
                                : FUZZ_CALL(sn_dataset_load_idx(fuzzed, other, classes, 0.2860f, 0.3530f, &d));
    if (s == SN_OK) {
        use_dataset(d);
        sn_dataset_free(d);
    }
    free(partner.data);
    return 0;
}
