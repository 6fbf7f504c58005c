/*
 * bench_publish.c - publishing a process function (faas_publish_version: its task root
 * measured, copied read-only into a private directory and hashed, process_code.c) against
 * `cp -a` of the same tree, side by side in one run, for three trees: AWS's tutorial
 * runtime (2 small files), 1,000 files of 10 KB in 20 directories (a small node_modules)
 * and 20 files of 2 MB; and the digest alone (faas_update_status's CodeSha256 of $LATEST,
 * what GetFunction pays) against `sha256sum` of the same files (find | xargs). The floors
 * are processes: they include a spawn (~1-2 ms here). Medians of N (default 10) runs.
 * Usage: bench_publish [N]
 */
#include "bench.h"

#include <faas.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
    fprintf(stderr, "bench_publish: %s: %s\n", what, faas_last_error());
    exit(1);
}

static void write_file(const char *path, size_t size, unsigned seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    char buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)('a' + (i * 7 + seed) % 26);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        if (write(fd, buf, n) != (ssize_t)n) {
            perror(path);
            exit(1);
        }
        done += n;
    }
    close(fd);
}

/* root/d00..d(dirs-1)/f000.. : files files of size bytes in all. */
static void make_tree(const char *root, unsigned dirs, unsigned files, size_t size)
{
    char path[4200];
    for (unsigned d = 0; d < dirs; d++) {
        snprintf(path, sizeof path, "%s/d%02u", root, d);
        mkdir(path, 0755);
    }
    for (unsigned i = 0; i < files; i++) {
        snprintf(path, sizeof path, "%s/d%02u/f%03u.js", root, i % dirs, i);
        write_file(path, size, i);
    }
}

/* Run argv and wait: its wall time in ns. */
static uint64_t run(char *const argv[])
{
    pid_t pid;
    uint64_t t0 = bench_now_ns();
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0) {
        perror(argv[0]);
        exit(1);
    }
    int st;
    waitpid(pid, &st, 0);
    uint64_t t = bench_now_ns() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_publish: %s failed\n", argv[0]);
        exit(1);
    }
    return t;
}

typedef struct row {
    const char *name;
    double publish_us, cp_us, digest_us, cat_us;
} row;

static void bench_tree(faas_runtime *rt, const char *name, const char *root, unsigned n,
                       row *out)
{
    double *pub = calloc(n, sizeof *pub), *cp = calloc(n, sizeof *cp);
    double *dig = calloc(n, sizeof *dig), *cat = calloc(n, sizeof *cat);
    char dst[4200];
    snprintf(dst, sizeof dst, "%s.copy", root);
    const char *argv[] = { "/bin/true", NULL };
    for (unsigned i = 0; i < n; i++) {
        faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
        pc.command = "/bin/true";
        pc.argv = argv;
        pc.cwd = root;
        if (faas_register_process(rt, "pub", &pc, NULL) != FAAS_OK)
            die("faas_register_process");
        uint32_t v;
        uint64_t t0 = bench_now_ns();
        if (faas_publish_version(rt, "pub", NULL, &v) != FAAS_OK)
            die("faas_publish_version");
        pub[i] = (double)(bench_now_ns() - t0) / 1e3;
        faas_update_info ui;
        t0 = bench_now_ns();
        if (faas_update_status(rt, "pub", &ui) != FAAS_OK || ui.code_sha256[0] == '\0')
            die("faas_update_status");
        dig[i] = (double)(bench_now_ns() - t0) / 1e3;
        if (faas_unregister(rt, "pub") != FAAS_OK)      /* its copy goes with it */
            die("faas_unregister");
        char *cpv[] = { "cp", "-a", (char *)root, dst, NULL };
        cp[i] = (double)run(cpv) / 1e3;
        char *rmv[] = { "rm", "-rf", dst, NULL };
        run(rmv);
        /* reading and hashing the same files: find | xargs sha256sum */
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "find '%s' -type f -print0 | xargs -0 sha256sum > /dev/null",
                 root);
        char *shv[] = { "sh", "-c", cmd, NULL };
        cat[i] = (double)run(shv) / 1e3;
    }
    out->name = name;
    out->publish_us = bench_median(pub, n);
    out->cp_us = bench_median(cp, n);
    out->digest_us = bench_median(dig, n);
    out->cat_us = bench_median(cat, n);
    free(pub);
    free(cp);
    free(dig);
    free(cat);
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)bench_parse_count(argv[0], argv[1], "runs") : 10;
    const char *tmp = getenv("TMPDIR");
    char base[4096];
    snprintf(base, sizeof base, "%s/faas-bench-publish-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    faas_runtime *rt;
    if (faas_runtime_new(&rt, NULL) != FAAS_OK)
        die("faas_runtime_new");
    char small[4200], mid[4200], big[4200], path[4300];
    snprintf(small, sizeof small, "%s/tutorial", base);
    snprintf(mid, sizeof mid, "%s/files1000", base);
    snprintf(big, sizeof big, "%s/files20x2M", base);
    mkdir(small, 0755);
    mkdir(mid, 0755);
    mkdir(big, 0755);
    snprintf(path, sizeof path, "%s/bootstrap", small);
    write_file(path, 725, 1);                   /* the tutorial's sizes */
    snprintf(path, sizeof path, "%s/function.sh", small);
    write_file(path, 135, 2);
    make_tree(mid, 20, 1000, 10240);
    make_tree(big, 1, 20, 2u << 20);
    row rows[3];
    bench_tree(rt, "tutorial (2 files, 860 B)", small, n, &rows[0]);
    bench_tree(rt, "1,000 files x 10 KB, 20 dirs", mid, n, &rows[1]);
    bench_tree(rt, "20 files x 2 MB", big, n, &rows[2]);
    faas_runtime_free(rt);
    printf("medians of %u runs, in us\n", n);
    printf("%-30s %10s %10s %10s %14s %10s %10s\n", "tree", "publish", "cp -a",
           "sha256sum", "publish/(cp+sha)", "digest", "digest/sha");
    for (int i = 0; i < 3; i++)
        printf("%-30s %10.0f %10.0f %10.0f %13.2fx %10.0f %9.2fx\n", rows[i].name,
               rows[i].publish_us, rows[i].cp_us, rows[i].cat_us,
               rows[i].publish_us / (rows[i].cp_us + rows[i].cat_us), rows[i].digest_us,
               rows[i].digest_us / rows[i].cat_us);
    char *rmv[] = { "rm", "-rf", base, NULL };
    run(rmv);
    return 0;
}
