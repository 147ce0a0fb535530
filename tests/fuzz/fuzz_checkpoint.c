/*
 * fuzz_checkpoint.c — the safetensors checkpoint reader on arbitrary bytes: the 8-byte header
 * length, the JSON header, the tensor table, the metadata (architecture, preprocessing, class
 * names) and the tensor data, through sn_model_load_from_buffer; for one input in eight (by its
 * last byte: reading a file is slow under ASan) the same bytes as a file through
 * sn_checkpoint_metadata. A model that loads is put to work (fuzz_use_model).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    sn_model *model = NULL;
    /* sn_model_load_from_buffer refuses NULL bytes; an empty input still has a pointer. */
    static const uint8_t empty[1];
    if (FUZZ_CALL(sn_model_load_from_buffer(size ? data : empty, size, &model)) == SN_OK) {
        fuzz_use_model(model);
        sn_model_free(model);
    }
    if (size > 0 && data[size - 1] % 8 != 0) return 0;
    const char *path = fuzz_write_file("checkpoint.safetensors", data, size);
    char value[256];
    size_t length = 0;
    FUZZ_CALL(sn_checkpoint_metadata(path, "smallnet.architecture", value, sizeof value, &length));
    FUZZ_CALL(sn_checkpoint_metadata(path, "smallnet.class_names", value, 1, NULL));
    return 0;
}
