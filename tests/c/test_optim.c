/*
 * test_optim.c — optimizers, schedules, gradient clipping and initialisations through the C
 * surface, and the ABI around them: the structs of 0.1 keep their size, the new settings live in
 * new structs (sn_optimizer_options, sn_schedule_options) and at the end of sn_train_options,
 * whose first, smaller size is still accepted (and never written past); torch.nn.init on one
 * named tensor (sn_model_init_tensor).
 */
#include "check.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

static sn_dataset *synthetic(size_t n) {
    float *images = malloc(n * 16 * sizeof(float));
    int32_t *labels = malloc(n * sizeof(int32_t));
    srand(7);
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

static sn_model *linear_model(int32_t init) {
    sn_model *m = NULL;
    OK(sn_model_create(1, 4, 4, &m));
    OK(sn_model_add_linear(m, 3, 1, init, 1));
    return m;
}

/* The size of the first sn_train_options, which ended with `loss`. */
#define TRAIN_OPTIONS_FIRST_SIZE offsetof(sn_train_options, clip_grad_norm)

static void test_struct_sizes(void) {
    /* The structs of 0.1 are as they were (x86-64 / aarch64 layouts). */
    EXPECT(sizeof(sn_optimizer_params) == 48, "sn_optimizer_params %zu", sizeof(sn_optimizer_params));
    EXPECT(sizeof(sn_schedule) == 24, "sn_schedule %zu", sizeof(sn_schedule));
    EXPECT(sizeof(sn_train_params) == 72, "sn_train_params %zu", sizeof(sn_train_params));
    /* sn_train_options grew at its end only. */
    EXPECT(TRAIN_OPTIONS_FIRST_SIZE == offsetof(sn_train_options, loss) + sizeof(sn_loss_params),
           "clip_grad_norm follows loss: %zu", TRAIN_OPTIONS_FIRST_SIZE);
    EXPECT(offsetof(sn_train_options, schedule) + sizeof(sn_schedule_options) <= sizeof(sn_train_options),
           "schedule inside");
}

static void test_optimizer_options(void) {
    sn_model *m = linear_model(SN_INIT_KAIMING);
    sn_optimizer *o = NULL;
    sn_optimizer_params p;

    /* Defaults: written only up to the struct_size the caller set. */
    union {
        sn_optimizer_options options;
        unsigned char bytes[sizeof(sn_optimizer_options) + 16];
    } u;
    memset(&u, 0xAB, sizeof u);
    u.options.struct_size = sizeof u.options;
    OK(sn_optimizer_options_default(&u.options));
    EXPECT(u.options.struct_size == sizeof u.options && u.options.amsgrad == 0 && u.options.maximize == 0 &&
               u.options.lr_decay == 0 && u.options.initial_accumulator_value == 0,
           "optimizer options defaults");
    int intact = 1;
    for (size_t i = sizeof u.options; i < sizeof u; i++) intact &= u.bytes[i] == 0xAB;
    EXPECT(intact, "nothing written past sn_optimizer_options");
    u.options.struct_size = sizeof u.options + 4;
    EXPECT_STATUS(sn_optimizer_options_default(&u.options), SN_ERR_INVALID_ARGUMENT);
    u.options.struct_size = 4;
    EXPECT_STATUS(sn_optimizer_options_default(&u.options), SN_ERR_INVALID_ARGUMENT);
    EXPECT(u.options.struct_size == 4 && u.bytes[4] == 0, "nothing written on failure");
    EXPECT_STATUS(sn_optimizer_options_default(NULL), SN_ERR_INVALID_ARGUMENT);
    sn_optimizer_options options = {sizeof options, 0, 0, 0, 0};
    OK(sn_optimizer_options_default(&options));

    /* Adagrad: PyTorch's defaults, through both create calls. */
    OK(sn_optimizer_params_default(SN_OPTIMIZER_ADAGRAD, &p));
    EXPECT(p.struct_size == sizeof p && p.lr == 0.01f && p.eps == 1e-10f && p.weight_decay == 0, "Adagrad defaults");
    OK(sn_optimizer_create(m, &p, &o));
    sn_optimizer_free(o);
    OK(sn_optimizer_create_with_options(m, &p, NULL, &o));
    sn_optimizer_free(o);
    options.lr_decay = -1;
    EXPECT_STATUS(sn_optimizer_create_with_options(m, &p, &options, &o), SN_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(sn_last_error(), "lr decay") != NULL, "names lr decay: %s", sn_last_error());
    options.lr_decay = 0;
    options.initial_accumulator_value = NAN;
    EXPECT_STATUS(sn_optimizer_create_with_options(m, &p, &options, &o), SN_ERR_INVALID_ARGUMENT);
    options.initial_accumulator_value = 0;
    options.struct_size = sizeof options - 4;
    EXPECT_STATUS(sn_optimizer_create_with_options(m, &p, &options, &o), SN_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(sn_last_error(), "struct_size") != NULL, "names struct_size: %s", sn_last_error());
    options.struct_size = sizeof options;

    /* Adagrad by hand: w ← w − lr·g/(√(acc + g²) + eps), acc from 0.5, lr_decay 1 halves step 2. */
    p.lr = 0.1f;
    options.lr_decay = 1;
    options.initial_accumulator_value = 0.5f;
    OK(sn_optimizer_create_with_options(m, &p, &options, &o));
    float w0[48], w1[48], w2[48], g[48], bias_g[3] = {0, 0, 0};
    for (int i = 0; i < 48; i++) g[i] = 0.5f;
    OK(sn_model_get_tensor(m, "0.weight", w0, 48));
    OK(sn_model_set_grad(m, "0.weight", g, 48));
    OK(sn_model_set_grad(m, "0.bias", bias_g, 3));
    OK(sn_optimizer_step(o));
    OK(sn_model_get_tensor(m, "0.weight", w1, 48));
    double step1 = 0.1 * 0.5 / (sqrt(0.75) + 1e-10), step2 = 0.05 * 0.5 / (sqrt(1.0) + 1e-10);
    EXPECT(fabs(w0[7] - step1 - w1[7]) < 1e-6, "Adagrad step 1: %g → %g", w0[7], w1[7]);
    OK(sn_optimizer_step(o));
    OK(sn_model_get_tensor(m, "0.weight", w2, 48));
    EXPECT(fabs(w1[7] - step2 - w2[7]) < 1e-6, "Adagrad step 2 (decayed rate): %g → %g", w1[7], w2[7]);
    sn_optimizer_free(o);

    /* AMSGrad: Adam and AdamW read it; it must be 0 or 1. */
    OK(sn_optimizer_options_default(&options));
    OK(sn_optimizer_params_default(SN_OPTIMIZER_ADAMW, &p));
    options.amsgrad = 1;
    OK(sn_optimizer_create_with_options(m, &p, &options, &o));
    sn_optimizer_free(o);
    options.amsgrad = 2;
    EXPECT_STATUS(sn_optimizer_create_with_options(m, &p, &options, &o), SN_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(sn_last_error(), "amsgrad") != NULL, "names amsgrad: %s", sn_last_error());
    EXPECT_STATUS(sn_optimizer_params_default(5, &p), SN_ERR_INVALID_ARGUMENT);

    /* maximize: SGD lr 1 on a gradient of ones moves every weight up by one. */
    OK(sn_optimizer_options_default(&options));
    OK(sn_optimizer_params_default(SN_OPTIMIZER_SGD, &p));
    p.lr = 1;
    options.maximize = 1;
    OK(sn_optimizer_create_with_options(m, &p, &options, &o));
    float before[48], after[48], ones[48];
    for (int i = 0; i < 48; i++) ones[i] = 1;
    OK(sn_model_get_tensor(m, "0.weight", before, 48));
    OK(sn_model_set_grad(m, "0.weight", ones, 48));
    OK(sn_model_set_grad(m, "0.bias", ones, 3));
    OK(sn_optimizer_step(o));
    OK(sn_model_get_tensor(m, "0.weight", after, 48));
    EXPECT(fabsf(after[5] - before[5] - 1) < 1e-6f, "maximize ascends: %g → %g", before[5], after[5]);
    sn_optimizer_free(o);
    options.maximize = -1;
    EXPECT_STATUS(sn_optimizer_create_with_options(m, &p, &options, &o), SN_ERR_INVALID_ARGUMENT);

    /* set_grad refuses what does not fit, and leaves the gradient as it was. */
    float check[48];
    EXPECT_STATUS(sn_model_set_grad(m, "0.weight", ones, 47), SN_ERR_SHAPE_MISMATCH);
    EXPECT_STATUS(sn_model_set_grad(m, "9.weight", ones, 48), SN_ERR_NOT_FOUND);
    EXPECT_STATUS(sn_model_set_grad(m, "0.weight", NULL, 48), SN_ERR_INVALID_ARGUMENT);
    ones[3] = NAN;
    ones[0] = 7;
    EXPECT_STATUS(sn_model_set_grad(m, "0.weight", ones, 48), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_get_grad(m, "0.weight", check, 48));
    EXPECT(check[0] == 1, "unchanged after a refused set_grad: %g", check[0]);
    sn_model_free(m);
}

static void test_clipping(void) {
    sn_model *m = linear_model(SN_INIT_KAIMING);
    float g[48] = {0}, b[3] = {0, 0, 4}, total = 0;
    g[0] = 3;
    OK(sn_model_set_grad(m, "0.weight", g, 48));
    OK(sn_model_set_grad(m, "0.bias", b, 3));
    OK(sn_model_clip_grad_norm(m, 1, &total));
    EXPECT(fabsf(total - 5) < 1e-6f, "total norm %g", total);
    OK(sn_model_get_grad(m, "0.weight", g, 48));
    EXPECT(fabsf(g[0] - 3 / (5 + 1e-6f)) < 1e-7f, "clipped %g", g[0]);
    OK(sn_model_clip_grad_norm(m, 1, NULL));
    EXPECT_STATUS(sn_model_clip_grad_norm(m, -1, NULL), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_clip_grad_value(m, 0.5f));
    OK(sn_model_get_grad(m, "0.bias", b, 3));
    EXPECT(fabsf(b[2] - 0.5f) < 1e-7f, "clamped %g", b[2]);
    EXPECT_STATUS(sn_model_clip_grad_value(m, NAN), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_clip_grad_value(NULL, 1), SN_ERR_INVALID_ARGUMENT);
    sn_model_free(m);
}

static void test_schedules(void) {
    float lr = 0, plain = 0;
    sn_schedule_options so = {sizeof so, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    OK(sn_schedule_options_default(&so));
    EXPECT(so.warmup_every_kind == 0 && so.pct_start == 0.3f && so.anneal_strategy == SN_ANNEAL_COS &&
               so.div_factor == 25 && so.final_div_factor == 1e4f && so.factor == 0.1f && so.patience == 10 &&
               so.threshold == 1e-4f && so.cooldown == 0,
           "schedule options defaults");
    so.struct_size = 8;
    EXPECT_STATUS(sn_schedule_options_default(&so), SN_ERR_INVALID_ARGUMENT);
    so.struct_size = sizeof so;

    /* STEP ignores the default's warm-up epoch, as it always did; warmup_every_kind applies it,
     * and the epochs count after it. */
    sn_schedule s;
    OK(sn_schedule_default(&s));
    EXPECT(s.kind == SN_SCHEDULE_COSINE && s.warmup_epochs == 1, "default: cosine, one warm-up epoch");
    s.kind = SN_SCHEDULE_STEP;
    s.step_size = 2;
    s.gamma = 0.5f;
    OK(sn_schedule_lr(&s, 0.1f, 45, 100, 10, &plain));
    EXPECT(fabsf(plain - 0.025f) < 1e-8f, "step %g", plain);
    OK(sn_schedule_lr_with_options(&s, NULL, 0.1f, 45, 100, 10, &lr));
    EXPECT(lr == plain, "options NULL is sn_schedule_lr: %g %g", lr, plain);
    OK(sn_schedule_lr_with_options(&s, &so, 0.1f, 45, 100, 10, &lr));
    EXPECT(lr == plain, "default options are sn_schedule_lr: %g %g", lr, plain);
    so.warmup_every_kind = 1;
    OK(sn_schedule_lr_with_options(&s, &so, 0.1f, 0, 100, 10, &lr));
    EXPECT(fabsf(lr - 0.01f) < 1e-8f, "warm-up %g", lr);
    OK(sn_schedule_lr_with_options(&s, &so, 0.1f, 45, 100, 10, &lr));
    EXPECT(fabsf(lr - 0.05f) < 1e-8f, "after warm-up %g", lr);
    so.warmup_every_kind = 2;
    EXPECT_STATUS(sn_schedule_lr_with_options(&s, &so, 0.1f, 0, 100, 10, &lr), SN_ERR_INVALID_ARGUMENT);
    OK(sn_schedule_options_default(&so));

    OK(sn_schedule_params_default(SN_SCHEDULE_EXPONENTIAL, &s));
    EXPECT(s.struct_size == sizeof s && s.warmup_epochs == 0 && s.kind == SN_SCHEDULE_EXPONENTIAL, "no warm-up");
    s.gamma = 0.5f;
    OK(sn_schedule_lr(&s, 0.1f, 25, 100, 10, &lr));
    EXPECT(fabsf(lr - 0.025f) < 1e-8f, "exponential %g", lr);
    s.warmup_epochs = 1; /* the newer kinds warm up without warmup_every_kind */
    OK(sn_schedule_lr(&s, 0.1f, 4, 100, 10, &lr));
    EXPECT(fabsf(lr - 0.05f) < 1e-8f, "exponential warm-up %g", lr);
    OK(sn_schedule_lr(&s, 0.1f, 25, 100, 10, &lr));
    EXPECT(fabsf(lr - 0.05f) < 1e-8f, "exponential after warm-up %g", lr);

    OK(sn_schedule_params_default(SN_SCHEDULE_ONE_CYCLE, &s));
    OK(sn_schedule_lr(&s, 1, 0, 100, 10, &lr));
    EXPECT(fabsf(lr - 0.04f) < 1e-7f, "one-cycle start %g", lr);
    OK(sn_schedule_lr(&s, 1, 29, 100, 10, &lr));
    EXPECT(fabsf(lr - 1) < 1e-6f, "one-cycle peak %g", lr);
    so.anneal_strategy = SN_ANNEAL_LINEAR;
    so.pct_start = 0.5f;
    OK(sn_schedule_lr_with_options(&s, &so, 1, 10, 101, 10, &lr));
    EXPECT(fabsf(lr - (0.04f + 0.96f * 10 / 49.5f)) < 1e-6f, "linear one-cycle %g", lr);
    so.anneal_strategy = 2;
    EXPECT_STATUS(sn_schedule_lr_with_options(&s, &so, 1, 0, 100, 10, &lr), SN_ERR_INVALID_ARGUMENT);
    OK(sn_schedule_options_default(&so));
    so.div_factor = 0;
    EXPECT_STATUS(sn_schedule_lr_with_options(&s, &so, 1, 0, 100, 10, &lr), SN_ERR_INVALID_ARGUMENT);
    OK(sn_schedule_options_default(&so));

    OK(sn_schedule_params_default(SN_SCHEDULE_REDUCE_ON_PLATEAU, &s));
    OK(sn_schedule_lr(&s, 0.3f, 50, 100, 10, &lr));
    EXPECT(lr == 0.3f, "plateau before any reduction %g", lr);
    so.factor = 1;
    EXPECT_STATUS(sn_schedule_lr_with_options(&s, &so, 1, 0, 100, 10, &lr), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_schedule_params_default(6, &s), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_schedule_params_default(SN_SCHEDULE_STEP, NULL), SN_ERR_INVALID_ARGUMENT);
}

/* Trains a fresh linear model with SGD 0.1 and returns the number of epochs recorded. */
static size_t fit_run(sn_dataset *train, const sn_train_params *tp, const sn_train_options *options,
                      sn_epoch_record *history, sn_status want) {
    sn_model *m = linear_model(SN_INIT_KAIMING);
    sn_optimizer_params op;
    OK(sn_optimizer_params_default(SN_OPTIMIZER_SGD, &op));
    op.lr = 0.1f;
    sn_optimizer *o = NULL;
    OK(sn_optimizer_create(m, &op, &o));
    size_t n = 0;
    EXPECT_STATUS(sn_fit_with_options(m, o, train, tp, options, NULL, NULL, history, 3, &n), want);
    sn_optimizer_free(o);
    sn_model_free(m);
    return n;
}

static int same_history(const sn_epoch_record *a, const sn_epoch_record *b, size_t n) {
    for (size_t e = 0; e < n; e++)
        if (a[e].train_loss != b[e].train_loss || a[e].learning_rate != b[e].learning_rate ||
            a[e].eval_loss != b[e].eval_loss)
            return 0;
    return 1;
}

static void test_train_options_of_every_size(void) {
    sn_dataset *train = synthetic(60);
    sn_train_params tp;
    OK(sn_train_params_default(&tp));
    tp.epochs = 3;
    tp.batch_size = 16;
    tp.seed = 5;
    tp.threads = 1;
    tp.validation = train;
    sn_epoch_record reference[3], h[3];
    EXPECT(fit_run(train, &tp, NULL, reference, SN_OK) == 3, "3 epochs");

    /* The first sn_train_options: sn_train_options_default fills it and writes nothing past it. */
    union {
        sn_train_options options;
        unsigned char bytes[sizeof(sn_train_options) + 16];
    } u;
    memset(&u, 0xAB, sizeof u);
    u.options.struct_size = (uint32_t)TRAIN_OPTIONS_FIRST_SIZE;
    OK(sn_train_options_default(&u.options));
    EXPECT(u.options.struct_size == TRAIN_OPTIONS_FIRST_SIZE, "struct_size kept: %u", u.options.struct_size);
    EXPECT(u.options.loss.kind == SN_LOSS_CROSS_ENTROPY, "loss filled in");
    int intact = 1;
    for (size_t i = TRAIN_OPTIONS_FIRST_SIZE; i < sizeof u; i++) intact &= u.bytes[i] == 0xAB;
    EXPECT(intact, "nothing written past the first sn_train_options");
    /* sn_fit_with_options reads only its bytes: the canary after it (0xAB: a clip of about
     * -3e-13, a nonsense schedule) is never read, and training is sn_fit's. */
    EXPECT(fit_run(train, &tp, &u.options, h, SN_OK) == 3, "old-size options train");
    EXPECT(same_history(reference, h, 3), "old-size options train as sn_fit");

    /* A size in between: clip_grad_norm read, clip_grad_value and schedule past it. */
    memset(&u, 0xAB, sizeof u);
    u.options.struct_size = sizeof u.options;
    OK(sn_train_options_default(&u.options));
    EXPECT(u.options.clip_grad_norm == 0 && u.options.clip_grad_value == 0 &&
               u.options.schedule.struct_size == sizeof(sn_schedule_options) && u.options.schedule.patience == 10,
           "current defaults");
    for (size_t i = sizeof u.options; i < sizeof u; i++) intact &= u.bytes[i] == 0xAB;
    EXPECT(intact, "nothing written past sn_train_options");
    EXPECT(fit_run(train, &tp, &u.options, h, SN_OK) == 3 && same_history(reference, h, 3),
           "default options train as sn_fit");
    u.options.clip_grad_norm = 1e-3f;
    u.options.clip_grad_value = -1; /* invalid, but beyond the size below */
    u.options.struct_size = (uint32_t)(offsetof(sn_train_options, clip_grad_value));
    sn_epoch_record clipped[3];
    EXPECT(fit_run(train, &tp, &u.options, clipped, SN_OK) == 3, "clip_grad_norm read, clip_grad_value not");
    EXPECT(clipped[0].train_loss != reference[0].train_loss, "clipping changed training");
    u.options.struct_size = sizeof u.options;
    fit_run(train, &tp, &u.options, h, SN_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(sn_last_error(), "clip_grad_value") != NULL, "names clip_grad_value: %s", sn_last_error());
    u.options.clip_grad_value = 0;
    EXPECT(fit_run(train, &tp, &u.options, h, SN_OK) == 3 && same_history(clipped, h, 3), "same clipping at full size");

    /* Sizes outside the range are refused, by both calls. */
    u.options.struct_size = (uint32_t)TRAIN_OPTIONS_FIRST_SIZE - 8;
    fit_run(train, &tp, &u.options, h, SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_train_options_default(&u.options), SN_ERR_INVALID_ARGUMENT);
    u.options.struct_size = sizeof u.options + 8;
    fit_run(train, &tp, &u.options, h, SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_train_options_default(&u.options), SN_ERR_INVALID_ARGUMENT);
    sn_dataset_free(train);
}

static void test_fit_schedules(void) {
    sn_dataset *train = synthetic(60);
    sn_train_params tp;
    OK(sn_train_params_default(&tp));
    tp.epochs = 3;
    tp.batch_size = 16;
    tp.threads = 1;
    tp.validation = train;
    sn_train_options options;
    options.struct_size = sizeof options;
    OK(sn_train_options_default(&options));
    sn_epoch_record h[3];

    /* Reduce on plateau: a threshold of 0.99 lets only the first loss count as an improvement;
     * with patience 0 the rate falls after the second epoch. */
    OK(sn_schedule_params_default(SN_SCHEDULE_REDUCE_ON_PLATEAU, &tp.schedule));
    options.schedule.patience = 0;
    options.schedule.threshold = 0.99f;
    EXPECT(fit_run(train, &tp, &options, h, SN_OK) == 3, "plateau trains");
    EXPECT(h[0].learning_rate == 0.1f && h[1].learning_rate == 0.1f && fabsf(h[2].learning_rate - 0.01f) < 1e-8f,
           "plateau rates %g %g %g", h[0].learning_rate, h[1].learning_rate, h[2].learning_rate);
    tp.validation = NULL;
    fit_run(train, &tp, &options, h, SN_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(sn_last_error(), "validation") != NULL, "plateau without validation: %s", sn_last_error());

    /* One-cycle, per step: the last epoch ends near lr / div_factor / final_div_factor. */
    OK(sn_schedule_params_default(SN_SCHEDULE_ONE_CYCLE, &tp.schedule));
    EXPECT(fit_run(train, &tp, &options, h, SN_OK) == 3, "one-cycle trains");
    EXPECT(h[2].learning_rate < 1e-6f, "one-cycle ends low: %g", h[2].learning_rate);
    options.schedule.struct_size = 4;
    fit_run(train, &tp, &options, h, SN_ERR_INVALID_ARGUMENT);
    sn_dataset_free(train);
}

static void test_initialisations(void) {
    for (int32_t init = SN_INIT_KAIMING; init <= SN_INIT_KAIMING_UNIFORM; init++) {
        sn_model *m = NULL;
        OK(sn_model_create(1, 4, 4, &m));
        OK(sn_model_add_conv2d(m, 4, 3, 1, 1, 1, init, 3));
        OK(sn_model_add_flatten(m));
        OK(sn_model_add_linear(m, 3, 1, init, 3));
        sn_model_free(m);
    }
    sn_model *m = NULL;
    OK(sn_model_create(1, 4, 4, &m));
    EXPECT_STATUS(sn_model_add_linear(m, 8, 1, 7, 3), SN_ERR_INVALID_ARGUMENT);
    /* Orthogonal: the (8, 16) weight has orthonormal rows. */
    OK(sn_model_add_linear(m, 8, 1, SN_INIT_ORTHOGONAL, 3));
    float w[128];
    OK(sn_model_get_tensor(m, "0.weight", w, 128));
    double worst = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            double dot = 0;
            for (int k = 0; k < 16; k++) dot += (double)w[i * 16 + k] * w[j * 16 + k];
            double err = fabs(dot - (i == j ? 1 : 0));
            if (err > worst) worst = err;
        }
    EXPECT(worst < 1e-5, "W·Wᵀ − I: %g", worst);
    sn_model_free(m);
}

/* Initialising one named tensor (torch.nn.init): defaults, seeds, bounds, and refusals that
 * name the problem and leave the tensor as it was. */
static int same_floats(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static sn_tensor_init tensor_init(int32_t scheme) {
    sn_tensor_init p;
    p.struct_size = sizeof p;
    OK(sn_tensor_init_default(scheme, &p));
    return p;
}

static void test_tensor_init(void) {
    sn_tensor_init p = tensor_init(SN_TENSOR_INIT_KAIMING_NORMAL);
    EXPECT(p.struct_size == sizeof p && p.scheme == SN_TENSOR_INIT_KAIMING_NORMAL && p.mode == SN_FAN_IN &&
               p.nonlinearity == SN_NONLINEARITY_LEAKY_RELU && p.a == 0 && p.gain == 1 && p.low == 0 &&
               p.high == 1 && p.mean == 0 && p.std == 1 && p.value == 0 && p.seed == 0,
           "torch's defaults");
    EXPECT_STATUS(sn_tensor_init_default(8, &p), SN_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(sn_last_error(), "scheme") != NULL, "names the scheme: %s", sn_last_error());
    EXPECT_STATUS(sn_tensor_init_default(SN_TENSOR_INIT_NORMAL, NULL), SN_ERR_INVALID_ARGUMENT);
    p.struct_size = 3;
    EXPECT_STATUS(sn_tensor_init_default(SN_TENSOR_INIT_NORMAL, &p), SN_ERR_INVALID_ARGUMENT);

    /* Linear 16 → 8 (weight (8, 16), bias (8)), then BatchNorm1d (with its batch counter). */
    sn_model *m = NULL;
    OK(sn_model_create(1, 4, 4, &m));
    OK(sn_model_add_linear(m, 8, 1, SN_INIT_KAIMING, 3));
    OK(sn_model_add_batchnorm1d(m, 0.1f, 1e-5f));
    float w[136], again[128], before[136];

    /* Same seed, same values; another seed, others. */
    p = tensor_init(SN_TENSOR_INIT_KAIMING_NORMAL);
    p.seed = 42;
    OK(sn_model_init_tensor(m, "0.weight", &p));
    OK(sn_model_get_tensor(m, "0.weight", w, 128));
    OK(sn_model_init_tensor(m, "0.weight", &p));
    OK(sn_model_get_tensor(m, "0.weight", again, 128));
    EXPECT(same_floats(w, again, 128), "same seed, same values");
    p.seed = 43;
    OK(sn_model_init_tensor(m, "0.weight", &p));
    OK(sn_model_get_tensor(m, "0.weight", again, 128));
    EXPECT(!same_floats(w, again, 128), "another seed, other values");

    /* Xavier uniform with gain 2 stays within 2·sqrt(6 / (16 + 8)) = 1; fan_out Kaiming uniform with
     * tanh within 5/3·sqrt(3 / 8). */
    p = tensor_init(SN_TENSOR_INIT_XAVIER_UNIFORM);
    p.gain = 2;
    OK(sn_model_init_tensor(m, "0.weight", &p));
    OK(sn_model_get_tensor(m, "0.weight", w, 128));
    float largest = 0;
    for (int i = 0; i < 128; i++) largest = fabsf(w[i]) > largest ? fabsf(w[i]) : largest;
    EXPECT(largest <= 1.0f && largest > 0.8f, "xavier_uniform bound 1: largest %g", largest);
    p = tensor_init(SN_TENSOR_INIT_KAIMING_UNIFORM);
    p.mode = SN_FAN_OUT;
    p.nonlinearity = SN_NONLINEARITY_TANH;
    OK(sn_model_init_tensor(m, "0.weight", &p));
    OK(sn_model_get_tensor(m, "0.weight", w, 128));
    largest = 0;
    for (int i = 0; i < 128; i++) largest = fabsf(w[i]) > largest ? fabsf(w[i]) : largest;
    double bound = 5.0 / 3 * sqrt(3.0 / 8);
    EXPECT(largest <= bound && largest > 0.8 * bound, "kaiming_uniform fan_out tanh: largest %g of %g", largest, bound);

    /* Uniform, normal and constant work on 1-D tensors too; the counter takes whole numbers. */
    p = tensor_init(SN_TENSOR_INIT_UNIFORM);
    p.low = -0.5f;
    p.high = -0.25f;
    OK(sn_model_init_tensor(m, "0.bias", &p));
    OK(sn_model_get_tensor(m, "0.bias", w, 8));
    int inside = 1;
    for (int i = 0; i < 8; i++) inside &= w[i] >= -0.5f && w[i] <= -0.25f;
    EXPECT(inside, "uniform_(-0.5, -0.25)");
    p = tensor_init(SN_TENSOR_INIT_CONSTANT);
    p.value = 3;
    OK(sn_model_init_tensor(m, "1.num_batches_tracked", &p));
    OK(sn_model_get_tensor(m, "1.num_batches_tracked", w, 1));
    EXPECT(w[0] == 3, "num_batches_tracked = %g", w[0]);
    p.value = 2.5f;
    EXPECT_STATUS(sn_model_init_tensor(m, "1.num_batches_tracked", &p), SN_ERR_INVALID_ARGUMENT);
    OK(sn_model_get_tensor(m, "1.num_batches_tracked", w, 1));
    EXPECT(w[0] == 3, "the counter is unchanged: %g", w[0]);
    p.value = 0.5f;
    OK(sn_model_init_tensor(m, "1.running_var", &p));
    OK(sn_model_get_tensor(m, "1.running_var", w, 8));
    EXPECT(w[0] == 0.5f && w[7] == 0.5f, "constant_ on a buffer");

    /* Failures: status, a message naming the problem, the tensor unchanged. */
    OK(sn_model_get_tensor(m, "0.weight", before, 128));
    OK(sn_model_get_tensor(m, "0.bias", before + 128, 8));
    struct {
        const char *name;
        int32_t scheme;
        int field; /* 0 scheme, 1 mode, 2 nonlinearity, 3 a, 4 gain, 5 low > high, 6 std, 7 mean, 8 value, 9 struct_size */
        float value;
        sn_status want;
        const char *says;
    } cases[] = {
        {"9.weight", SN_TENSOR_INIT_NORMAL, -1, 0, SN_ERR_NOT_FOUND, "9.weight"},
        {"0.bias", SN_TENSOR_INIT_KAIMING_NORMAL, -1, 0, SN_ERR_INVALID_ARGUMENT, "2 dimensions"},
        {"0.bias", SN_TENSOR_INIT_XAVIER_UNIFORM, -1, 0, SN_ERR_INVALID_ARGUMENT, "2 dimensions"},
        {"0.bias", SN_TENSOR_INIT_ORTHOGONAL, -1, 0, SN_ERR_INVALID_ARGUMENT, "2 or more dimensions"},
        {"0.weight", SN_TENSOR_INIT_NORMAL, 0, 8, SN_ERR_INVALID_ARGUMENT, "scheme"},
        {"0.weight", SN_TENSOR_INIT_NORMAL, 0, -1, SN_ERR_INVALID_ARGUMENT, "scheme"},
        {"0.weight", SN_TENSOR_INIT_KAIMING_NORMAL, 1, 2, SN_ERR_INVALID_ARGUMENT, "mode"},
        {"0.weight", SN_TENSOR_INIT_KAIMING_UNIFORM, 2, 6, SN_ERR_INVALID_ARGUMENT, "nonlinearity"},
        {"0.weight", SN_TENSOR_INIT_KAIMING_UNIFORM, 3, NAN, SN_ERR_INVALID_ARGUMENT, "a (the negative slope)"},
        {"0.weight", SN_TENSOR_INIT_XAVIER_NORMAL, 4, -1, SN_ERR_INVALID_ARGUMENT, "gain"},
        {"0.weight", SN_TENSOR_INIT_ORTHOGONAL, 4, INFINITY, SN_ERR_INVALID_ARGUMENT, "gain"},
        {"0.weight", SN_TENSOR_INIT_UNIFORM, 5, 0, SN_ERR_INVALID_ARGUMENT, "low"},
        {"0.weight", SN_TENSOR_INIT_NORMAL, 6, -0.1f, SN_ERR_INVALID_ARGUMENT, "std"},
        {"0.weight", SN_TENSOR_INIT_NORMAL, 6, 3e38f, SN_ERR_INVALID_ARGUMENT, "range"},
        {"0.weight", SN_TENSOR_INIT_NORMAL, 7, NAN, SN_ERR_INVALID_ARGUMENT, "mean"},
        {"0.weight", SN_TENSOR_INIT_CONSTANT, 8, INFINITY, SN_ERR_INVALID_ARGUMENT, "value"},
        {"0.weight", SN_TENSOR_INIT_CONSTANT, 9, 0, SN_ERR_INVALID_ARGUMENT, "struct_size"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        p = tensor_init(cases[c].scheme);
        switch (cases[c].field) {
        case 0: p.scheme = (int32_t)cases[c].value; break;
        case 1: p.mode = (int32_t)cases[c].value; break;
        case 2: p.nonlinearity = (int32_t)cases[c].value; break;
        case 3: p.a = cases[c].value; break;
        case 4: p.gain = cases[c].value; break;
        case 5: p.low = 1; p.high = 0; break;
        case 6: p.std = cases[c].value; break;
        case 7: p.mean = cases[c].value; break;
        case 8: p.value = cases[c].value; break;
        case 9: p.struct_size = sizeof p + 8; break;
        }
        EXPECT_STATUS(sn_model_init_tensor(m, cases[c].name, &p), cases[c].want);
        EXPECT(strstr(sn_last_error(), cases[c].says) != NULL, "case %zu names '%s': %s", c, cases[c].says,
               sn_last_error());
        OK(sn_model_get_tensor(m, "0.weight", w, 128));
        OK(sn_model_get_tensor(m, "0.bias", w + 128, 8));
        EXPECT(same_floats(w, before, 136), "case %zu left the tensors unchanged", c);
    }
    EXPECT_STATUS(sn_model_init_tensor(m, "0.weight", NULL), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_init_tensor(NULL, "0.weight", &p), SN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(sn_model_init_tensor(m, NULL, &p), SN_ERR_INVALID_ARGUMENT);
    sn_model_free(m);
}

int main(void) {
    test_struct_sizes();
    test_optimizer_options();
    test_clipping();
    test_schedules();
    test_train_options_of_every_size();
    test_fit_schedules();
    test_initialisations();
    test_tensor_init();
    printf("C optimizer tests: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
