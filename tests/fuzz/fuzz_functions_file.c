/*
 * fuzz_functions_file.c - the functions file parser of `faas serve` (tools/
 * functions_file.c) on any bytes, then registration of what it accepted on a manual-mode
 * runtime (which loads nothing: min_warm is cleared so that no instance is made, and an
 * ffi function is taken from the process, never from a file the input names). Checked:
 * the count of errors, that each names its file, and that a clean parse registers or
 * says why not.
 */
#include "../../tools/functions_file.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ff_file f;
    int rc = ff_parse((const char *)data, size, "fuzz.ini", NULL, &f);
    if (rc < 0 || (size_t)rc != f.nerrors)
        abort();
    for (size_t i = 0; i < f.nerrors; i++)
        if (strncmp(f.errors[i], "fuzz.ini", 8) != 0)
            abort();
    if (rc == 0) {
        if (f.n == 0)
            abort();                    /* an empty file is an error */
        faas_options o = { .manual = 1 };
        faas_runtime *rt;
        if (faas_runtime_new(&rt, &o) != FAAS_OK)
            abort();
        for (size_t i = 0; i < f.n; i++) {
            f.fns[i].cfg.min_warm = 0;
            if (f.fns[i].ffi != NULL) {
                free(f.fns[i].module);
                f.fns[i].module = NULL;
            }
        }
        size_t before = f.nerrors;
        int failed = ff_register(rt, &f, "fuzz.ini");
        if (f.nerrors != before + (size_t)failed)
            abort();
        faas_runtime_free(rt);
    }
    ff_free(&f);
    return 0;
}
