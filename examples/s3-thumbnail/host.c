/* host.c - runs the thumbnail module on a watched uploads/ directory, the way S3 runs a
 * Lambda function on a bucket: every complete file that lands in DIR/uploads becomes an S3
 * ObjectCreated:Put event, and the function writes DIR/processed/NAME.png.
 *
 *   s3-thumbnail MODULE [DIR]              watch until Ctrl-C (DIR: the current directory)
 *   s3-thumbnail --once MODULE DIR FILE... copy each FILE into DIR/uploads, process, exit
 *
 * MODULE is the built thumbnail.so. --once runs in manual mode, on this thread: it exits 0
 * when every thumbnail was made. */
#include <faas.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

static void print_line(const char *line, void *arg)
{
    (void)arg;
    printf("%s\n", line);
    fflush(stdout);
}

static void count_failures(const faas_record *rec, void *arg)
{
    (void)arg;
    if (rec->status != FAAS_OK)
        failures++;            /* --once: one thread, no lock needed */
}

/* Copy src into uploads/ under its base name: written, then closed, so announced once. */
static int upload(const char *src)
{
    FILE *in = fopen(src, "rb");
    if (in == NULL) {
        fprintf(stderr, "%s: %s\n", src, strerror(errno));
        return -1;
    }
    const char *base = strrchr(src, '/');
    char dst[4096];
    snprintf(dst, sizeof dst, "uploads/%s", base ? base + 1 : src);
    FILE *out = fopen(dst, "wb");
    if (out == NULL) {
        fprintf(stderr, "%s: %s\n", dst, strerror(errno));
        fclose(in);
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int once = argc > 1 && strcmp(argv[1], "--once") == 0;
    if (argc < 2 + once || (once && argc < 5)) {
        fprintf(stderr, "usage: %s MODULE [DIR]\n       %s --once MODULE DIR FILE...\n",
                argv[0], argv[0]);
        return 2;
    }
    char module[4096];
    if (realpath(argv[1 + once], module) == NULL) {
        fprintf(stderr, "%s: %s\n", argv[1 + once], strerror(errno));
        return 1;
    }
    const char *dir = argc > 2 + once ? argv[2 + once] : ".";
    char inputs[64][4096];
    int ninputs = once ? argc - 4 : 0;
    if (ninputs > 64)
        ninputs = 64;
    for (int i = 0; i < ninputs; i++)                  /* before chdir: they may be relative */
        if (realpath(argv[4 + i], inputs[i]) == NULL) {
            fprintf(stderr, "%s: %s\n", argv[4 + i], strerror(errno));
            return 1;
        }
    mkdir(dir, 0755);                  /* if need be */
    if (chdir(dir) != 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 1;
    }
    mkdir("uploads", 0755);            /* the buckets: directories of the current one */
    mkdir("processed", 0755);

    /* Ctrl-C is waited for with sigwait: block it before libfaas starts its threads. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    faas_options opts = FAAS_OPTIONS_INIT;
    opts.manual = once;
    opts.log = print_line;             /* START, the function's own lines, END, REPORT */
    faas_runtime *rt;
    if (faas_runtime_new(&rt, &opts) != FAAS_OK) {
        fprintf(stderr, "faas_runtime_new: %s\n", faas_last_error());
        return 1;
    }
    faas_on_record(rt, count_failures, NULL);
    faas_config cfg;
    faas_config_init(&cfg);
    cfg.max_retries = 0;               /* a file that is not an image stays one */
    faas_watch_options wopts = { .size = sizeof(faas_watch_options), .recursive = 1 };
    faas_trigger_id id;
    if (faas_register_module(rt, "thumbnail", module, "thumbnail", &cfg) != FAAS_OK ||
        faas_watch(rt, "thumbnail", "uploads", &wopts, &id) != FAAS_OK) {
        fprintf(stderr, "%s\n", faas_last_error());
        faas_runtime_free(rt);
        return 1;
    }
    int rc = 0;
    if (once) {
        for (int i = 0; i < ninputs; i++)
            if (upload(inputs[i]) != 0)
                rc = 1;
        /* The watch's events become calls and run, here; then nothing is pending. */
        if (faas_drain(rt, 60000) != FAAS_OK) {
            fprintf(stderr, "%s\n", faas_last_error());
            rc = 1;
        }
        if (failures > 0)
            rc = 1;
    } else {
        printf("watching %s/uploads (Ctrl-C stops)\n", dir);
        fflush(stdout);
        int sig;
        sigwait(&stop, &sig);
    }
    faas_unwatch(rt, id);
    faas_runtime_free(rt);
    return rc;
}
