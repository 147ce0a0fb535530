/*
 * classify.c — load a checkpoint, classify FashionMNIST test images one at a time, print the
 * predictions and the latency per image.
 *
 *   cc classify.c $(pkg-config --cflags --libs smallnet) -o classify
 *   ./classify fcn100k.safetensors [images]
 */
#include <smallnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CHECKPOINT [IMAGES]\n", argv[0]);
        return 2;
    }
    if (sn_abi_version() != SN_ABI_VERSION) {
        fprintf(stderr, "libsmallnet ABI %u, this program was built for %d\n", sn_abi_version(), SN_ABI_VERSION);
        return 1;
    }
    size_t count = argc > 2 ? (size_t)atol(argv[2]) : 1000;

    sn_model *model = NULL;
    CHECK(sn_model_load(argv[1], &model)); /* loaded in eval mode */
    sn_dataset *test = NULL;
    CHECK(sn_dataset_load_fashion_mnist(NULL, 0, 1, &test));
    size_t size = 0;
    CHECK(sn_dataset_size(test, &size));
    if (count == 0 || count > size) count = size;
    int32_t c, h, w, classes;
    CHECK(sn_dataset_shape(test, &c, &h, &w, &classes));
    size_t pixels = (size_t)c * h * w;

    float *images = malloc(count * pixels * sizeof(float));
    int32_t *labels = malloc(count * sizeof(int32_t));
    float logits[64];
    if (!images || !labels || classes > 64) return 1;
    CHECK(sn_dataset_get(test, 0, count, images, count * pixels, labels, count));

    /* One image per call, as an embedded classifier would. The first calls warm the caches. */
    sn_set_num_threads(1);
    for (size_t i = 0; i < 10 && i < count; i++) CHECK(sn_model_forward(model, images, 1, logits, 64));
    size_t correct = 0;
    double start = now();
    for (size_t i = 0; i < count; i++) {
        CHECK(sn_model_forward(model, images + i * pixels, 1, logits, 64));
        int best = 0;
        for (int k = 1; k < classes; k++)
            if (logits[k] > logits[best]) best = k;
        if (best == labels[i]) correct++;
        if (i < 8) {
            char predicted[32], truth[32];
            CHECK(sn_dataset_class_name(test, best, predicted, sizeof predicted));
            CHECK(sn_dataset_class_name(test, labels[i], truth, sizeof truth));
            printf("image %zu: %-12s (true: %s)\n", i, predicted, truth);
        }
    }
    double seconds = now() - start;
    printf("%zu images, accuracy %.2f %%, %.1f us per image\n", count, 100.0 * correct / count, 1e6 * seconds / count);

    free(images);
    free(labels);
    sn_dataset_free(test);
    sn_model_free(model);
    return 0;
}
