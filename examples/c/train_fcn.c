/*
 * train_fcn.c — train the 100K-parameter FCN on FashionMNIST through the C API, evaluate it
 * and save a checkpoint.
 *
 *   cc train_fcn.c $(pkg-config --cflags --libs smallnet) -o train_fcn
 *   ./train_fcn [epochs] [checkpoint.safetensors]
 *
 * With the defaults it runs exactly what `smallnet train --arch fcn --params 100000` runs.
 * SMOKE=1 in the environment trains one epoch on 5,000 images.
 */
#include <smallnet.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                      \
    do {                                                                                 \
        sn_status status_ = (call);                                                      \
        if (status_ != SN_OK) {                                                          \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, sn_last_error(),              \
                    sn_status_string(status_));                                          \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

/* Prints one line per finished epoch. */
static int on_progress(const sn_progress *p, void *user) {
    (void)user;
    if (p->epoch_end)
        printf("  epoch %2d/%d  train loss %.4f  train acc %.2f %%  test acc %.2f %%  %.1f s\n", p->epoch,
               p->epochs, p->train_loss, 100 * p->train_accuracy, 100 * p->eval_accuracy, p->epoch_seconds);
    return 0;
}

int main(int argc, char **argv) {
    if (sn_abi_version() != SN_ABI_VERSION) {
        fprintf(stderr, "libsmallnet ABI %u, this program was built for %d\n", sn_abi_version(), SN_ABI_VERSION);
        return 1;
    }
    const char *checkpoint = argc > 2 ? argv[2] : "fcn100k.safetensors";
    int smoke = getenv("SMOKE") && getenv("SMOKE")[0] == '1';

    sn_dataset *train = NULL, *test = NULL;
    CHECK(sn_dataset_load_fashion_mnist(NULL, 1, 1, &train));
    CHECK(sn_dataset_load_fashion_mnist(NULL, 0, 1, &test));
    if (smoke) {
        sn_dataset *part = NULL;
        CHECK(sn_dataset_subset(train, 0, 5000, &part));
        sn_dataset_free(train);
        train = part;
    }

    sn_fcn_params fcn;
    CHECK(sn_fcn_params_default(&fcn));
    fcn.param_budget = 100000;
    sn_model *model = NULL;
    CHECK(sn_model_create_fcn(&fcn, &model));
    int64_t n_params = 0;
    CHECK(sn_model_n_params(model, &n_params));
    printf("smallnet %s: FCN with %lld parameters\n", sn_version_string(), (long long)n_params);

    /* The recipe's optimizer and training settings: the CLI's defaults for an FCN. */
    sn_optimizer_params opt;
    CHECK(sn_recipe_optimizer_params(SN_ARCH_FCN, &opt));
    sn_optimizer *optimizer = NULL;
    CHECK(sn_optimizer_create(model, &opt, &optimizer));

    sn_train_params params;
    CHECK(sn_recipe_train_params(SN_ARCH_FCN, &params));
    if (argc > 1) params.epochs = atoi(argv[1]);
    if (smoke) params.epochs = 1;
    params.validation = test;
    CHECK(sn_fit(model, optimizer, train, &params, on_progress, NULL, NULL, 0, NULL));

    float loss = 0, accuracy = 0;
    CHECK(sn_evaluate(model, test, &loss, &accuracy, NULL, 0));
    printf("test accuracy %.2f %%, test loss %.4f\n", 100 * accuracy, loss);
    CHECK(sn_model_save(model, checkpoint, "{\"example\": \"train_fcn.c\"}"));
    printf("saved %s\n", checkpoint);

    sn_optimizer_free(optimizer);
    sn_model_free(model);
    sn_dataset_free(train);
    sn_dataset_free(test);
    return 0;
}
