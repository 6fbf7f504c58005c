/* triggers_replay.c - runs a libFuzzer target's LLVMFuzzerTestOneInput on each file named on
 * the command line, without libFuzzer, speaking TAP: make check replays the seed corpus
 * this way (under the sanitizers in CI), so the targets build and pass between fuzz runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    printf("1..%d\n", argc - 1);
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        static uint8_t buf[1 << 20];
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f == NULL) {
            printf("not ok %d - %s: cannot open\n", i, argv[i]);
            failed = 1;
            continue;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);      /* a failure aborts, which the harness sees */
        printf("ok %d - %s\n", i, argv[i]);
    }
    return failed;
}
