/*
 * test_activations.c — activations, softmax layers, Dropout2d and LayerNorm through the C
 * surface: each sn_model_add_* appends the layer the header names, and bad arguments return a
 * status and a message, appending nothing.
 */
#include <smallnet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static int32_t kind_of(sn_model *m, size_t index) {
    sn_layer_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (sn_model_layer_info(m, index, &info) != SN_OK) return -1;
    return info.kind;
}

int main(void) {
    sn_model *m = NULL;
    OK(sn_model_create(2, 4, 4, &m));
    OK(sn_model_add_dropout2d(m, 0.25f));
    OK(sn_model_add_layernorm(m, 3, 1e-5f, 1));
    OK(sn_model_add_gelu(m, SN_GELU_TANH));
    OK(sn_model_add_flatten(m));
    OK(sn_model_add_leaky_relu(m, 0.01f));
    OK(sn_model_add_elu(m, 1.0f));
    OK(sn_model_add_gelu(m, SN_GELU_NONE));
    OK(sn_model_add_silu(m));
    OK(sn_model_add_tanh(m));
    OK(sn_model_add_sigmoid(m));
    OK(sn_model_add_softmax(m));
    OK(sn_model_add_log_softmax(m));
    const int32_t kinds[] = {SN_LAYER_DROPOUT2D, SN_LAYER_LAYERNORM, SN_LAYER_GELU, SN_LAYER_FLATTEN,
                             SN_LAYER_LEAKY_RELU, SN_LAYER_ELU, SN_LAYER_GELU, SN_LAYER_SILU, SN_LAYER_TANH,
                             SN_LAYER_SIGMOID, SN_LAYER_SOFTMAX, SN_LAYER_LOG_SOFTMAX};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        EXPECT(kind_of(m, i) == kinds[i], "layer %zu has kind %d, expected %d", i, kind_of(m, i), kinds[i]);
    int64_t n_params = 0;
    OK(sn_model_n_params(m, &n_params));
    EXPECT(n_params == 2 * 2 * 4 * 4, "LayerNorm (2, 4, 4) has weight and bias, got %lld params", (long long)n_params);

    /* Rows of the softmax output sum to 1 (eval mode; then exp of LogSoftmax does). */
    OK(sn_model_set_training(m, 0));
    float x[2 * 32], y[2 * 32];
    for (int i = 0; i < 64; i++) x[i] = (float)((i * 7) % 11) - 5.0f;
    OK(sn_model_forward(m, x, 2, y, 64));
    for (int r = 0; r < 2; r++) {
        double s = 0;
        for (int j = 0; j < 32; j++) s += exp(y[r * 32 + j]);
        EXPECT(fabs(s - 1) < 1e-5, "row %d of exp(log_softmax) sums to %g", r, s);
    }

    /* Bad arguments: a status and a message, nothing appended. */
    size_t before = 0, after = 0;
    OK(sn_model_n_layers(m, &before));
    EXPECT_STATUS(sn_model_add_gelu(m, 2), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_gelu(m, -1), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_leaky_relu(m, NAN), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_elu(m, INFINITY), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_dropout2d(m, 0.5f), SN_ERR_SHAPE_MISMATCH); /* flat output */
    EXPECT_STATUS(sn_model_add_layernorm(m, 2, 1e-5f, 1), SN_ERR_INVALID_ARGUMENT); /* rank 1 */
    EXPECT_STATUS(sn_model_add_layernorm(m, 0, 1e-5f, 1), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_layernorm(m, 1, 0.0f, 1), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_layernorm(m, 1, NAN, 1), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_layernorm(m, 1, 1e-5f, 2), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_n_layers(m, &after));
    EXPECT(before == after, "failed calls appended layers (%zu → %zu)", before, after);
    EXPECT_STATUS(sn_model_add_silu(NULL), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_layernorm(NULL, 1, 1e-5f, 1), SN_ERR_INVALID_ARGUMENT);
    sn_model_free(m);

    sn_model *image = NULL;
    OK(sn_model_create(1, 4, 4, &image));
    EXPECT_STATUS(sn_model_add_softmax(image), SN_ERR_SHAPE_MISMATCH);
    EXPECT_STATUS(sn_model_add_log_softmax(image), SN_ERR_SHAPE_MISMATCH);
    EXPECT_STATUS(sn_model_add_dropout2d(image, 1.0f), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_dropout2d(image, -0.1f), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_add_layernorm(image, 4, 1e-5f, 1), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_add_layernorm(image, 2, 1e-5f, 0));
    int64_t none = -1;
    OK(sn_model_n_params(image, &none));
    EXPECT(none == 0, "LayerNorm without affine has no parameters, got %lld", (long long)none);
    sn_model_free(image);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
