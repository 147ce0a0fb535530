/*
 * test_losses.c — sn_loss and the training loss of sn_fit_with_options through the C surface:
 * values, gradients, reductions, errors, sn_train_options_default's struct_size rule, and
 * sn_fit ≡ sn_fit_with_options without options.
 */
#include <smallnet.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void test_loss_values_and_errors(void) {
    sn_loss_params p;
    EXPECT_STATUS(sn_loss_params_default(7, &p), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_loss_params_default(SN_LOSS_MSE, NULL), SN_ERR_INVALID_ARGUMENT);
    OK(sn_loss_params_default(SN_LOSS_HUBER, &p));
    EXPECT(p.struct_size == sizeof p && p.kind == SN_LOSS_HUBER && p.reduction == SN_REDUCTION_MEAN &&
           p.ignore_index == -100 && p.beta == 1 && p.delta == 1 && p.class_weights == NULL && p.label_smoothing == 0,
           "loss defaults");

    /* Cross-entropy at large logits keeps its precision (PyTorch: 1.8000000). */
    float logits[10], out[10], d[10];
    logits[0] = 1e4f + 20;
    for (int j = 1; j < 10; j++) logits[j] = 1e4f;
    int32_t label = 0;
    OK(sn_loss_params_default(SN_LOSS_CROSS_ENTROPY, &p));
    p.label_smoothing = 0.1f;
    OK(sn_loss(&p, logits, 1, 10, &label, NULL, out, 1, d));
    EXPECT(fabsf(out[0] - 1.8f) < 1e-5f, "cross-entropy at large logits %.7f", out[0]);
    float old_loss = 0;
    OK(sn_cross_entropy(logits, &label, 1, 10, 0.1f, &old_loss, NULL));
    EXPECT(fabsf(old_loss - 1.8f) < 1e-5f, "sn_cross_entropy at large logits %.7f", old_loss);

    /* MSE, per element and summed, with its gradient. */
    float x[4] = {1, -2, 0.5f, 0}, t[4] = {0, 0, 0, 1}, g[4];
    OK(sn_loss_params_default(SN_LOSS_MSE, &p));
    p.reduction = SN_REDUCTION_NONE;
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, NULL, t, out, 3, NULL), SN_ERR_SHAPE_MISMATCH);
    OK(sn_loss(&p, x, 2, 2, NULL, t, out, 4, g));
    EXPECT(out[0] == 1 && out[1] == 4 && out[2] == 0.25f && out[3] == 1, "MSE none");
    EXPECT(g[0] == 2 && g[1] == -4 && g[2] == 1 && g[3] == -2, "MSE none gradient");
    p.reduction = SN_REDUCTION_MEAN;
    OK(sn_loss(&p, x, 2, 2, NULL, t, out, 1, g));
    EXPECT(out[0] == 6.25f / 4 && g[1] == -1, "MSE mean %g, gradient %g", out[0], g[1]);

    /* Errors: status, message, nothing written. */
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, NULL, NULL, out, 1, g), SN_ERR_INVALID_ARGUMENT);
    p.reduction = 5;
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, NULL, t, out, 1, g), SN_ERR_INVALID_ARGUMENT);
    OK(sn_loss_params_default(SN_LOSS_NLL, &p));
    int32_t labels[2] = {0, 2};
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, labels, NULL, out, 1, g), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, NULL, NULL, out, 1, g), SN_ERR_INVALID_ARGUMENT);
    float w[3] = {1, 1, 1};
    p.class_weights = w;
    p.n_class_weights = 3;
    labels[1] = 1;
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, labels, NULL, out, 1, g), SN_ERR_SHAPE_MISMATCH);
    p.n_class_weights = 0;
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, labels, NULL, out, 1, g), SN_ERR_INVALID_ARGUMENT);
    p.n_class_weights = 2;
    p.label_smoothing = 0.1f; /* NLL has no smoothing */
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, labels, NULL, out, 1, g), SN_ERR_INVALID_ARGUMENT);
    p.label_smoothing = 0;
    p.struct_size = 4;
    EXPECT_STATUS(sn_loss(&p, x, 2, 2, labels, NULL, out, 1, g), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_loss(NULL, x, 2, 2, labels, NULL, out, 1, g), SN_ERR_INVALID_ARGUMENT);
}

static sn_dataset *synthetic(size_t n) {
    float *images = malloc(n * 16 * sizeof(float));
    int32_t *labels = malloc(n * sizeof(int32_t));
    srand(3);
    for (size_t i = 0; i < n; i++) {
        labels[i] = (int32_t)(i % 3);
        for (int q = 0; q < 16; q++)
            images[i * 16 + q] = (q / 5 == labels[i] ? 1.0f : 0.0f) + 0.2f * ((float)rand() / RAND_MAX - 0.5f);
    }
    sn_dataset *d = NULL;
    OK(sn_dataset_from_memory(images, labels, n, 1, 4, 4, 3, &d));
    free(images);
    free(labels);
    return d;
}

/* Trains a fresh small model for 3 epochs (sn_fit when options is NULL and plain is set, else
 * sn_fit_with_options); writes the history and the final weights. */
static sn_status fit(const sn_dataset *train, const sn_train_params *params, const sn_train_options *options,
                     int plain, sn_epoch_record *history, float *weights) {
    sn_model *m = NULL;
    OK(sn_model_create(1, 4, 4, &m));
    OK(sn_model_add_flatten(m));
    OK(sn_model_add_linear(m, 8, 1, SN_INIT_KAIMING, 1));
    OK(sn_model_add_relu(m));
    OK(sn_model_add_linear(m, 3, 1, SN_INIT_PYTORCH, 2));
    sn_optimizer_params op;
    OK(sn_optimizer_params_default(SN_OPTIMIZER_SGD, &op));
    op.lr = 0.05f;
    op.momentum = 0.9f;
    sn_optimizer *opt = NULL;
    OK(sn_optimizer_create(m, &op, &opt));
    size_t epochs = 0;
    sn_status status = plain ? sn_fit(m, opt, train, params, NULL, NULL, history, 3, &epochs)
                             : sn_fit_with_options(m, opt, train, params, options, NULL, NULL, history, 3, &epochs);
    if (weights) OK(sn_model_get_tensor(m, "3.weight", weights, 24));
    sn_optimizer_free(opt);
    sn_model_free(m);
    return status;
}

static void test_train_options_default(void) {
    /* struct_size must be set first; only that many bytes are written. */
    union {
        sn_train_options options;
        unsigned char bytes[sizeof(sn_train_options) + 16];
    } u;
    unsigned char *buffer = u.bytes;
    sn_train_options *o = &u.options;
    memset(buffer, 0xAB, sizeof u.bytes);
    o->struct_size = sizeof(sn_train_options);
    OK(sn_train_options_default(o));
    EXPECT(o->struct_size == sizeof(sn_train_options) && o->loss.struct_size == sizeof(sn_loss_params) &&
               o->loss.kind == SN_LOSS_CROSS_ENTROPY && o->loss.reduction == SN_REDUCTION_MEAN &&
               o->loss.label_smoothing == 0 && o->loss.ignore_index == -100 && o->loss.class_weights == NULL,
           "train options defaults");
    int untouched = 1;
    for (size_t i = sizeof(sn_train_options); i < sizeof u.bytes; i++) untouched &= buffer[i] == 0xAB;
    EXPECT(untouched, "sn_train_options_default wrote past struct_size");

    /* Refused, and nothing written: too small (0, an unset field, the struct_size field alone, one
     * byte short of the first sn_train_options, which ends with `loss`), too large. */
    uint32_t sizes[] = {0, 4, (uint32_t)(offsetof(sn_train_options, loss) + sizeof(sn_loss_params)) - 1,
                        (uint32_t)sizeof(sn_train_options) + 8, 0xABABABABu};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        memset(buffer, 0xAB, sizeof u.bytes);
        o->struct_size = sizes[k];
        EXPECT_STATUS(sn_train_options_default(o), SN_ERR_INVALID_ARGUMENT);
        EXPECT(strstr(sn_last_error(), "struct_size") != NULL, "the error names struct_size: %s", sn_last_error());
        int kept = o->struct_size == sizes[k];
        for (size_t i = sizeof(uint32_t); i < sizeof u.bytes; i++) kept &= buffer[i] == 0xAB;
        EXPECT(kept, "a refused struct_size %u left the struct as it was", sizes[k]);
    }
    EXPECT_STATUS(sn_train_options_default(NULL), SN_ERR_INVALID_ARGUMENT);
}

static void test_training_losses(void) {
    sn_dataset *train = synthetic(240);
    sn_train_params tp;
    OK(sn_train_params_default(&tp));
    tp.epochs = 3;
    tp.batch_size = 24;
    sn_train_options options;
    options.struct_size = sizeof options;
    OK(sn_train_options_default(&options));
    sn_epoch_record now[3], without[3], defaults[3], mse[3];
    float w_now[24], w_without[24], w_defaults[24];
    OK(fit(train, &tp, NULL, 1, now, w_now));

    /* sn_fit ≡ sn_fit_with_options without options ≡ with the default options. */
    OK(fit(train, &tp, NULL, 0, without, w_without));
    OK(fit(train, &tp, &options, 0, defaults, w_defaults));
    EXPECT(memcmp(w_now, w_without, sizeof w_now) == 0, "sn_fit and sn_fit_with_options(NULL) train alike");
    EXPECT(memcmp(w_now, w_defaults, sizeof w_now) == 0, "default options train as sn_fit");
    for (int e = 0; e < 3; e++)
        EXPECT(now[e].train_loss == without[e].train_loss && now[e].train_loss == defaults[e].train_loss &&
                   now[e].train_accuracy == defaults[e].train_accuracy,
               "epoch %d: sn_fit, no options and default options record the same loss", e + 1);

    /* Another loss: MSE on one-hot targets. */
    sn_train_options o2 = options;
    OK(sn_loss_params_default(SN_LOSS_MSE, &o2.loss));
    OK(fit(train, &tp, &o2, 0, mse, NULL));
    EXPECT(mse[2].train_loss < mse[0].train_loss && mse[2].train_accuracy > 0.9f, "MSE training: %g → %g, %g",
           mse[0].train_loss, mse[2].train_loss, mse[2].train_accuracy);
    EXPECT(mse[0].train_loss != now[0].train_loss, "MSE is not cross-entropy");

    /* Refused: a per-sample loss, a smoothing that disagrees, a bad kind, a bad size. */
    o2.loss.reduction = SN_REDUCTION_NONE;
    EXPECT_STATUS(fit(train, &tp, &o2, 0, mse, NULL), SN_ERR_INVALID_ARGUMENT);
    o2 = options;
    o2.loss.label_smoothing = 0.3f;
    EXPECT_STATUS(fit(train, &tp, &o2, 0, mse, NULL), SN_ERR_INVALID_ARGUMENT);
    o2.loss.label_smoothing = tp.label_smoothing; /* equal to it: accepted */
    OK(fit(train, &tp, &o2, 0, mse, NULL));
    EXPECT(mse[2].train_loss == now[2].train_loss, "the same smoothing twice trains as the default");
    o2.loss.kind = 42;
    EXPECT_STATUS(fit(train, &tp, &o2, 0, mse, NULL), SN_ERR_INVALID_ARGUMENT);
    o2 = options;
    o2.struct_size = (uint32_t)sizeof o2 + 4;
    EXPECT_STATUS(fit(train, &tp, &o2, 0, mse, NULL), SN_ERR_INVALID_ARGUMENT);
    o2 = options;
    o2.loss.struct_size = 0;
    EXPECT_STATUS(fit(train, &tp, &o2, 0, mse, NULL), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(fit(train, NULL, &options, 0, mse, NULL), SN_ERR_INVALID_ARGUMENT);
    sn_dataset_free(train);
}

int main(void) {
    test_loss_values_and_errors();
    test_train_options_default();
    test_training_losses();
    printf("C loss tests: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
