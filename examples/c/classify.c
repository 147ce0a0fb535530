/*
 * classify.c — load a checkpoint and classify raw 8-bit images from an IDX file one at a time,
 * as an embedded classifier would: print the class names it finds, the accuracy against the
 * labels and the time per image.
 *
 *   cc -std=c99 classify.c $(pkg-config --cflags --libs smallnet) -lz -o classify
 *   ./classify model.safetensors [count [images.idx[.gz] labels.idx[.gz]]]
 *
 * The images default to the FashionMNIST test split ($SMALLNET_DATA or
 * /usr/share/datasets/fashion-mnist). They are given to the model as the raw bytes of the
 * file: the model prepares them with the preprocessing it recorded when it was trained
 * (sn_model_predict_u8), so this program needs to know nothing about normalisation.
 */
#define _POSIX_C_SOURCE 200112L /* clock_gettime */
#include <smallnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h> /* gzread reads raw and gzip-compressed files alike */

#define CHECK(call)                                                                      \
    do {                                                                                 \
        sn_status status_ = (call);                                                      \
        if (status_ != SN_OK) {                                                          \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, sn_last_error(),              \
                    sn_status_string(status_));                                          \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Reads an IDX file of unsigned bytes: its `rank` dimensions (at most 3) into dims and
 * its data into a new buffer (caller frees), or NULL with a message on stderr. */
static uint8_t *read_idx(const char *path, int rank, uint32_t *dims) {
    gzFile file = gzopen(path, "rb");
    unsigned char header[16];
    size_t size = 1;
    uint8_t *data = NULL;
    int i;
    if (!file) {
        fprintf(stderr, "%s: cannot open\n", path);
        return NULL;
    }
    /* Magic: 0, 0, type 0x08 (unsigned bytes), rank; then rank big-endian uint32 dimensions. */
    if (gzread(file, header, 4 + 4 * rank) != 4 + 4 * rank || header[0] || header[1] || header[2] != 0x08 ||
        header[3] != rank) {
        fprintf(stderr, "%s: not an IDX file of unsigned bytes with %d dimensions\n", path, rank);
        gzclose(file);
        return NULL;
    }
    for (i = 0; i < rank; i++) {
        const unsigned char *d = header + 4 + 4 * i;
        dims[i] = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        size *= dims[i];
    }
    data = malloc(size ? size : 1);
    if (!data || gzread(file, data, (unsigned)size) != (int)size) {
        fprintf(stderr, "%s: truncated or unreadable\n", path);
        free(data);
        data = NULL;
    }
    gzclose(file);
    return data;
}

int main(int argc, char **argv) {
    const char *data = getenv("SMALLNET_DATA");
    const char *directory = data && *data ? data : "/usr/share/datasets/fashion-mnist";
    char images_path[4096], labels_path[4096];
    uint32_t image_dims[3], label_dims[1];
    uint8_t *images, *labels;
    size_t count, pixels, i, correct = 0;
    int32_t channels, height, width;
    int64_t classes;
    float *probabilities;
    sn_model *model = NULL;
    double start, seconds;

    if (argc != 2 && argc != 3 && argc != 5) {
        fprintf(stderr, "usage: %s CHECKPOINT [COUNT [IMAGES LABELS]]\n", argv[0]);
        return 2;
    }
    if (sn_abi_version() != SN_ABI_VERSION) {
        fprintf(stderr, "libsmallnet ABI %u, this program was built for %d\n", sn_abi_version(), SN_ABI_VERSION);
        return 1;
    }
    if (argc == 5) {
        snprintf(images_path, sizeof images_path, "%s", argv[3]);
        snprintf(labels_path, sizeof labels_path, "%s", argv[4]);
    } else {
        snprintf(images_path, sizeof images_path, "%s/t10k-images-idx3-ubyte.gz", directory);
        snprintf(labels_path, sizeof labels_path, "%s/t10k-labels-idx1-ubyte.gz", directory);
    }

    CHECK(sn_model_load(argv[1], &model)); /* in eval mode, with its preprocessing and class names */
    CHECK(sn_model_input_shape(model, &channels, &height, &width));
    CHECK(sn_model_n_outputs(model, &classes));

    images = read_idx(images_path, 3, image_dims);
    labels = read_idx(labels_path, 1, label_dims);
    if (!images || !labels) return 1;
    if (channels != 1 || image_dims[1] != (uint32_t)height || image_dims[2] != (uint32_t)width ||
        label_dims[0] != image_dims[0]) {
        fprintf(stderr, "%s: %u images of %ux%u pixels with %u labels; the model takes %dx%dx%d images\n",
                images_path, image_dims[0], image_dims[1], image_dims[2], label_dims[0], channels, height, width);
        return 1;
    }
    count = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1000;
    if (count == 0 || count > image_dims[0]) count = image_dims[0];
    pixels = (size_t)height * width;

    probabilities = malloc((size_t)classes * sizeof(float));
    if (!probabilities) return 1;

    /* One image per call; the first calls warm the caches. */
    sn_set_num_threads(1);
    for (i = 0; i < 10 && i < count; i++) CHECK(sn_model_predict_u8(model, images, 1, probabilities, (size_t)classes));
    start = now();
    for (i = 0; i < count; i++) {
        int32_t best = 0, k;
        CHECK(sn_model_predict_u8(model, images + i * pixels, 1, probabilities, (size_t)classes));
        for (k = 1; k < classes; k++)
            if (probabilities[k] > probabilities[best]) best = k;
        if (best == labels[i]) correct++;
        if (i < 8) {
            char predicted[64], truth[64];
            CHECK(sn_model_class_name(model, best, predicted, sizeof predicted));
            CHECK(sn_model_class_name(model, labels[i], truth, sizeof truth));
            printf("image %zu: %-12s %.3f  (true: %s)\n", i, predicted, probabilities[best], truth);
        }
    }
    seconds = now() - start;
    printf("%zu images, accuracy %.2f %%, %.1f us per image\n", count, 100.0 * correct / count, 1e6 * seconds / count);

    free(probabilities);
    free(images);
    free(labels);
    sn_model_free(model);
    return 0;
}
