/*
 * test_api.c — the C surface tested through the C surface: every bad input returns a status
 * code and a message, never a crash; the good paths return what the header promises.
 *
 * Needs no data files: datasets are made in memory and IDX files are written to a temp dir.
 */
#include <smallnet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"

/* A small synthetic 3-class dataset of 1×4×4 images: the class is the brightest row band. */
static sn_dataset *synthetic(size_t n, uint64_t seed) {
    float *images = malloc(n * 16 * sizeof(float));
    int32_t *labels = malloc(n * sizeof(int32_t));
    srand((unsigned)seed);
    for (size_t i = 0; i < n; i++) {
        labels[i] = (int32_t)(i % 3);
        for (int p = 0; p < 16; p++)
            images[i * 16 + p] = (p / 5 == labels[i] ? 1.0f : 0.0f) + 0.2f * ((float)rand() / RAND_MAX - 0.5f);
    }
    sn_dataset *d = NULL;
    OK(sn_dataset_from_memory(images, labels, n, 1, 4, 4, 3, &d));
    free(images);
    free(labels);
    return d;
}

static sn_model *small_model(void) {
    sn_model *m = NULL;
    OK(sn_model_create(1, 4, 4, &m));
    OK(sn_model_add_flatten(m));
    OK(sn_model_add_linear(m, 8, 1, SN_INIT_KAIMING, 1));
    OK(sn_model_add_batchnorm1d(m, 0.1f, 1e-5f));
    OK(sn_model_add_relu(m));
    OK(sn_model_add_dropout(m, 0.1f));
    OK(sn_model_add_linear(m, 3, 1, SN_INIT_PYTORCH, 2));
    return m;
}

static void test_versions_and_errors(void) {
    EXPECT(sn_abi_version() == SN_ABI_VERSION, "ABI %u", sn_abi_version());
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", SN_VERSION_MAJOR, SN_VERSION_MINOR, SN_VERSION_PATCH);
    EXPECT(strcmp(sn_version_string(), expected) == 0, "version %s", sn_version_string());
    EXPECT(strcmp(sn_status_string(SN_OK), "ok") == 0, "status string");
    EXPECT(strcmp(sn_status_string(12345), "unknown status") == 0, "unknown status string");
    EXPECT(strcmp(sn_status_string(-1), "unknown status") == 0, "negative status string");
    EXPECT(sn_last_error() != NULL, "last error never NULL");
    EXPECT_STATUS(sn_set_num_threads(-1), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_set_num_threads(65), SN_ERR_INVALID_ARGUMENT);
    OK(sn_set_num_threads(2));
    EXPECT(sn_get_num_threads() == 2, "threads %d", sn_get_num_threads());
    OK(sn_set_num_threads(0));
    EXPECT(sn_get_num_threads() >= 1, "threads %d", sn_get_num_threads());
}

/* The kernel variant: one of the three names, and the one SMALLNET_ISA asks for when set. */
static void test_isa(void) {
    const char *isa = sn_isa();
    EXPECT(strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "baseline") == 0, "isa %s", isa);
    const char *wanted = getenv("SMALLNET_ISA");
    if (wanted && wanted[0]) EXPECT(strcmp(isa, wanted) == 0, "isa %s, SMALLNET_ISA=%s", isa, wanted);
    EXPECT(strcmp(sn_status_string(SN_ERR_UNSUPPORTED_CPU), "unsupported CPU") == 0, "status string");
    printf("isa: %s\n", isa);
}

static void test_model_building(void) {
    sn_model *m = NULL;
    EXPECT_STATUS(sn_model_create(0, 28, 28, &m), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_create(1, -28, 28, &m), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_create(1, 28, 28, NULL), SN_ERR_INVALID_ARGUMENT);
    EXPECT(m == NULL, "no model on failure");
    OK(sn_model_create(1, 28, 28, &m));
    EXPECT_STATUS(sn_model_add_batchnorm1d(m, 0.1f, 1e-5f), SN_ERR_SHAPE_MISMATCH); /* not flat yet */
    EXPECT_STATUS(sn_model_add_linear(m, 0, 1, SN_INIT_KAIMING, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_linear(m, 10, 2, SN_INIT_KAIMING, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_linear(m, 10, 1, 7, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_linear(m, 2000000000, 1, SN_INIT_KAIMING, 0), SN_ERR_OUT_OF_MEMORY);
    EXPECT_STATUS(sn_model_add_dropout(m, 1.0f), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_dropout(m, NAN), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_add_flatten(m));
    EXPECT_STATUS(sn_model_add_batchnorm1d(m, 2.0f, 1e-5f), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_batchnorm1d(m, 0.1f, 0.0f), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_add_linear(m, 10, 1, SN_INIT_KAIMING, 0));
    int64_t n = 0;
    OK(sn_model_n_params(m, &n));
    EXPECT(n == 784 * 10 + 10, "params %lld", (long long)n);
    EXPECT_STATUS(sn_model_n_params(m, NULL), SN_ERR_INVALID_ARGUMENT);
    size_t layers = 0;
    OK(sn_model_n_layers(m, &layers));
    EXPECT(layers == 2, "layers %zu", layers);
    sn_layer_info info;
    memset(&info, 0, sizeof info);
    EXPECT_STATUS(sn_model_layer_info(m, 1, &info), SN_ERR_INVALID_ARGUMENT); /* struct_size unset */
    info.struct_size = sizeof info;
    OK(sn_model_layer_info(m, 1, &info));
    EXPECT(info.kind == SN_LAYER_LINEAR && info.rank == 1 && info.shape[0] == 10 && info.n_params == 7850,
           "layer info %d %d %lld", info.kind, info.rank, (long long)info.shape[0]);
    EXPECT(strcmp(info.summary, "Linear(784 → 10)") == 0, "summary %s", info.summary);
    EXPECT_STATUS(sn_model_layer_info(m, 2, &info), SN_ERR_INVALID_ARGUMENT);
    int32_t c = 0, h = 0, w = 0;
    OK(sn_model_input_shape(m, &c, &h, &w));
    EXPECT(c == 1 && h == 28 && w == 28, "input shape");
    OK(sn_model_n_outputs(m, &n));
    EXPECT(n == 10, "outputs");
    EXPECT_STATUS(sn_model_set_training(m, 5), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_set_training(m, 0));
    int32_t training = 1;
    OK(sn_model_is_training(m, &training));
    EXPECT(training == 0, "eval mode");
    sn_model_free(m);

    /* Builders. */
    sn_fcn_params fp;
    EXPECT_STATUS(sn_fcn_params_default(NULL), SN_ERR_INVALID_ARGUMENT);
    OK(sn_fcn_params_default(&fp));
    EXPECT(fp.param_budget == 100000 && fp.classes == 10 && fp.batchnorm == 1, "fcn defaults");
    EXPECT_STATUS(sn_model_create_fcn(NULL, &m), SN_ERR_INVALID_ARGUMENT);
    sn_fcn_params bad = fp;
    bad.struct_size = 3;
    EXPECT_STATUS(sn_model_create_fcn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    bad = fp;
    bad.param_budget = 10;
    EXPECT_STATUS(sn_model_create_fcn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    bad = fp;
    bad.param_budget = -1;
    EXPECT_STATUS(sn_model_create_fcn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    bad = fp;
    bad.n_hidden = 2; /* hidden NULL */
    EXPECT_STATUS(sn_model_create_fcn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    int32_t widths[2] = {32, -4};
    bad = fp;
    bad.hidden = widths;
    bad.n_hidden = 2;
    EXPECT_STATUS(sn_model_create_fcn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    bad.init = 9;
    widths[1] = 16;
    EXPECT_STATUS(sn_model_create_fcn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    bad.init = SN_INIT_KAIMING;
    bad.batchnorm = 0;
    OK(sn_model_create_fcn(&bad, &m));
    OK(sn_model_n_params(m, &n));
    EXPECT(n == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10, "explicit widths params %lld", (long long)n);
    sn_model_free(m);
    for (int64_t budget = 50000; budget <= 200000; budget *= 2) {
        fp.param_budget = budget;
        OK(sn_model_create_fcn(&fp, &m));
        OK(sn_model_n_params(m, &n));
        EXPECT(llabs(n - budget) <= budget / 50, "budget %lld gave %lld", (long long)budget, (long long)n);
        sn_model_free(m);
    }
}

static void test_cnn(void) {
    sn_model *m = NULL;
    OK(sn_model_create(1, 8, 8, &m));
    EXPECT_STATUS(sn_model_add_conv2d(m, 4, 0, 1, 0, 1, SN_INIT_KAIMING, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_conv2d(m, 4, 3, 0, 1, 1, SN_INIT_KAIMING, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_conv2d(m, 4, 3, 1, 3, 1, SN_INIT_KAIMING, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_conv2d(m, 4, 9, 1, 0, 1, SN_INIT_KAIMING, 0), SN_ERR_SHAPE_MISMATCH); /* 9 > 8 */
    EXPECT_STATUS(sn_model_add_conv2d(m, 0, 3, 1, 1, 1, SN_INIT_KAIMING, 0), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_add_conv2d(m, 4, 3, 1, 1, 0, SN_INIT_KAIMING, 0));
    EXPECT_STATUS(sn_model_add_batchnorm1d(m, 0.1f, 1e-5f), SN_ERR_SHAPE_MISMATCH);
    OK(sn_model_add_batchnorm2d(m, 0.1f, 1e-5f));
    OK(sn_model_add_relu(m));
    EXPECT_STATUS(sn_model_add_maxpool2d(m, 0, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_maxpool2d(m, 9, 0), SN_ERR_SHAPE_MISMATCH);
    OK(sn_model_add_maxpool2d(m, 2, 0));
    OK(sn_model_add_avgpool2d(m, 2, 1));
    OK(sn_model_add_globalavgpool2d(m));
    EXPECT_STATUS(sn_model_add_conv2d(m, 4, 1, 1, 0, 1, SN_INIT_KAIMING, 0), SN_ERR_SHAPE_MISMATCH); /* flat now */
    EXPECT_STATUS(sn_model_add_batchnorm2d(m, 0.1f, 1e-5f), SN_ERR_SHAPE_MISMATCH);
    OK(sn_model_add_linear(m, 3, 1, SN_INIT_KAIMING, 0));
    sn_layer_info info;
    info.struct_size = sizeof info;
    OK(sn_model_layer_info(m, 0, &info));
    EXPECT(info.kind == SN_LAYER_CONV2D && info.rank == 3 && info.shape[0] == 4 && info.shape[1] == 8 && info.n_params == 36,
           "conv layer info %s", info.summary);
    OK(sn_model_layer_info(m, 3, &info));
    EXPECT(info.kind == SN_LAYER_MAXPOOL2D && info.shape[1] == 4, "pool layer info %s", info.summary);
    OK(sn_model_layer_info(m, 5, &info));
    EXPECT(info.kind == SN_LAYER_GLOBALAVGPOOL2D && info.rank == 1 && info.shape[0] == 4, "gap info %s", info.summary);
    float x[2 * 64], logits[6];
    for (int i = 0; i < 128; i++) x[i] = (float)(i % 13) / 13.0f;
    OK(sn_model_forward(m, x, 2, logits, 6));
    sn_model_free(m);

    sn_cnn_params cp;
    OK(sn_cnn_params_default(&cp));
    EXPECT(cp.param_budget == 100000 && cp.head == SN_CNN_HEAD_LINEAR, "cnn defaults");
    sn_cnn_params bad = cp;
    bad.head = 7;
    EXPECT_STATUS(sn_model_create_cnn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    bad = cp;
    bad.param_budget = 100;
    EXPECT_STATUS(sn_model_create_cnn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    bad = cp;
    bad.n_blocks = 3;
    EXPECT_STATUS(sn_model_create_cnn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    int32_t widths[3] = {4, 8, 0};
    bad = cp;
    bad.widths = widths;
    bad.n_blocks = 3;
    EXPECT_STATUS(sn_model_create_cnn(&bad, &m), SN_ERR_INVALID_ARGUMENT);
    widths[2] = 16;
    OK(sn_model_create_cnn(&bad, &m));
    sn_model_free(m);
    int64_t budgets[4] = {10000, 20000, 50000, 100000}, n = 0;
    for (int i = 0; i < 4; i++) {
        cp.param_budget = budgets[i];
        OK(sn_model_create_cnn(&cp, &m));
        OK(sn_model_n_params(m, &n));
        EXPECT(llabs(n - budgets[i]) <= budgets[i] / 50, "CNN budget %lld gave %lld", (long long)budgets[i], (long long)n);
        sn_model_free(m);
    }
    sn_train_params tp;
    EXPECT_STATUS(sn_recipe_train_params(5, &tp), SN_ERR_INVALID_ARGUMENT);
    OK(sn_recipe_train_params(SN_ARCH_CNN, &tp));
    EXPECT(tp.crop_padding == 1 && tp.horizontal_flip == 1 && tp.epochs == 30, "cnn recipe");
    OK(sn_recipe_train_params_for_budget(SN_ARCH_CNN, 10000, &tp));
    EXPECT(tp.crop_padding == 0 && tp.horizontal_flip == 1, "small cnn recipe: no crops");
    EXPECT_STATUS(sn_recipe_train_params_for_budget(SN_ARCH_CNN, 0, &tp), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_recipe_train_params_for_budget(9, 10000, &tp), SN_ERR_INVALID_ARGUMENT);
    sn_optimizer_params op;
    OK(sn_recipe_optimizer_params(SN_ARCH_CNN, &op));
    EXPECT(op.kind == SN_OPTIMIZER_SGD && op.momentum == 0.9f && op.lr > 0, "cnn optimizer recipe");
    OK(sn_recipe_optimizer_params(SN_ARCH_FCN, &op));
    EXPECT(op.kind == SN_OPTIMIZER_ADAMW && op.lr == 0.002f, "fcn optimizer recipe");
    OK(sn_recipe_optimizer_params_for_budget(SN_ARCH_CNN, 100000, &op));
    EXPECT(op.kind == SN_OPTIMIZER_SGD && op.weight_decay == 1e-4f && op.lr == 0.05f && op.momentum == 0.9f,
           "cnn optimizer recipe at 100K");
    OK(sn_recipe_optimizer_params_for_budget(SN_ARCH_CNN, 20000, &op));
    EXPECT(op.kind == SN_OPTIMIZER_SGD && op.weight_decay == 1e-4f, "cnn optimizer recipe at 20K");
    OK(sn_recipe_optimizer_params_for_budget(SN_ARCH_FCN, 50000, &op));
    EXPECT(op.kind == SN_OPTIMIZER_ADAMW && op.lr == 0.002f, "fcn optimizer recipe for a budget");
    EXPECT_STATUS(sn_recipe_optimizer_params_for_budget(SN_ARCH_CNN, 0, &op), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_recipe_optimizer_params_for_budget(SN_ARCH_CNN, -5, &op), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_recipe_optimizer_params_for_budget(7, 20000, &op), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_recipe_optimizer_params_for_budget(SN_ARCH_CNN, 20000, NULL), SN_ERR_INVALID_ARGUMENT);
}

static void test_handles(void) {
    sn_model *m = small_model();
    sn_dataset *d = synthetic(30, 1);
    int64_t n;
    EXPECT_STATUS(sn_model_n_params(NULL, &n), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_n_params((sn_model *)d, &n), SN_ERR_INVALID_ARGUMENT); /* wrong kind */
    size_t size;
    EXPECT_STATUS(sn_dataset_size((sn_dataset *)m, &size), SN_ERR_INVALID_ARGUMENT);
    int local = 0;
    EXPECT_STATUS(sn_model_n_params((sn_model *)&local, &n), SN_ERR_INVALID_ARGUMENT); /* foreign pointer */
    sn_model_free(NULL);
    sn_optimizer_free(NULL);
    sn_dataset_free(NULL);
    sn_model_free(m);
    sn_model_free(m); /* double free: reported, ignored */
    EXPECT(strstr(sn_last_error(), "double free") != NULL, "double free message: %s", sn_last_error());
    EXPECT_STATUS(sn_model_n_params(m, &n), SN_ERR_INVALID_ARGUMENT); /* use after free */
    sn_dataset_free((sn_dataset *)&local);
    sn_dataset_free(d);
}

static void test_tensors_and_low_level_loop(void) {
    sn_model *m = small_model();
    size_t count = 0;
    OK(sn_model_n_tensors(m, &count));
    EXPECT(count == 9, "tensors %zu", count); /* 1.w 1.b 2.w 2.b 2.rm 2.rv 2.nbt 5.w 5.b */
    sn_tensor_info ti;
    ti.struct_size = sizeof ti;
    OK(sn_model_tensor_info(m, 0, &ti));
    EXPECT(strcmp(ti.name, "1.weight") == 0 && ti.rank == 2 && ti.shape[0] == 8 && ti.shape[1] == 16 &&
               ti.count == 128 && ti.trainable == 1, "tensor info %s", ti.name);
    OK(sn_model_tensor_info(m, 6, &ti));
    EXPECT(strcmp(ti.name, "2.num_batches_tracked") == 0 && ti.rank == 0 && ti.count == 1 && ti.trainable == 0,
           "buffer info %s", ti.name);
    EXPECT_STATUS(sn_model_tensor_info(m, 9, &ti), SN_ERR_INVALID_ARGUMENT);

    float w[128], back[128];
    for (int i = 0; i < 128; i++) w[i] = 0.01f * (float)(i - 64);
    EXPECT_STATUS(sn_model_set_tensor(m, "1.weight", w, 127), SN_ERR_SHAPE_MISMATCH);
    EXPECT_STATUS(sn_model_set_tensor(m, "nope", w, 128), SN_ERR_NOT_FOUND);
    EXPECT_STATUS(sn_model_set_tensor(m, NULL, w, 128), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_set_tensor(m, "1.weight", NULL, 128), SN_ERR_INVALID_ARGUMENT);
    w[5] = INFINITY;
    EXPECT_STATUS(sn_model_set_tensor(m, "1.weight", w, 128), SN_ERR_INVALID_ARGUMENT);
    w[5] = 0.5f;
    OK(sn_model_set_tensor(m, "1.weight", w, 128));
    EXPECT_STATUS(sn_model_get_tensor(m, "1.weight", back, 100), SN_ERR_SHAPE_MISMATCH);
    OK(sn_model_get_tensor(m, "1.weight", back, 128));
    EXPECT(memcmp(w, back, sizeof w) == 0, "tensor round trip");
    EXPECT_STATUS(sn_model_get_grad(m, "2.running_mean", back, 128), SN_ERR_INVALID_ARGUMENT);

    /* Low-level loop: backward before forward, wrong sizes, one step that lowers the loss. */
    float x[6 * 16], logits[6 * 3], dlogits[6 * 3], loss0 = 0, loss1 = 0;
    int32_t labels[6] = {0, 1, 2, 0, 1, 2};
    for (int i = 0; i < 6 * 16; i++) x[i] = (float)((i * 7) % 11) / 11.0f;
    EXPECT_STATUS(sn_model_backward(m, dlogits, 6), SN_ERR_BAD_STATE);
    EXPECT_STATUS(sn_model_forward(m, x, 0, logits, 18), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_forward(m, x, 1, logits, 3), SN_ERR_INVALID_ARGUMENT); /* BatchNorm, batch of 1 */
    EXPECT_STATUS(sn_model_forward(m, x, 6, logits, 17), SN_ERR_SHAPE_MISMATCH);
    EXPECT_STATUS(sn_model_forward(m, NULL, 6, logits, 18), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_forward(m, x, 6, NULL, 18), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_set_training(m, 0));
    OK(sn_model_forward(m, x, 1, logits, 3)); /* eval mode takes a single sample */
    OK(sn_model_set_training(m, 1));

    sn_optimizer_params op;
    EXPECT_STATUS(sn_optimizer_params_default(99, &op), SN_ERR_INVALID_ARGUMENT);
    OK(sn_optimizer_params_default(SN_OPTIMIZER_SGD, &op));
    EXPECT(op.lr == 0.001f && op.momentum == 0 && op.weight_decay == 0, "SGD defaults");
    op.lr = 0.1f;
    sn_optimizer *opt = NULL;
    sn_optimizer_params badp = op;
    badp.lr = -1;
    EXPECT_STATUS(sn_optimizer_create(m, &badp, &opt), SN_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(sn_last_error(), "learning rate") != NULL, "names the value: %s", sn_last_error());
    badp = op;
    badp.kind = 42;
    EXPECT_STATUS(sn_optimizer_create(m, &badp, &opt), SN_ERR_INVALID_ARGUMENT);
    badp = op;
    badp.nesterov = 1; /* needs momentum */
    EXPECT_STATUS(sn_optimizer_create(m, &badp, &opt), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_optimizer_create(NULL, &op, &opt), SN_ERR_INVALID_ARGUMENT);
    OK(sn_optimizer_create(m, &op, &opt));
    float lr = 0;
    OK(sn_optimizer_get_lr(opt, &lr));
    EXPECT(lr == 0.1f, "lr %g", lr);
    EXPECT_STATUS(sn_optimizer_set_lr(opt, NAN), SN_ERR_INVALID_ARGUMENT);

    EXPECT_STATUS(sn_cross_entropy(logits, labels, 6, 1, 0, &loss0, NULL), SN_ERR_INVALID_ARGUMENT);
    int32_t bad_labels[6] = {0, 1, 2, 3, 1, 2};
    OK(sn_model_forward(m, x, 6, logits, 18));
    EXPECT_STATUS(sn_cross_entropy(logits, bad_labels, 6, 3, 0, &loss0, dlogits), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_cross_entropy(logits, labels, 6, 3, 1.5f, &loss0, dlogits), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_set_training(m, 0)); /* deterministic forward for the loss comparison */
    for (int step = 0; step < 60; step++) {
        OK(sn_model_forward(m, x, 6, logits, 18));
        OK(sn_cross_entropy(logits, labels, 6, 3, 0, step == 0 ? &loss0 : &loss1, dlogits));
        OK(sn_model_zero_grad(m));
        EXPECT_STATUS(sn_model_backward(m, dlogits, 5), SN_ERR_SHAPE_MISMATCH);
        OK(sn_model_backward(m, dlogits, 6));
        OK(sn_optimizer_step(opt));
    }
    EXPECT(loss1 < loss0 * 0.8f, "loss %g → %g", loss0, loss1);
    OK(sn_model_get_grad(m, "1.weight", back, 128));
    sn_model_free(m);
    OK(sn_optimizer_step(opt)); /* the optimizer keeps the parameters alive */
    sn_optimizer_free(opt);
    sn_optimizer_free(opt);
    EXPECT(strstr(sn_last_error(), "double free") != NULL, "optimizer double free: %s", sn_last_error());
}

static void test_schedules(void) {
    sn_schedule s;
    OK(sn_schedule_default(&s));
    EXPECT(s.kind == SN_SCHEDULE_COSINE, "default cosine");
    float lr = 0;
    OK(sn_schedule_lr(&s, 0.1f, 0, 100, 10, &lr));
    EXPECT(fabsf(lr - 0.01f) < 1e-7f, "warm-up lr %g", lr);
    s.kind = SN_SCHEDULE_STEP;
    s.step_size = 2;
    s.gamma = 0.5f;
    OK(sn_schedule_lr(&s, 0.1f, 45, 100, 10, &lr));
    EXPECT(fabsf(lr - 0.025f) < 1e-7f, "step lr %g", lr);
    s.step_size = 0;
    EXPECT_STATUS(sn_schedule_lr(&s, 0.1f, 45, 100, 10, &lr), SN_ERR_INVALID_ARGUMENT);
    s.kind = 17;
    EXPECT_STATUS(sn_schedule_lr(&s, 0.1f, 45, 100, 10, &lr), SN_ERR_INVALID_ARGUMENT);
    OK(sn_schedule_default(&s));
    EXPECT_STATUS(sn_schedule_lr(&s, 0.1f, 0, 100, 0, &lr), SN_ERR_INVALID_ARGUMENT);
}

static void write_file(const char *path, const unsigned char *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
}

static void test_datasets(const char *dir) {
    sn_dataset *d = NULL;
    float images[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    int32_t labels[2] = {1, 0}, bad[2] = {1, 5};
    EXPECT_STATUS(sn_dataset_from_memory(NULL, labels, 2, 1, 2, 2, 2, &d), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_from_memory(images, bad, 2, 1, 2, 2, 2, &d), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_from_memory(images, labels, 0, 1, 2, 2, 2, &d), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_from_memory(images, labels, 2, 1, 2, 2, 1, &d), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_from_memory(images, labels, 2, 0, 2, 2, 2, &d), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_from_memory(images, labels, (size_t)1 << 62, 1000, 1000, 1000, 2, &d),
                  SN_ERR_OUT_OF_MEMORY);
    images[3] = NAN;
    EXPECT_STATUS(sn_dataset_from_memory(images, labels, 2, 1, 2, 2, 2, &d), SN_ERR_INVALID_ARGUMENT);
    images[3] = 3;
    OK(sn_dataset_from_memory(images, labels, 2, 1, 2, 2, 2, &d));
    size_t size = 0;
    OK(sn_dataset_size(d, &size));
    EXPECT(size == 2, "size");
    int32_t c, h, w, k;
    OK(sn_dataset_shape(d, &c, &h, &w, &k));
    EXPECT(c == 1 && h == 2 && w == 2 && k == 2, "shape");
    float out[8];
    int32_t out_labels[2];
    EXPECT_STATUS(sn_dataset_get(d, 1, 2, out, 8, out_labels, 2), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_get(d, 0, 2, out, 7, out_labels, 2), SN_ERR_SHAPE_MISMATCH);
    EXPECT_STATUS(sn_dataset_get(d, 0, 2, out, 8, out_labels, 1), SN_ERR_SHAPE_MISMATCH);
    OK(sn_dataset_get(d, 0, 2, out, 8, out_labels, 2));
    EXPECT(memcmp(out, images, sizeof out) == 0 && out_labels[0] == 1 && out_labels[1] == 0, "get");
    char name[8];
    OK(sn_dataset_class_name(d, 1, name, sizeof name));
    EXPECT(strcmp(name, "1") == 0, "class name %s", name);
    EXPECT_STATUS(sn_dataset_class_name(d, 2, name, sizeof name), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_class_name(d, 0, name, 0), SN_ERR_INVALID_ARGUMENT);
    sn_dataset *a = NULL, *b = NULL;
    EXPECT_STATUS(sn_dataset_split(d, 2, 0, &a, &b), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_split(d, 0, 0, &a, &b), SN_ERR_INVALID_ARGUMENT);
    OK(sn_dataset_split(d, 1, 0, &a, &b));
    sn_dataset_free(a);
    sn_dataset_free(b);
    EXPECT_STATUS(sn_dataset_subset(d, 1, 2, &a), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_subset(d, 0, 0, &a), SN_ERR_INVALID_ARGUMENT);
    OK(sn_dataset_subset(d, 1, 1, &a));
    sn_dataset_free(a);
    sn_dataset_free(d);

    /* IDX files: good pair, truncated, wrong magic, missing. */
    char images_path[512], labels_path[512], bad_path[512];
    snprintf(images_path, sizeof images_path, "%s/img.idx", dir);
    snprintf(labels_path, sizeof labels_path, "%s/lbl.idx", dir);
    snprintf(bad_path, sizeof bad_path, "%s/bad.idx", dir);
    unsigned char img[16 + 3 * 4] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    for (int i = 0; i < 12; i++) img[16 + i] = (unsigned char)(i * 20);
    unsigned char lbl[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2};
    write_file(images_path, img, sizeof img);
    write_file(labels_path, lbl, sizeof lbl);
    OK(sn_dataset_load_idx(images_path, labels_path, 3, 0.0f, 1.0f, &d));
    OK(sn_dataset_get(d, 2, 1, out, 4, NULL, 0));
    EXPECT(fabsf(out[3] - 220.0f / 255.0f) < 1e-6f, "normalised pixel %g", out[3]);
    sn_dataset_free(d);
    EXPECT_STATUS(sn_dataset_load_idx(images_path, labels_path, 2, 0.0f, 1.0f, &d), SN_ERR_IO); /* label 2 ≥ 2 */
    EXPECT_STATUS(sn_dataset_load_idx(images_path, labels_path, 3, 0.0f, 0.0f, &d), SN_ERR_INVALID_ARGUMENT);
    write_file(bad_path, img, sizeof img - 1);
    EXPECT_STATUS(sn_dataset_load_idx(bad_path, labels_path, 3, 0.0f, 1.0f, &d), SN_ERR_IO);
    EXPECT(strstr(sn_last_error(), "bad.idx") != NULL, "names the file: %s", sn_last_error());
    img[0] = 7;
    write_file(bad_path, img, sizeof img);
    EXPECT_STATUS(sn_dataset_load_idx(bad_path, labels_path, 3, 0.0f, 1.0f, &d), SN_ERR_IO);
    EXPECT_STATUS(sn_dataset_load_idx(labels_path, labels_path, 3, 0.0f, 1.0f, &d), SN_ERR_IO); /* rank 1 images */
    EXPECT_STATUS(sn_dataset_load_idx("/nonexistent/x.idx", labels_path, 3, 0.0f, 1.0f, &d), SN_ERR_NOT_FOUND);
    EXPECT_STATUS(sn_dataset_load_idx(NULL, labels_path, 3, 0.0f, 1.0f, &d), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_load_fashion_mnist("/nonexistent", 1, 1, &d), SN_ERR_NOT_FOUND);
    EXPECT(strstr(sn_last_error(), "dataset-fashion-mnist") != NULL, "says how to get the data");
    EXPECT_STATUS(sn_dataset_load_fashion_mnist(dir, 3, 1, &d), SN_ERR_INVALID_ARGUMENT);
}

static int progress_calls = 0, epoch_ends = 0;
static int stop_after_three(const sn_progress *p, void *user) {
    (void)user;
    if (p->epoch_end) {
        epoch_ends++;
        return 0;
    }
    return ++progress_calls >= 3;
}

static int count_epochs(const sn_progress *p, void *user) {
    if (p->epoch_end) (*(int *)user)++;
    return 0;
}

static void test_fit_evaluate_predict_checkpoint(const char *dir) {
    sn_dataset *train = synthetic(300, 3), *other = NULL;
    OK(sn_dataset_from_memory((float[8]){0}, (int32_t[2]){0, 1}, 2, 1, 2, 2, 2, &other));
    sn_model *m = small_model();
    sn_optimizer_params op;
    OK(sn_optimizer_params_default(SN_OPTIMIZER_ADAM, &op));
    op.lr = 0.01f;
    sn_optimizer *opt = NULL;
    OK(sn_optimizer_create(m, &op, &opt));
    sn_train_params tp;
    OK(sn_train_params_default(&tp));
    EXPECT(tp.epochs == 30 && tp.batch_size == 64 && fabsf(tp.label_smoothing - 0.1f) < 1e-7f, "train defaults");
    tp.epochs = 4;
    tp.batch_size = 32;
    tp.validation = train;
    sn_train_params bad = tp;
    bad.batch_size = 0;
    EXPECT_STATUS(sn_fit(m, opt, train, &bad, NULL, NULL, NULL, 0, NULL), SN_ERR_INVALID_ARGUMENT);
    bad = tp;
    bad.struct_size = 8;
    EXPECT_STATUS(sn_fit(m, opt, train, &bad, NULL, NULL, NULL, 0, NULL), SN_ERR_INVALID_ARGUMENT);
    bad = tp;
    bad.schedule.kind = 9;
    EXPECT_STATUS(sn_fit(m, opt, train, &bad, NULL, NULL, NULL, 0, NULL), SN_ERR_INVALID_ARGUMENT);
    bad = tp;
    bad.threads = -2;
    EXPECT_STATUS(sn_fit(m, opt, train, &bad, NULL, NULL, NULL, 0, NULL), SN_ERR_INVALID_ARGUMENT);
    bad = tp;
    bad.validation = (const sn_dataset *)m;
    EXPECT_STATUS(sn_fit(m, opt, train, &bad, NULL, NULL, NULL, 0, NULL), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_fit(m, opt, other, &tp, NULL, NULL, NULL, 0, NULL), SN_ERR_SHAPE_MISMATCH);
    EXPECT_STATUS(sn_fit(m, opt, NULL, &tp, NULL, NULL, NULL, 0, NULL), SN_ERR_INVALID_ARGUMENT);
    sn_model *m2 = small_model();
    EXPECT_STATUS(sn_fit(m2, opt, train, &tp, NULL, NULL, NULL, 0, NULL), SN_ERR_INVALID_ARGUMENT);

    sn_epoch_record history[4];
    size_t epochs = 0;
    int ends = 0;
    OK(sn_fit(m, opt, train, &tp, count_epochs, &ends, history, 4, &epochs));
    EXPECT(epochs == 4 && ends == 4, "epochs %zu, epoch ends %d", epochs, ends);
    EXPECT(history[3].train_loss < history[0].train_loss, "loss fell %g → %g", history[0].train_loss,
           history[3].train_loss);
    EXPECT(history[3].eval_accuracy > 0.9f, "accuracy %g", history[3].eval_accuracy);

    /* Stopping from the callback. */
    EXPECT_STATUS(sn_fit(m2, NULL, train, &tp, NULL, NULL, NULL, 0, NULL), SN_ERR_INVALID_ARGUMENT);
    sn_optimizer *opt2 = NULL;
    OK(sn_optimizer_create(m2, &op, &opt2));
    OK(sn_fit(m2, opt2, train, &tp, stop_after_three, NULL, history, 4, &epochs));
    EXPECT(progress_calls == 3 && epochs == 0 && epoch_ends == 0, "stopped: %d calls, %zu epochs", progress_calls,
           epochs);

    /* Divergence is an error, with the history so far. */
    sn_optimizer_params huge = op;
    huge.kind = SN_OPTIMIZER_SGD;
    huge.lr = 1e30f;
    sn_optimizer *opt3 = NULL;
    OK(sn_optimizer_create(m2, &huge, &opt3));
    EXPECT_STATUS(sn_fit(m2, opt3, train, &tp, NULL, NULL, history, 4, &epochs), SN_ERR_DIVERGED);

    /* Evaluate and predict. */
    float loss = 0, accuracy = 0, probabilities[300 * 3];
    int64_t confusion[9];
    EXPECT_STATUS(sn_evaluate(m, train, &loss, &accuracy, confusion, 8), SN_ERR_SHAPE_MISMATCH);
    OK(sn_evaluate(m, train, &loss, &accuracy, confusion, 9));
    int64_t total = 0;
    for (int i = 0; i < 9; i++) total += confusion[i];
    EXPECT(total == 300 && accuracy > 0.9f, "confusion total %lld, accuracy %g", (long long)total, accuracy);
    EXPECT_STATUS(sn_predict(m, train, probabilities, 899), SN_ERR_SHAPE_MISMATCH);
    OK(sn_predict(m, train, probabilities, 900));
    EXPECT(fabsf(probabilities[0] + probabilities[1] + probabilities[2] - 1) < 1e-5f, "probabilities sum to 1");

    /* Checkpoints: save, load, identical predictions, metadata; bad paths and files. */
    char path[512], junk[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(junk, sizeof junk, "%s/junk.safetensors", dir);
    EXPECT_STATUS(sn_model_save(m, "/nonexistent/dir/m.safetensors", NULL), SN_ERR_IO);
    EXPECT_STATUS(sn_model_save(m, NULL, NULL), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_save(m, path, "{\"lr\": 0.01}"));
    sn_model *loaded = NULL;
    OK(sn_model_load(path, &loaded));
    float again[300 * 3];
    OK(sn_predict(loaded, train, again, 900));
    EXPECT(memcmp(probabilities, again, sizeof again) == 0, "loaded model predicts identically");
    char meta[256];
    size_t length = 0;
    OK(sn_checkpoint_metadata(path, "smallnet.training_config", meta, sizeof meta, &length));
    EXPECT(strcmp(meta, "{\"lr\": 0.01}") == 0 && length == 12, "metadata %s", meta);
    OK(sn_checkpoint_metadata(path, "smallnet.version", meta, sizeof meta, NULL));
    EXPECT(strcmp(meta, sn_version_string()) == 0, "version metadata %s", meta);
    EXPECT_STATUS(sn_checkpoint_metadata(path, "smallnet.architecture", meta, 4, &length), SN_ERR_SHAPE_MISMATCH);
    EXPECT(strlen(meta) == 3 && length > 4, "truncated copy");
    EXPECT_STATUS(sn_checkpoint_metadata(path, "missing", meta, sizeof meta, NULL), SN_ERR_NOT_FOUND);
    EXPECT_STATUS(sn_model_load("/nonexistent.safetensors", &loaded), SN_ERR_NOT_FOUND);
    write_file(junk, (const unsigned char *)"\x10\0\0\0\0\0\0\0{\"a\": 1}", 16);
    EXPECT_STATUS(sn_model_load(junk, &loaded), SN_ERR_IO);
    write_file(junk, (const unsigned char *)"\xff\xff\xff\xff\0\0\0\0{}", 10);
    EXPECT_STATUS(sn_model_load(junk, &loaded), SN_ERR_IO);
    write_file(junk, (const unsigned char *)"abc", 3);
    EXPECT_STATUS(sn_model_load(junk, &loaded), SN_ERR_IO);

    sn_model_free(loaded);
    sn_optimizer_free(opt);
    sn_optimizer_free(opt2);
    sn_optimizer_free(opt3);
    sn_model_free(m);
    sn_model_free(m2);
    sn_dataset_free(train);
    sn_dataset_free(other);
}

/* Raw 8-bit images (1×4×4) of the same 3-class problem, with their labels. */
static void raw_images(size_t n, uint8_t *pixels, int32_t *labels) {
    srand(7);
    for (size_t i = 0; i < n; i++) {
        labels[i] = (int32_t)(i % 3);
        for (int p = 0; p < 16; p++)
            pixels[i * 16 + p] = (uint8_t)((p / 5 == labels[i] ? 180 : 30) + rand() % 50);
    }
}

static void test_preprocessing_names_and_raw_pixels(const char *dir) {
    enum { N = 120 };
    uint8_t pixels[N * 16];
    int32_t labels[N];
    raw_images(N, pixels, labels);

    sn_preprocessing fm;
    OK(sn_preprocessing_default(&fm));
    EXPECT(fm.known == 1 && fm.channels == 1 && fm.mean[0] == SN_FASHION_MNIST_MEAN && fm.std[0] == SN_FASHION_MNIST_STD &&
               fm.pixel_scale == SN_FASHION_MNIST_PIXEL_SCALE, "FashionMNIST defaults");
    EXPECT_STATUS(sn_preprocessing_default(NULL), SN_ERR_INVALID_ARGUMENT);

    /* A byte dataset takes its own statistics unless told. */
    sn_dataset *data = NULL;
    EXPECT_STATUS(sn_dataset_from_u8(NULL, labels, N, 1, 4, 4, 3, NULL, &data), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_from_u8(pixels, labels, 0, 1, 4, 4, 3, NULL, &data), SN_ERR_INVALID_ARGUMENT);
    labels[5] = 3;
    EXPECT_STATUS(sn_dataset_from_u8(pixels, labels, N, 1, 4, 4, 3, NULL, &data), SN_ERR_INVALID_ARGUMENT);
    labels[5] = 2;
    sn_preprocessing bad = fm;
    bad.std[0] = 0;
    EXPECT_STATUS(sn_dataset_from_u8(pixels, labels, N, 1, 4, 4, 3, &bad, &data), SN_ERR_INVALID_ARGUMENT);
    bad = fm;
    bad.channels = 17;
    EXPECT_STATUS(sn_dataset_from_u8(pixels, labels, N, 1, 4, 4, 3, &bad, &data), SN_ERR_INVALID_ARGUMENT);
    bad = fm;
    bad.struct_size = 3;
    EXPECT_STATUS(sn_dataset_from_u8(pixels, labels, N, 1, 4, 4, 3, &bad, &data), SN_ERR_INVALID_ARGUMENT);
    OK(sn_dataset_from_u8(pixels, labels, N, 1, 4, 4, 3, NULL, &data));
    sn_preprocessing own;
    own.struct_size = sizeof own;
    OK(sn_dataset_get_preprocessing(data, &own));
    EXPECT(own.known == 1 && own.channels == 1 && own.mean[0] > 0.2f && own.mean[0] < 0.6f && own.std[0] > 0.1f,
           "statistics %g %g", own.mean[0], own.std[0]);
    const char *names[] = {"low", "middle", "high"};
    EXPECT_STATUS(sn_dataset_set_class_names(data, names, 2), SN_ERR_INVALID_ARGUMENT);
    const char *holes[] = {"low", NULL, "high"};
    EXPECT_STATUS(sn_dataset_set_class_names(data, holes, 3), SN_ERR_INVALID_ARGUMENT);
    OK(sn_dataset_set_class_names(data, names, 3));

    /* A model records nothing until trained; then it has the data's preprocessing and names. */
    sn_model *model = small_model();
    sn_preprocessing got;
    got.struct_size = sizeof got;
    OK(sn_model_get_preprocessing(model, &got));
    EXPECT(got.known == 0, "a new model records no preprocessing");
    char name[32];
    OK(sn_model_class_name(model, 1, name, sizeof name));
    EXPECT(strcmp(name, "1") == 0, "unnamed class %s", name);
    EXPECT_STATUS(sn_model_class_name(model, 3, name, sizeof name), SN_ERR_INVALID_ARGUMENT);
    float probabilities[N * 3];
    EXPECT_STATUS(sn_model_predict_u8(model, pixels, N, probabilities, N * 3), SN_ERR_BAD_STATE);

    sn_optimizer_params op;
    OK(sn_optimizer_params_default(SN_OPTIMIZER_ADAM, &op));
    op.lr = 0.01f;
    sn_optimizer *opt = NULL;
    OK(sn_optimizer_create(model, &op, &opt));
    sn_train_params tp;
    OK(sn_train_params_default(&tp));
    tp.epochs = 3;
    tp.batch_size = 16;
    OK(sn_fit(model, opt, data, &tp, NULL, NULL, NULL, 0, NULL));
    OK(sn_model_get_preprocessing(model, &got));
    EXPECT(got.known == 1 && got.mean[0] == own.mean[0] && got.std[0] == own.std[0], "fit records the data's");
    OK(sn_model_class_name(model, 2, name, sizeof name));
    EXPECT(strcmp(name, "high") == 0, "class name %s", name);

    /* Raw pixels through the model's preprocessing = the dataset's predictions. */
    float from_dataset[N * 3];
    OK(sn_model_predict_u8(model, pixels, N, probabilities, N * 3));
    OK(sn_predict(model, data, from_dataset, N * 3));
    EXPECT(memcmp(probabilities, from_dataset, sizeof probabilities) == 0, "predict_u8 equals sn_predict");
    EXPECT_STATUS(sn_model_predict_u8(model, pixels, N, probabilities, N * 3 - 1), SN_ERR_SHAPE_MISMATCH);
    EXPECT_STATUS(sn_model_predict_u8(model, NULL, N, probabilities, N * 3), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_predict_u8(model, pixels, 0, probabilities, N * 3), SN_ERR_INVALID_ARGUMENT);
    float accuracy = 0;
    OK(sn_evaluate(model, data, NULL, &accuracy, NULL, 0));
    EXPECT(accuracy > 0.9f, "accuracy on raw pixels %g", accuracy);

    /* Setting another preprocessing changes what raw pixels mean; NULL forgets it. */
    sn_preprocessing two = fm;
    two.channels = 2;
    two.mean[1] = 0.5f;
    two.std[1] = 0.5f;
    EXPECT_STATUS(sn_model_set_preprocessing(model, &two), SN_ERR_SHAPE_MISMATCH);
    OK(sn_model_set_preprocessing(model, NULL));
    OK(sn_model_get_preprocessing(model, &got));
    EXPECT(got.known == 0, "forgotten");
    OK(sn_model_set_preprocessing(model, &own));

    /* Clones are independent; buffers round-trip with preprocessing and names. */
    sn_model *twin = NULL;
    EXPECT_STATUS(sn_model_clone(NULL, &twin), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_clone(model, &twin));
    float twin_p[N * 3];
    OK(sn_model_predict_u8(twin, pixels, N, twin_p, N * 3));
    EXPECT(memcmp(probabilities, twin_p, sizeof twin_p) == 0, "clone predicts the same");
    OK(sn_model_set_class_names(twin, NULL, 0));
    OK(sn_model_class_name(model, 0, name, sizeof name));
    EXPECT(strcmp(name, "low") == 0, "the original keeps its names: %s", name);
    float zero[8] = {0};
    OK(sn_model_set_tensor(twin, "1.bias", zero, 8));
    OK(sn_model_predict_u8(model, pixels, N, twin_p, N * 3));
    EXPECT(memcmp(probabilities, twin_p, sizeof twin_p) == 0, "changing the clone leaves the original");

    size_t length = 0;
    const char *config = "{\"epochs\": 3}";
    EXPECT_STATUS(sn_model_save_to_buffer(model, config, NULL, 0, &length), SN_ERR_SHAPE_MISMATCH);
    EXPECT(length > 100, "checkpoint length %zu", length);
    uint8_t *bytes = malloc(length);
    EXPECT_STATUS(sn_model_save_to_buffer(model, config, bytes, length - 1, &length), SN_ERR_SHAPE_MISMATCH);
    OK(sn_model_save_to_buffer(model, config, bytes, length, &length));
    sn_model *restored = NULL;
    OK(sn_model_load_from_buffer(bytes, length, &restored));
    OK(sn_model_predict_u8(restored, pixels, N, twin_p, N * 3));
    EXPECT(memcmp(probabilities, twin_p, sizeof twin_p) == 0, "restored from memory predicts the same");
    OK(sn_model_class_name(restored, 1, name, sizeof name));
    EXPECT(strcmp(name, "middle") == 0, "restored class name %s", name);
    EXPECT_STATUS(sn_model_load_from_buffer(bytes, length / 2, &restored), SN_ERR_IO);
    EXPECT_STATUS(sn_model_load_from_buffer(NULL, length, &restored), SN_ERR_INVALID_ARGUMENT);

    /* The file checkpoint carries them too, readable as metadata. */
    char path[512];
    snprintf(path, sizeof path, "%s/raw.safetensors", dir);
    OK(sn_model_save(model, path, NULL));
    char text[256];
    OK(sn_checkpoint_metadata(path, "smallnet.class_names", text, sizeof text, NULL));
    EXPECT(strcmp(text, "[\"low\",\"middle\",\"high\"]") == 0, "class names metadata %s", text);
    OK(sn_checkpoint_metadata(path, "smallnet.preprocessing", text, sizeof text, NULL));
    EXPECT(strstr(text, "\"pixel_scale\"") != NULL, "preprocessing metadata %s", text);
    sn_model *loaded = NULL;
    OK(sn_model_load(path, &loaded));
    OK(sn_model_predict_u8(loaded, pixels, N, twin_p, N * 3));
    EXPECT(memcmp(probabilities, twin_p, sizeof twin_p) == 0, "loaded from a file predicts the same");

    free(bytes);
    sn_model_free(loaded);
    sn_model_free(restored);
    sn_model_free(twin);
    sn_optimizer_free(opt);
    sn_model_free(model);
    sn_dataset_free(data);
}

/* Magnitudes that overflow sizes or float-to-integer conversions: each is an error, never a trap. */
static void test_hostile_magnitudes(const char *dir) {
    sn_dataset *data = synthetic(30, 3), *sub = NULL;
    float images[16];
    EXPECT_STATUS(sn_dataset_get(data, 1, (size_t)INT64_MAX, images, 16, NULL, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_get(data, (size_t)INT64_MAX, 2, images, 16, NULL, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_dataset_subset(data, 1, (size_t)INT64_MAX, &sub), SN_ERR_INVALID_ARGUMENT);

    sn_schedule schedule;
    OK(sn_schedule_default(&schedule));
    float lr = 0;
    schedule.warmup_epochs = 1e30f;
    OK(sn_schedule_lr(&schedule, 0.1f, 5, 100, 10, &lr));
    EXPECT(lr >= 0 && lr < 1e-20f, "a warm-up of 1e30 epochs starts near zero: %g", lr);
    OK(sn_schedule_default(&schedule));
    OK(sn_schedule_lr(&schedule, 0.1f, 5, 100, INT64_MAX, &lr));
    EXPECT(isfinite(lr), "huge steps_per_epoch");
    EXPECT_STATUS(sn_schedule_lr(&schedule, 0.1f, INT64_MAX, INT64_MAX, 1, &lr), SN_ERR_INVALID_ARGUMENT);

    sn_model *model = small_model();
    sn_optimizer_params op;
    OK(sn_optimizer_params_default(SN_OPTIMIZER_SGD, &op));
    sn_optimizer *opt = NULL;
    OK(sn_optimizer_create(model, &op, &opt));
    sn_train_params tp;
    OK(sn_train_params_default(&tp));
    tp.epochs = 1;
    tp.schedule.warmup_epochs = 1e30f;
    OK(sn_fit(model, opt, data, &tp, NULL, NULL, NULL, 0, NULL));

    sn_model *built = NULL;
    sn_fcn_params fcn;
    OK(sn_fcn_params_default(&fcn));
    fcn.width = INT32_MIN;
    EXPECT_STATUS(sn_model_create_fcn(&fcn, &built), SN_ERR_INVALID_ARGUMENT);
    OK(sn_fcn_params_default(&fcn));
    fcn.channels = INT32_MAX;
    EXPECT_STATUS(sn_model_create_fcn(&fcn, &built), SN_ERR_INVALID_ARGUMENT);
    OK(sn_fcn_params_default(&fcn));
    fcn.classes = INT32_MIN;
    EXPECT_STATUS(sn_model_create_fcn(&fcn, &built), SN_ERR_INVALID_ARGUMENT);
    sn_cnn_params cnn;
    OK(sn_cnn_params_default(&cnn));
    cnn.classes = INT32_MIN;
    EXPECT_STATUS(sn_model_create_cnn(&cnn, &built), SN_ERR_INVALID_ARGUMENT);
    OK(sn_cnn_params_default(&cnn));
    cnn.height = INT32_MAX;
    EXPECT_STATUS(sn_model_create_cnn(&cnn, &built), SN_ERR_INVALID_ARGUMENT);

    /* IDX headers whose dimensions multiply past 2^64 (wrapping to the payload's size). */
    char images_path[512], labels_path[512];
    snprintf(images_path, sizeof images_path, "%s/huge-images", dir);
    snprintf(labels_path, sizeof labels_path, "%s/huge-labels", dir);
    const unsigned char wrap[16] = {0, 0, 8, 3, 0, 0, 0, 8, 0x80, 0, 0, 0, 0x40, 0, 0, 0};
    const unsigned char abort_dims[16] = {0, 0, 8, 3, 0, 2, 0, 0, 0, 2, 0, 0, 0x40, 0, 0, 0};
    const unsigned char labels8[16] = {0, 0, 8, 1, 0, 0, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7};
    write_file(labels_path, labels8, sizeof labels8);
    sn_dataset *idx = NULL;
    write_file(images_path, wrap, sizeof wrap);
    EXPECT_STATUS(sn_dataset_load_idx(images_path, labels_path, 10, 0, 1, &idx), SN_ERR_IO);
    write_file(images_path, abort_dims, sizeof abort_dims);
    EXPECT_STATUS(sn_dataset_load_idx(images_path, labels_path, 10, 0, 1, &idx), SN_ERR_IO);

    /* A small checkpoint whose architecture declares Linear(32768 → 32768): refused before allocating. */
    char path[512];
    snprintf(path, sizeof path, "%s/huge.safetensors", dir);
    const char *header =
        "{\"__metadata__\":{\"smallnet.architecture\":\"{\\\"input\\\":[1,1,32768],\\\"layers\\\":["
        "{\\\"kind\\\":\\\"flatten\\\"},{\\\"kind\\\":\\\"linear\\\",\\\"in\\\":32768,\\\"out\\\":32768}]}\"}}";
    size_t header_length = strlen(header), body = 26000;
    unsigned char *file = calloc(1, 8 + header_length + body);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)(header_length >> (8 * i));
    memcpy(file + 8, header, header_length);
    write_file(path, file, 8 + header_length + body);
    free(file);
    sn_model *loaded = NULL;
    EXPECT_STATUS(sn_model_load(path, &loaded), SN_ERR_IO);
    EXPECT(strstr(sn_last_error(), "more parameters") != NULL, "names the problem: %s", sn_last_error());

    sn_optimizer_free(opt);
    sn_model_free(model);
    sn_dataset_free(data);
}

/* One handle, one call at a time: calls on a handle that another thread is using get
 * SN_ERR_BAD_STATE; the winners' results are exact; nothing is corrupted. */
enum { SHARED_N = 200, ROUNDS = 100, THREADS = 4 };
static sn_model *shared_model;
static sn_dataset *shared_data;
static float expected_p[SHARED_N * 3];
static int outcome[THREADS][3]; /* ok, bad state, other */

static void *predict_many(void *arg) {
    int t = (int)(intptr_t)arg;
    float p[SHARED_N * 3];
    for (int r = 0; r < ROUNDS; r++) {
        sn_status s = sn_predict(shared_model, shared_data, p, SHARED_N * 3);
        if (s == SN_OK && memcmp(p, expected_p, sizeof p) == 0) outcome[t][0]++;
        else if (s == SN_ERR_BAD_STATE && strstr(sn_last_error(), "another thread")) outcome[t][1]++;
        else outcome[t][2]++;
    }
    return NULL;
}

/* Two trainings of two models on one dataset at once: datasets are read by both. */
static sn_status fit_status[2];

static void *fit_on_shared_data(void *arg) {
    int t = (int)(intptr_t)arg;
    sn_model *m = small_model();
    sn_optimizer_params op;
    sn_optimizer *o = NULL;
    sn_train_params tp;
    fit_status[t] = sn_optimizer_params_default(SN_OPTIMIZER_SGD, &op);
    if (fit_status[t] == SN_OK) fit_status[t] = sn_optimizer_create(m, &op, &o);
    if (fit_status[t] == SN_OK) fit_status[t] = sn_train_params_default(&tp);
    tp.epochs = 3;
    if (fit_status[t] == SN_OK) fit_status[t] = sn_fit(m, o, shared_data, &tp, NULL, NULL, NULL, 0, NULL);
    sn_optimizer_free(o);
    sn_model_free(m);
    return NULL;
}

static void test_one_call_per_handle(void) {
    shared_data = synthetic(SHARED_N, 5);
    shared_model = small_model();
    OK(sn_predict(shared_model, shared_data, expected_p, SHARED_N * 3));
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, predict_many, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    int ok = 0, busy = 0, other = 0;
    for (int t = 0; t < THREADS; t++) ok += outcome[t][0], busy += outcome[t][1], other += outcome[t][2];
    EXPECT(other == 0 && ok + busy == THREADS * ROUNDS && ok >= 1, "4 threads predicting: %d ok, %d busy, %d other",
           ok, busy, other);
    printf("4 threads x %d predictions on one model: %d ran, %d refused (busy), %d wrong\n", ROUNDS, ok, busy, other);

    pthread_t trainers[2];
    for (int t = 0; t < 2; t++) pthread_create(&trainers[t], NULL, fit_on_shared_data, (void *)(intptr_t)t);
    for (int t = 0; t < 2; t++) pthread_join(trainers[t], NULL);
    EXPECT(fit_status[0] == SN_OK && fit_status[1] == SN_OK, "two trainings on one dataset: %d, %d (%s)",
           fit_status[0], fit_status[1], sn_last_error());

    /* Handles are never reused: a freed handle stays dead after new ones are made, and a
     * wrong-kind free changes nothing. */
    sn_model *dead = small_model();
    sn_model_free(dead);
    sn_model *fresh = small_model();
    EXPECT(fresh != dead, "a new handle never equals a freed one");
    int64_t count = 0;
    EXPECT_STATUS(sn_model_n_params(dead, &count), SN_ERR_INVALID_ARGUMENT);
    sn_model_free(dead);
    OK(sn_model_n_params(fresh, &count));
    sn_model_free((sn_model *)shared_data);
    size_t size = 0;
    OK(sn_dataset_size(shared_data, &size));
    EXPECT(size == SHARED_N, "a dataset survives sn_model_free on it");
    sn_model_free(fresh);
    sn_model_free(shared_model);
    sn_dataset_free(shared_data);
}

/* Resident set size in KiB (from /proc/self/status). */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

/* 10,000 create/free cycles of a model, an optimizer and a dataset keep the RSS flat. */
static void test_create_free_cycles(void) {
    float images[16 * 8] = {0};
    int32_t labels[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    sn_optimizer_params op;
    OK(sn_optimizer_params_default(SN_OPTIMIZER_ADAM, &op));
    long before = 0;
    int failures = 0;
    for (int i = 0; i < 10500; i++) {
        if (i == 500) before = rss_kib(); /* after the allocator's pools have grown */
        sn_model *m = NULL;
        sn_optimizer *o = NULL;
        sn_dataset *d = NULL;
        failures += sn_model_create(1, 4, 4, &m) != SN_OK;
        failures += sn_model_add_flatten(m) != SN_OK;
        failures += sn_model_add_linear(m, 3, 1, SN_INIT_KAIMING, 1) != SN_OK;
        failures += sn_optimizer_create(m, &op, &o) != SN_OK;
        failures += sn_dataset_from_memory(images, labels, 8, 1, 4, 4, 3, &d) != SN_OK;
        sn_optimizer_free(o);
        sn_model_free(m);
        sn_dataset_free(d);
    }
    double growth = (double)(rss_kib() - before) / 1024.0;
    printf("RSS growth over 10,000 create/free cycles: %.2f MB\n", growth);
    EXPECT(failures == 0 && growth <= 5.0, "%d failures, RSS grew %.2f MB", failures, growth);
}

/* Convolution and pooling options: the _ex builders, their defaults and their refusals. */
static void test_convolution_and_pooling_options(void) {
    sn_conv2d_params p;
    EXPECT_STATUS(sn_conv2d_params_default(NULL), SN_ERR_INVALID_ARGUMENT);
    OK(sn_conv2d_params_default(&p));
    EXPECT(p.struct_size == sizeof p && p.kernel_size == 3 && p.stride == 1 && p.padding == 0 && p.dilation == 1 &&
               p.groups == 1 && p.bias == 1 && p.init == SN_INIT_KAIMING && p.out_channels == 0,
           "sn_conv2d_params defaults");
    sn_model *m = NULL;
    OK(sn_model_create(4, 9, 9, &m));
    EXPECT_STATUS(sn_model_add_conv2d_ex(m, &p), SN_ERR_INVALID_ARGUMENT); /* out_channels unset */
    p.out_channels = 6;
    p.groups = 4; /* 6 % 4 != 0 */
    EXPECT_STATUS(sn_model_add_conv2d_ex(m, &p), SN_ERR_INVALID_ARGUMENT);
    p.groups = 2;
    p.stride = 2;
    p.padding = SN_PADDING_SAME;
    EXPECT_STATUS(sn_model_add_conv2d_ex(m, &p), SN_ERR_INVALID_ARGUMENT); /* "same" needs stride 1 */
    p.padding = -2;
    EXPECT_STATUS(sn_model_add_conv2d_ex(m, &p), SN_ERR_INVALID_ARGUMENT);
    p.stride = 1;
    p.padding = SN_PADDING_SAME;
    p.struct_size = 8;
    EXPECT_STATUS(sn_model_add_conv2d_ex(m, &p), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_conv2d_ex(m, NULL), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_conv2d_ex(NULL, &p), SN_ERR_INVALID_ARGUMENT);
    p.struct_size = sizeof p;
    OK(sn_model_add_conv2d_ex(m, &p)); /* 4 → 6, 3×3 "same", 2 groups: (6, 9, 9) */
    p.out_channels = 6;
    p.groups = 6;
    p.dilation = 2;
    p.padding = 2;
    OK(sn_model_add_conv2d_ex(m, &p)); /* depthwise, dilated: (6, 9, 9) */
    EXPECT_STATUS(sn_model_add_conv2d(m, 6, 3, 1, SN_PADDING_SAME, 1, SN_INIT_KAIMING, 0), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_maxpool2d_ex(m, 3, 2, 2, 0), SN_ERR_INVALID_ARGUMENT); /* padding > k/2 */
    EXPECT_STATUS(sn_model_add_maxpool2d_ex(m, 3, 2, 1, 2), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_add_maxpool2d_ex(m, 3, 2, 1, 1)); /* (6, 5, 5) */
    EXPECT_STATUS(sn_model_add_avgpool2d_ex(m, 2, 0, 0, 1, 7), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_add_avgpool2d_ex(m, 2, 0, 1, 1, 0)); /* (6, 3, 3) */
    OK(sn_model_add_batchnorm2d_ex(m, 0.1f, 1e-5f, 0, 1));
    EXPECT_STATUS(sn_model_add_batchnorm2d_ex(m, 0.1f, 1e-5f, 3, 1), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_adaptive_avgpool2d(m, 0, 2), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_add_adaptive_avgpool2d(m, 2, 2)); /* (6, 2, 2) */
    sn_layer_info info;
    info.struct_size = sizeof info;
    OK(sn_model_layer_info(m, 5, &info));
    EXPECT(info.kind == SN_LAYER_ADAPTIVEAVGPOOL2D && info.rank == 3 && info.shape[1] == 2 && info.shape[2] == 2,
           "AdaptiveAvgPool2d layer info: kind %d, shape %lld×%lld", info.kind, (long long)info.shape[1],
           (long long)info.shape[2]);
    OK(sn_model_layer_info(m, 2, &info));
    EXPECT(info.shape[1] == 5 && info.shape[2] == 5, "MaxPool2d(3, 2, pad 1, ceil) on 9×9 gives 5×5");
    EXPECT_STATUS(sn_model_add_batchnorm1d_ex(m, 0.1f, 1e-5f, 1, 0), SN_ERR_SHAPE_MISMATCH);
    OK(sn_model_add_flatten(m));
    OK(sn_model_add_batchnorm1d_ex(m, 0.1f, 1e-5f, 1, 0));
    OK(sn_model_add_linear(m, 3, 1, SN_INIT_KAIMING, 0));
    int64_t n_params = 0;
    OK(sn_model_n_params(m, &n_params));
    /* conv 6·2·9 + 6, depthwise 6·9 + 6, BatchNorm2d none, BatchNorm1d 2·24, linear 24·3 + 3 */
    EXPECT(n_params == 114 + 60 + 48 + 75, "n_params %lld", (long long)n_params);
    float x[2 * 4 * 81], out[2 * 3];
    for (int i = 0; i < 2 * 4 * 81; i++) x[i] = (float)((i * 37) % 11) - 5.0f;
    OK(sn_model_forward(m, x, 2, out, 6));
    EXPECT_STATUS(sn_model_forward(m, x, 1, out, 6), SN_ERR_INVALID_ARGUMENT); /* BatchNorm1d, batch of one */
    sn_model_free(m);
    /* BatchNorm2d takes a training batch of one when H·W > 1, as PyTorch. */
    OK(sn_model_create(2, 3, 3, &m));
    OK(sn_model_add_batchnorm2d(m, 0.1f, 1e-5f));
    float y[18];
    OK(sn_model_forward(m, x, 1, y, 18));
    OK(sn_model_add_maxpool2d(m, 3, 0));
    OK(sn_model_add_batchnorm2d(m, 0.1f, 1e-5f));
    EXPECT_STATUS(sn_model_forward(m, x, 1, y, 18), SN_ERR_INVALID_ARGUMENT); /* 1×1 maps */
    sn_model_free(m);
}

/* A model mixing the newer layers (a depthwise-separable block with GELU, LayerNorm, Dropout2d,
 * SiLU) trains, saves and loads back with the same outputs. */
static void test_mixed_model_trains_saves_and_loads(const char *dir) {
    sn_dataset *train = synthetic(120, 5);
    sn_model *m = NULL;
    OK(sn_model_create(1, 4, 4, &m));
    sn_conv2d_params p;
    p.struct_size = sizeof p;
    OK(sn_conv2d_params_default(&p));
    p.out_channels = 4;
    p.kernel_size = 3;
    p.padding = SN_PADDING_SAME;
    p.seed = 1;
    OK(sn_model_add_conv2d_ex(m, &p));   /* (4, 4, 4) */
    p.groups = 4;
    p.seed = 2;
    OK(sn_model_add_conv2d_ex(m, &p));   /* depthwise 3×3 */
    p.groups = 1;
    p.kernel_size = 1;
    p.out_channels = 6;
    p.padding = 0;
    p.seed = 3;
    OK(sn_model_add_conv2d_ex(m, &p));   /* pointwise 4 → 6 */
    OK(sn_model_add_gelu(m, 0));
    OK(sn_model_add_dropout2d(m, 0.1f));
    OK(sn_model_add_layernorm(m, 3, 1e-5f, 1));
    OK(sn_model_add_silu(m));
    OK(sn_model_add_flatten(m));
    OK(sn_model_add_linear(m, 3, 1, SN_INIT_PYTORCH, 4));
    sn_optimizer_params op;
    OK(sn_optimizer_params_default(SN_OPTIMIZER_ADAMW, &op));
    op.lr = 0.01f;
    sn_optimizer *opt = NULL;
    OK(sn_optimizer_create(m, &op, &opt));
    sn_train_params tp;
    OK(sn_train_params_default(&tp));
    tp.epochs = 3;
    tp.batch_size = 20;
    sn_epoch_record history[3];
    size_t epochs = 0;
    OK(sn_fit(m, opt, train, &tp, NULL, NULL, history, 3, &epochs));
    EXPECT(epochs == 3 && history[2].train_loss < history[0].train_loss, "mixed model: loss %g → %g",
           (double)history[0].train_loss, (double)history[2].train_loss);
    char path[512];
    snprintf(path, sizeof path, "%s/mixed.safetensors", dir);
    OK(sn_model_save(m, path, NULL));
    sn_model *loaded = NULL;
    OK(sn_model_load(path, &loaded));
    OK(sn_model_set_training(m, 0));
    OK(sn_model_set_training(loaded, 0));
    float x[2 * 16], a[6], b[6];
    for (int i = 0; i < 32; i++) x[i] = (float)(i % 5) * 0.25f;
    OK(sn_model_forward(m, x, 2, a, 6));
    OK(sn_model_forward(loaded, x, 2, b, 6));
    EXPECT(memcmp(a, b, sizeof a) == 0, "the loaded mixed model gives the same outputs");
    size_t layers = 0;
    OK(sn_model_n_layers(loaded, &layers));
    EXPECT(layers == 9, "the loaded mixed model has its 9 layers, got %zu", layers);
    sn_model_free(loaded);
    sn_optimizer_free(opt);
    sn_model_free(m);
    sn_dataset_free(train);
}

int main(void) {
    char dir[] = "/tmp/smallnet-c-test-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_versions_and_errors();
    test_isa();
    test_model_building();
    test_cnn();
    test_handles();
    test_tensors_and_low_level_loop();
    test_schedules();
    test_datasets(dir);
    test_fit_evaluate_predict_checkpoint(dir);
    test_preprocessing_names_and_raw_pixels(dir);
    test_hostile_magnitudes(dir);
    test_one_call_per_handle();
    test_create_free_cycles();
    test_convolution_and_pooling_options();
    test_mixed_model_trains_saves_and_loads(dir);
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
