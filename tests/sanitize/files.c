/*
 * files.c — checkpoint saves where the library reads a directory, written for the sanitizers:
 * before each save, sn_model_save scans the target's folder for temporary files that killed
 * writers left, so the scan must be exact for any folder.
 *
 *   1. a save into a folder of 2,000 entries: the listing spans several of readdir's buffers,
 *      so entries sit at the very end of one (where a read past the entry leaves the buffer)
 *   2. the temporary file of a dead writer is removed by the next save; a live writer's is kept
 *
 * Usage: files [DIR]   (DIR: an empty folder to work in; default: a new temp dir, removed after)
 */
#include <smallnet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed = 0, failed = 0;

#define EXPECT(cond, ...)                                                          \
    do {                                                                           \
        if (cond) {                                                                \
            passed++;                                                              \
        } else {                                                                   \
            failed++;                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                   \
            fprintf(stderr, __VA_ARGS__);                                          \
            fprintf(stderr, "\n");                                                 \
        }                                                                          \
    } while (0)

#define OK(call)                                                                                   \
    do {                                                                                           \
        sn_status s_ = (call);                                                                     \
        EXPECT(s_ == SN_OK, "%s returned %d (%s)", #call, s_, sn_last_error());                    \
    } while (0)

static int touch(const char *path) {
    FILE *f = fopen(path, "w");
    return f && fclose(f) == 0;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* The id of a process that has exited and been reaped. */
static pid_t dead_pid(void) {
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    return child;
}

int main(int argc, char **argv) {
    char temp[] = "/tmp/smallnet-files-XXXXXX", path[700], other[700];
    const char *dir = argc > 1 ? argv[1] : mkdtemp(temp);
    if (!dir) return 2;
    sn_model *model = NULL;
    OK(sn_model_create(1, 4, 4, &model));
    OK(sn_model_add_flatten(model));
    OK(sn_model_add_linear(model, 3, 1, SN_INIT_KAIMING, 1));

    /* 1. A crowded folder: names of 1 to 11 characters, so entries end at varying offsets. */
    enum { ENTRIES = 2000 };
    int made = 0;
    for (int i = 0; i < ENTRIES; i++) {
        snprintf(path, sizeof path, "%s/%.*s%d", dir, i % 8, "xxxxxxxx", i);
        made += touch(path);
    }
    EXPECT(made == ENTRIES, "made %d of %d entries", made, ENTRIES);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    for (int r = 0; r < 3; r++) OK(sn_model_save(model, path, NULL));
    sn_model *loaded = NULL;
    OK(sn_model_load(path, &loaded));
    int64_t n = 0;
    OK(sn_model_n_params(loaded, &n));
    EXPECT(n == 16 * 3 + 3, "the checkpoint saved among %d files has %lld parameters", ENTRIES, (long long)n);
    sn_model_free(loaded);
    printf("1. saved 3 times into a folder of %d entries and loaded back\n", ENTRIES);

    /* 2. Temporaries: a dead writer's is removed by the next save, a live writer's is kept. */
    snprintf(path, sizeof path, "%s/.model.safetensors.tmp-%d-1", dir, (int)dead_pid());
    snprintf(other, sizeof other, "%s/.model.safetensors.tmp-%d-1", dir, (int)getppid());
    EXPECT(touch(path) && touch(other), "temporary files made");
    char target[700];
    snprintf(target, sizeof target, "%s/model.safetensors", dir);
    OK(sn_model_save(model, target, NULL));
    EXPECT(!exists(path), "the dead writer's temporary %s is left", path);
    EXPECT(exists(other), "the live writer's temporary %s was removed", other);
    printf("2. a dead writer's temporary removed, a live writer's kept\n");

    sn_model_free(model);
    if (argc <= 1) {
        char command[800];
        snprintf(command, sizeof command, "rm -rf '%s'", dir);
        if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    printf("files: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
