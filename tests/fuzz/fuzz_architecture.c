/*
 * fuzz_architecture.c — architecture specs ("smallnet.architecture") that load all the way:
 * the input is an architecture JSON text, a NUL, then the tensor members of the header (as
 * in a real checkpoint: "0.weight":{"dtype":…,"shape":…,"data_offsets":[…]},…). The harness
 * escapes the architecture into the metadata and sizes the zero-filled data section to the
 * largest data_offsets end it finds, so mutations of layer settings and shapes that stay
 * consistent reach model construction, a forward pass and a checkpoint round trip.
 */
#include "fuzz_common.h"

/* The largest integer that follows "data_offsets" anywhere in the text (0 if none), capped. */
static size_t data_size(const uint8_t *text, size_t size) {
    size_t best = 0;
    static const char key[] = "data_offsets";
    for (size_t i = 0; i + sizeof key - 1 <= size; i++) {
        if (memcmp(text + i, key, sizeof key - 1) != 0) continue;
        size_t j = i + sizeof key - 1, value = 0;
        int in_number = 0, numbers = 0;
        for (; j < size && numbers < 2 && text[j] != '}'; j++) {
            if (text[j] >= '0' && text[j] <= '9') {
                value = value * 10 + (size_t)(text[j] - '0');
                if (value > (1u << 20)) value = 1u << 20;
                in_number = 1;
            } else if (in_number) {
                if (value > best) best = value;
                value = 0;
                in_number = 0;
                numbers++;
            }
        }
        if (in_number && value > best) best = value;
    }
    return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    const uint8_t *nul = memchr(data, 0, size);
    size_t arch = nul ? (size_t)(nul - data) : size;
    const uint8_t *tensors = nul ? nul + 1 : data + size;
    size_t tensors_size = nul ? size - arch - 1 : 0;

    fuzz_buffer header = {0}, file = {0};
    fuzz_append_str(&header, "{\"__metadata__\":{\"smallnet.architecture\":\"");
    fuzz_append_escaped(&header, data, arch);
    fuzz_append_str(&header, "\"}");
    if (tensors_size) {
        fuzz_append_str(&header, ",");
        fuzz_append(&header, tensors, tensors_size);
    }
    fuzz_append_str(&header, "}");
    fuzz_checkpoint(&file, header.data, header.size, data_size(tensors, tensors_size));
    sn_model *model = NULL;
    if (FUZZ_CALL(sn_model_load_from_buffer(file.data, file.size, &model)) == SN_OK) {
        fuzz_use_model(model);
        sn_model_free(model);
    }
    free(header.data);
    free(file.data);
    return 0;
}
