/*
 * fuzz_json.c — the JSON parser on arbitrary bytes, reached three ways through the C API:
 *  1. the bytes are a checkpoint's whole JSON header (the harness writes the length prefix;
 *     bytes after a NUL, which JSON text cannot hold, become the data section);
 *  2. the bytes are the text of "smallnet.architecture" in an otherwise well-formed header;
 *  3. the bytes are the text of "smallnet.preprocessing", then of "smallnet.class_names", in
 *     an otherwise valid checkpoint of a tiny model.
 */
#include "fuzz_common.h"

/* A valid checkpoint of Flatten → Linear(2 → 2): 1×1×2 inputs, 6 zero floats. */
static const char tiny_architecture[] =
    "{\"input\":[1,1,2],\"layers\":[{\"kind\":\"flatten\"},{\"kind\":\"linear\",\"in\":2,\"out\":2,\"bias\":true}]}";
static const char tiny_tensors[] =
    "\"1.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}";

static void load(const fuzz_buffer *file) {
    sn_model *model = NULL;
    if (FUZZ_CALL(sn_model_load_from_buffer(file->data, file->size, &model)) == SN_OK) {
        fuzz_use_model(model);
        sn_model_free(model);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    fuzz_buffer header = {0}, file = {0};

    /* 1. The whole header. */
    const uint8_t *nul = memchr(data, 0, size);
    size_t json = nul ? (size_t)(nul - data) : size;
    fuzz_checkpoint(&file, data, json, 0);
    if (nul) fuzz_append(&file, nul + 1, size - json - 1);
    load(&file);

    /* 2. The architecture, with room for 4 KB of state (the load then fails on the tensor table,
     *    after the architecture is built). */
    header.size = 0;
    fuzz_append_str(&header, "{\"__metadata__\":{\"smallnet.architecture\":\"");
    fuzz_append_escaped(&header, data, size);
    fuzz_append_str(&header, "\"}}");
    fuzz_checkpoint(&file, header.data, header.size, 4096);
    load(&file);

    /* 3. Preprocessing and class names of a valid checkpoint. */
    for (int key = 0; key < 2; key++) {
        header.size = 0;
        fuzz_append_str(&header, "{\"__metadata__\":{\"smallnet.architecture\":\"");
        fuzz_append_escaped(&header, (const uint8_t *)tiny_architecture, strlen(tiny_architecture));
        fuzz_append_str(&header, key == 0 ? "\",\"smallnet.preprocessing\":\"" : "\",\"smallnet.class_names\":\"");
        fuzz_append_escaped(&header, data, size);
        fuzz_append_str(&header, "\"},");
        fuzz_append_str(&header, tiny_tensors);
        fuzz_append_str(&header, "}");
        fuzz_checkpoint(&file, header.data, header.size, 24);
        load(&file);
    }
    free(header.data);
    free(file.data);
    return 0;
}
