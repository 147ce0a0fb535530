/*
 * unsupported_cpu.c — the library where no kernel variant can run: under a CPU below its
 * baseline (qemu-x86_64 -cpu core2duo), or with SMALLNET_ISA naming a variant this CPU lacks.
 * Every call that returns a status fails with SN_ERR_UNSUPPORTED_CPU and says why, the calls
 * that return values still answer, and nothing dies of an illegal instruction.
 */
#include "../c/check.h"

#include <stdlib.h>

int main(void) {
    const char *isa = sn_isa();
    EXPECT(strcmp(isa, "none") == 0, "sn_isa() = %s, expected none", isa);
    char reason[512];
    snprintf(reason, sizeof reason, "%s", sn_last_error());
    EXPECT(strlen(reason) > 0, "sn_isa() left no reason");
    printf("isa: %s (%s)\n", isa, reason);

    sn_model *model = NULL;
    EXPECT_STATUS(sn_model_create(1, 28, 28, &model), SN_ERR_UNSUPPORTED_CPU);
    EXPECT(model == NULL, "no model made");
    EXPECT(strcmp(sn_last_error(), reason) == 0, "the same reason: %s", sn_last_error());
    sn_dataset *data = NULL;
    EXPECT_STATUS(sn_dataset_load_fashion_mnist(NULL, 1, 1, &data), SN_ERR_UNSUPPORTED_CPU);
    EXPECT_STATUS(sn_set_num_threads(1), SN_ERR_UNSUPPORTED_CPU);
    sn_train_params params;
    params.struct_size = sizeof params;
    EXPECT_STATUS(sn_train_params_default(&params), SN_ERR_UNSUPPORTED_CPU);

    EXPECT(sn_abi_version() == SN_ABI_VERSION, "ABI %u", sn_abi_version());
    EXPECT(strlen(sn_version_string()) > 0, "a version");
    EXPECT(strcmp(sn_status_string(SN_ERR_UNSUPPORTED_CPU), "unsupported CPU") == 0, "status string");
    EXPECT(sn_get_num_threads() == 1, "threads %d", sn_get_num_threads());
    sn_model_free(NULL);
    sn_dataset_free(NULL);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
