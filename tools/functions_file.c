/*
 * functions_file.c - the functions file of `faas serve`: a line-by-line INI reader that
 * reports every error with its line, and a table of keys (one entry per configuration
 * field: adding a key is adding an entry). It only reads text and calls the public API;
 * it never loads a module itself.
 */
#include "functions_file.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_MAX (16u << 20)        /* a functions file larger than this is refused */

/* ---- errors ------------------------------------------------------------------------------- */

/* The sections by name: open addressing over indexes into out->fns, so that finding a
 * duplicate or a dead_letter costs the same with 10 sections as with 100,000 (a linear
 * search made --check quadratic: 95,000 sections took 21 s). */
typedef struct name_index {
    size_t *slot;                   /* index + 1 into out->fns; 0 = empty */
    size_t  cap;                    /* a power of two, at least twice the entries */
} name_index;

typedef struct parser {
    ff_file    *out;
    const char *name;               /* the file, in messages */
    const char *dir;                /* relative module paths are resolved here */
    unsigned    line;
    bool        oom;
    name_index  index;
    size_t      budget;             /* 1 + the index in out->budgets of the [budget TAG]
                                       section being read; 0: none */
    size_t      version, alias;     /* the same for [version NAME:N] and [alias NAME:A] */
    size_t      env;                /* 1 + the index in out->fns of the function whose
                                       [environment NAME] section is being read; 0: none */
} parser;

/* Grow *array of *cap elements of size each to hold at least need: doubling, so that n
 * appends cost O(n). false when out of memory (*array is then unchanged). */
static bool reserve(void **array, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t want = *cap ? *cap : 16;
    while (want < need)
        want *= 2;
    if (want > SIZE_MAX / size)
        return false;
    void *grown = realloc(*array, want * size);
    if (grown == NULL)
        return false;
    *array = grown;
    *cap = want;
    return true;
}

static void add_error(ff_file *f, bool *oom, const char *name, unsigned line,
                      const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t need = strlen(name) + strlen(msg) + 24;
    char *e = malloc(need);
    if (e == NULL || !reserve((void **)&f->errors, &f->errors_cap, f->nerrors + 1,
                              sizeof *f->errors)) {
        free(e);
        *oom = true;
        return;
    }
    if (line > 0)
        snprintf(e, need, "%s:%u: %s", name, line, msg);
    else
        snprintf(e, need, "%s: %s", name, msg);
    f->errors[f->nerrors++] = e;
}

static void error(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error(parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error(p->out, &p->oom, p->name, p->line, fmt, ap);
    va_end(ap);
}

/* ---- values ------------------------------------------------------------------------------- */

static bool valid_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return n >= 1 && n <= 64;
}

static bool valid_symbol(const char *s)
{
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (const char *c = s + 1; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

/* A quoted value in a message: printable, at most 60 bytes. */
static const char *shown(const char *s, char buf[72])
{
    size_t j = 0;
    for (size_t i = 0; s[i] && j < 60; i++)
        buf[j++] = ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f) ? s[i] : '?';
    if (strlen(s) > 60) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

/* ---- the keys ------------------------------------------------------------------------------ */

typedef struct ff_key ff_key;
/* Store value (non-empty, trimmed) in fn; false after reporting why not. */
typedef bool (*ff_setter)(parser *p, ff_function *fn, const ff_key *k, const char *value);

/* A word a key accepts and the value it stands for (enumerations). */
typedef struct ff_word {
    const char *word;
    int         value;
} ff_word;

struct ff_key {
    const char    *name;
    ff_setter      set;
    size_t         offset;          /* of the field in ff_function */
    unsigned       min, max;        /* numbers: the accepted range */
    const ff_word *words;           /* enumerations: the words, ending with a NULL word */
};

#define FIELD(fn, k, type) ((type *)(void *)((char *)(fn) + (k)->offset))

static bool set_unsigned(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    char b[72];
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || x > UINT_MAX) {
        error(p, "%s = %s: not a whole number", k->name, shown(v, b));
        return false;
    }
    if (x < k->min || x > k->max) {
        error(p, "%s = %llu: must be %u to %u", k->name, x, k->min, k->max);
        return false;
    }
    *FIELD(fn, k, unsigned) = (unsigned)x;
    return true;
}

static bool store(parser *p, char **slot, const char *v)
{
    char *copy = strdup(v);
    if (copy == NULL) {
        p->oom = true;
        return false;
    }
    free(*slot);
    *slot = copy;
    return true;
}

/* v is text for key k: not longer than k->max, no control character. */
static bool check_text(parser *p, const ff_key *k, const char *v)
{
    char b[72];
    size_t n = strlen(v);
    if (n > k->max) {
        error(p, "%s: at most %u bytes", k->name, k->max);
        return false;
    }
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            error(p, "%s = %s: has a control character", k->name, shown(v, b));
            return false;
        }
    return true;
}

static bool set_text(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    return check_text(p, k, v) && store(p, FIELD(fn, k, char *), v);
}

static bool set_name(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    char b[72];
    if (!valid_name(v)) {
        error(p, "%s = %s: a function name is 1-64 characters of [A-Za-z0-9_-]", k->name,
              shown(v, b));
        return false;
    }
    return store(p, FIELD(fn, k, char *), v);
}

static bool set_symbol(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    char b[72];
    if (!valid_symbol(v) || strlen(v) > k->max) {
        error(p, "%s = %s: not a C identifier", k->name, shown(v, b));
        return false;
    }
    return store(p, FIELD(fn, k, char *), v);
}

static bool set_word(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    char b[72], known[160] = "";
    for (const ff_word *w = k->words; w->word != NULL; w++) {
        if (strcmp(w->word, v) == 0) {
            *FIELD(fn, k, int) = w->value;
            return true;
        }
        size_t n = strlen(known);
        snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "", w->word);
    }
    error(p, "%s = %s: one of %s", k->name, shown(v, b), known);
    return false;
}

/* DIR/v, malloc'd; NULL (p->oom set) without memory. */
static char *in_dir(parser *p, const char *v)
{
    size_t need = strlen(p->dir) + strlen(v) + 2;
    char *joined = malloc(need);
    if (joined == NULL)
        p->oom = true;
    else
        snprintf(joined, need, "%s/%s", p->dir, v);
    return joined;
}

/* A module path: absolute as it is; relative to the file's directory; a bare name found
 * there is that file, else it is left to dlopen()'s search (a system library). */
static bool set_path(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    if (!set_text(p, fn, k, v))
        return false;
    if (v[0] == '/' || p->dir == NULL)
        return true;
    char *joined = in_dir(p, v);
    if (joined == NULL)
        return false;
    if (strchr(v, '/') == NULL && access(joined, F_OK) != 0) {
        free(joined);               /* "libm.so.6": the system's */
        return true;
    }
    char **slot = FIELD(fn, k, char *);
    free(*slot);
    *slot = joined;
    return true;
}

/* A directory: absolute as it is, else relative to the file's directory. */
static bool set_dir(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    if (!set_text(p, fn, k, v))
        return false;
    if (v[0] == '/' || p->dir == NULL)
        return true;
    char *joined = in_dir(p, v);
    if (joined == NULL)
        return false;
    char **slot = FIELD(fn, k, char *);
    free(*slot);
    *slot = joined;
    return true;
}

/* A schedule expression, checked now so that --check names its line and position. */
static bool set_schedule(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    char b[72];
    int64_t next;
    int rc = faas_schedule_next(v, NULL, 0, &next);
    if (rc == FAAS_EINVAL) {
        const char *why = strstr(faas_last_error(), "position ");   /* the text is shown */
        error(p, "%s = %s: %s", k->name, shown(v, b), why ? why : faas_last_error());
        return false;
    }
    return set_text(p, fn, k, v);
}

/* ---- runtime = provided: process functions -------------------------------------------------
 * command = PROGRAM ARGS... (words split on blanks, no quoting) or bootstrap = PATH (Lambda's
 * name: an executable run without arguments). A program with a slash is a path, relative to
 * the file's directory; a bare name is looked up in PATH. It must be executable now, so that
 * --check names the line. */

static void free_words(char **v)
{
    if (v == NULL)
        return;
    for (char **w = v; *w; w++)
        free(*w);
    free(v);
}

static bool is_space(char c);

/* The words of v (blank-separated), NULL-terminated; NULL (p->oom set) without memory. */
static char **split_words(parser *p, const char *v)
{
    size_t n = 0, cap = 0;
    char **words = NULL;
    for (const char *c = v; *c;) {
        while (*c && is_space(*c))
            c++;
        if (*c == '\0')
            break;
        const char *start = c;
        while (*c && !is_space(*c))
            c++;
        if (!reserve((void **)&words, &cap, n + 2, sizeof *words) ||
            (words[n] = strndup(start, (size_t)(c - start))) == NULL) {
            if (words != NULL)
                words[n] = NULL;
            free_words(words);
            p->oom = true;
            return NULL;
        }
        words[++n] = NULL;
    }
    return words;
}

/* PROGRAM as the path to run (malloc'd), or NULL: not found (errno) or out of memory. */
static char *find_program(parser *p, const char *prog)
{
    if (prog[0] == '/' || (strchr(prog, '/') != NULL && p->dir == NULL))
        return strdup(prog);
    if (strchr(prog, '/') != NULL)
        return in_dir(p, prog);
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
    if (copy == NULL)
        return NULL;
    char *save = NULL, *found = NULL;
    for (char *d = strtok_r(copy, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        size_t need = strlen(d) + strlen(prog) + 2;
        char *full = malloc(need);
        if (full == NULL)
            break;
        snprintf(full, need, "%s/%s", d, prog);
        if (access(full, X_OK) == 0) {
            found = full;
            break;
        }
        free(full);
    }
    free(copy);
    if (found == NULL)
        errno = ENOENT;
    return found;
}

static bool set_command(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    char b[72];
    bool bootstrap = strcmp(k->name, "bootstrap") == 0;
    if (fn->command != NULL) {
        error(p, "[%s] %s: command and bootstrap name one thing: give one of them",
              fn->name, k->name);
        return false;
    }
    if (!set_text(p, fn, k, v))     /* checks the text; the field is replaced below */
        return false;
    free(fn->command);
    fn->command = NULL;
    char **words = bootstrap ? NULL : split_words(p, v);
    if (!bootstrap && words == NULL)
        return false;
    const char *prog = bootstrap ? v : words[0];
    /* a bootstrap is a file: never looked up in PATH */
    char *path = bootstrap && v[0] != '/' && p->dir != NULL ? in_dir(p, v)
               : find_program(p, prog);
    if (path == NULL || access(path, X_OK) != 0) {
        int e = path == NULL && errno == ENOMEM ? ENOMEM : errno;
        if (e == ENOMEM)
            p->oom = true;
        else
            error(p, "[%s] %s = %s: %s is not an executable file (%s)", fn->name, k->name,
                  shown(v, b), path ? path : prog, strerror(e));
        free(path);
        free_words(words);
        return false;
    }
    fn->command = path;
    fn->argv = words;
    return true;
}

/* writable = DIR... (blank-separated, each relative to the file's directory): the
 * directories the runtime may write (faas_process_config.writable); registration checks
 * that each is one. */
static bool set_writable(parser *p, ff_function *fn, const ff_key *k, const char *v)
{
    if (!check_text(p, k, v))
        return false;
    char **words = split_words(p, v);
    if (words == NULL) {
        if (!p->oom)
            error(p, "[%s] writable: name one directory or more", fn->name);
        return false;
    }
    size_t n = 0;
    for (char **w = words; *w != NULL; w++, n++)
        if ((*w)[0] != '/' && p->dir != NULL) {
            char *joined = in_dir(p, *w);
            if (joined == NULL) {
                free_words(words);
                return false;
            }
            free(*w);
            *w = joined;
        }
    if (n > FAAS_PROCESS_WRITABLE_MAX) {
        error(p, "[%s] writable: %zu directories, %d at most", fn->name, n,
              FAAS_PROCESS_WRITABLE_MAX);
        free_words(words);
        return false;
    }
    free_words(fn->writable);
    fn->writable = words;
    return true;
}

static const ff_word bool_words[] = {
    { "false", 0 }, { "true", 1 }, { "no", 0 }, { "yes", 1 }, { NULL, 0 },
};
static const ff_word watch_event_words[] = {
    { "created", FAAS_WATCH_CREATED }, { "removed", FAAS_WATCH_REMOVED },
    { "both", FAAS_WATCH_CREATED | FAAS_WATCH_REMOVED }, { NULL, 0 },
};
static const ff_word isolation_words[] = {
    { "none", FAAS_ISOLATE_NONE }, { "process", FAAS_ISOLATE_PROCESS }, { NULL, 0 },
};
static const ff_word runtime_words[] = {
    { "provided", 1 }, { "provided.al2023", 1 }, { "provided.al2", 1 }, { NULL, 0 },
};
static const ff_word seccomp_words[] = {
    { "none", FAAS_SECCOMP_NONE }, { "no-network", FAAS_SECCOMP_NO_NETWORK },
    { "strict", FAAS_SECCOMP_STRICT }, { NULL, 0 },
};

static const ff_key keys[] = {
    { "module",          set_path,     offsetof(ff_function, module),          0, 4096, NULL },
    { "symbol",          set_symbol,   offsetof(ff_function, symbol),          0, 255, NULL },
    { "ffi",             set_text,     offsetof(ff_function, ffi),             0, 1024, NULL },
    { "memory_mb",       set_unsigned, offsetof(ff_function, cfg.memory_mb),   1, 1u << 20, NULL },
    { "timeout_ms",      set_unsigned, offsetof(ff_function, cfg.timeout_ms),  1, UINT_MAX, NULL },
    { "max_concurrency", set_unsigned, offsetof(ff_function, cfg.max_concurrency), 0, UINT_MAX,
      NULL },
    { "min_warm",        set_unsigned, offsetof(ff_function, cfg.min_warm),    0, UINT_MAX, NULL },
    { "keep_alive_ms",   set_unsigned, offsetof(ff_function, cfg.keep_alive_ms), 0, UINT_MAX,
      NULL },
    { "max_retries",     set_unsigned, offsetof(ff_function, cfg.max_retries), 0, UINT_MAX, NULL },
    { "dead_letter",     set_name,     offsetof(ff_function, dead_letter),     0, 64, NULL },
    { "tag",             set_text,     offsetof(ff_function, tag),             0, 256, NULL },
    { "isolation",       set_word,     offsetof(ff_function, cfg.isolation),   0, 0,
      isolation_words },
    { "seccomp",         set_word,     offsetof(ff_function, cfg.seccomp),     0, 0,
      seccomp_words },
    { "pids_max",        set_unsigned, offsetof(ff_function, cfg.pids_max),    0, UINT_MAX, NULL },
    { "remote",          set_word,     offsetof(ff_function, cfg.remote),      0, 0,
      bool_words },
    { "schedule",        set_schedule, offsetof(ff_function, schedule),        0, 256, NULL },
    { "schedule_time_zone", set_text,  offsetof(ff_function, schedule_tz),     0, 128, NULL },
    { "watch",           set_dir,      offsetof(ff_function, watch),           0, 4096, NULL },
    { "watch_recursive", set_word,     offsetof(ff_function, watch_opts.recursive), 0, 0,
      bool_words },
    { "watch_events",    set_word,     offsetof(ff_function, watch_opts.events), 0, 0,
      watch_event_words },
    { "watch_prefix",    set_text,     offsetof(ff_function, watch_prefix),    0, 1024, NULL },
    { "watch_suffix",    set_text,     offsetof(ff_function, watch_suffix),    0, 1024, NULL },
    { "watch_existing",  set_word,     offsetof(ff_function, watch_opts.existing), 0, 0,
      bool_words },
    { "qualifier",       set_text,     offsetof(ff_function, qualifier),       0, 128, NULL },
    { "reload",          set_word,     offsetof(ff_function, reload),          0, 0,
      bool_words },
    { "runtime",         set_word,     offsetof(ff_function, runtime),         0, 0,
      runtime_words },
    { "command",         set_command,  offsetof(ff_function, command),         0, 4096, NULL },
    { "bootstrap",       set_command,  offsetof(ff_function, command),         0, 4096, NULL },
    { "handler",         set_text,     offsetof(ff_function, handler),         0, 128, NULL },
    { "cwd",             set_dir,      offsetof(ff_function, cwd),             0, 4096, NULL },
    { "user",            set_text,     offsetof(ff_function, user),            0, 256, NULL },
    { "writable",        set_writable, offsetof(ff_function, writable),        0, 65536, NULL },
};
#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= sizeof(uint64_t) * CHAR_BIT, "ff_function.seen has a bit per key");

/* The seen bit of the key called name (0 if there is none). */
static uint64_t key_bit(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return UINT64_C(1) << i;
    return 0;
}

/* ---- lines --------------------------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Trim s[0..*n) in place: returns the new start. */
static char *trim(char *s, size_t *n)
{
    while (*n > 0 && is_space(*s)) {
        s++;
        (*n)--;
    }
    while (*n > 0 && is_space(s[*n - 1]))
        (*n)--;
    s[*n] = '\0';
    return s;
}

/* FNV-1a: names are short and chosen by the file's author, not by an attacker. */
static size_t hash_name(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return (size_t)h;
}

/* The slot where name is, or the empty one where it would go. */
static size_t *index_slot(const parser *p, const char *name)
{
    size_t mask = p->index.cap - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        size_t at = p->index.slot[i];
        if (at == 0 || strcmp(p->out->fns[at - 1].name, name) == 0)
            return &p->index.slot[i];
    }
}

static ff_function *find(const parser *p, const char *name)
{
    if (p->index.cap == 0)
        return NULL;
    size_t at = *index_slot(p, name);
    return at ? &p->out->fns[at - 1] : NULL;
}

/* Index fns[n - 1], the section just added (not in the index yet). */
static bool index_add(parser *p)
{
    size_t n = p->out->n;
    if (2 * n > p->index.cap) {
        size_t cap = p->index.cap ? p->index.cap * 2 : 64;
        size_t *slot = calloc(cap, sizeof *slot);
        if (slot == NULL)
            return false;
        size_t *old = p->index.slot;
        p->index.slot = slot;
        p->index.cap = cap;
        for (size_t k = 0; k + 1 < n; k++)          /* rehash the others */
            *index_slot(p, p->out->fns[k].name) = k + 1;
        free(old);
    }
    *index_slot(p, p->out->fns[n - 1].name) = n;
    return true;
}

static ff_function *new_function(parser *p, const char *name)
{
    ff_file *f = p->out;
    if (!reserve((void **)&f->fns, &f->fns_cap, f->n + 1, sizeof *f->fns)) {
        p->oom = true;
        return NULL;
    }
    ff_function *fn = &f->fns[f->n];
    memset(fn, 0, sizeof *fn);
    fn->name = strdup(name);
    if (fn->name == NULL) {
        p->oom = true;
        return NULL;
    }
    fn->line = p->line;
    faas_config_init(&fn->cfg);
    f->n++;
    if (!index_add(p)) {
        p->oom = true;
        return NULL;
    }
    return fn;
}

/* ---- budgets -------------------------------------------------------------------------------
 * [budget TAG] sections: limit_usd = DOLLARS (per window) and window = N{s,m,h,d} (none: one
 * window for ever), applied with faas_budget_set(3) to the functions with tag = TAG. */

#define BUDGET_LIMIT 1u             /* ff_budget.seen bits */
#define BUDGET_WINDOW 2u
#define TAG_MAX 256                 /* bytes of a tag, as the library takes them */

/* "2.50", "$0.000001", "10" as pico-dollars (exact, at most 12 decimals); NULL if good,
 * else why not. */
static const char *parse_usd(const char *v, uint64_t *out)
{
    if (*v == '$')
        v++;
    if (*v == '-')
        return "a budget is not negative";
    uint64_t whole = 0, frac = 0;
    int digits = 0, decimals = 0;
    for (; *v >= '0' && *v <= '9'; v++, digits++) {
        if (whole > (UINT64_MAX / 1000000000000u - 9) / 10)
            return "too large";
        whole = whole * 10 + (uint64_t)(*v - '0');
    }
    if (*v == '.')
        for (v++; *v >= '0' && *v <= '9'; v++, digits++) {
            if (++decimals > 12)
                return "at most 12 decimals (a pico-dollar)";
            frac = frac * 10 + (uint64_t)(*v - '0');
        }
    if (*v != '\0' || digits == 0)
        return "not an amount in dollars, such as 2.50";
    for (; decimals < 12; decimals++)
        frac *= 10;
    *out = whole * 1000000000000u + frac;
    return NULL;
}

/* "30s", "15m", "1h", "7d" as milliseconds; NULL if good, else why not. */
static const char *parse_window(const char *v, uint64_t *out)
{
    uint64_t n = 0;
    int digits = 0;
    for (; *v >= '0' && *v <= '9'; v++, digits++) {
        if (n > (UINT64_MAX - 9) / 10)
            return "too long";
        n = n * 10 + (uint64_t)(*v - '0');
    }
    uint64_t unit = *v == 's' ? 1000u : *v == 'm' ? 60000u : *v == 'h' ? 3600000u
                  : *v == 'd' ? 86400000u : 0;
    if (digits == 0 || unit == 0 || v[1] != '\0')
        return "a number and a unit: s, m, h or d (30s, 15m, 1h, 7d)";
    if (n == 0)
        return "must be more than 0 (leave window out for one window for ever)";
    /* The library keeps the window in nanoseconds. */
    if (n > UINT64_MAX / 1000000u / unit)
        return "too long";
    *out = n * unit;
    return NULL;
}

/* The section line [budget TAG]. */
static void budget_section(parser *p, char *tag)
{
    char b[72];
    size_t tn = strlen(tag);
    tag = trim(tag, &tn);
    bool control = false;
    for (const char *c = tag; *c; c++)
        control |= (unsigned char)*c < 0x20 || *c == 0x7f;
    if (tn == 0 || tn > TAG_MAX || control) {
        error(p, "[budget %s]: a tag is 1 to %d bytes without control characters",
              shown(tag, b), TAG_MAX);
        return;
    }
    ff_file *f = p->out;
    for (size_t i = 0; i < f->nbudgets; i++)
        if (strcmp(f->budgets[i].tag, tag) == 0) {
            error(p, "[budget %s]: already defined at line %u", shown(tag, b),
                  f->budgets[i].line);
            return;
        }
    if (!reserve((void **)&f->budgets, &f->budgets_cap, f->nbudgets + 1,
                 sizeof *f->budgets)) {
        p->oom = true;
        return;
    }
    ff_budget *bu = &f->budgets[f->nbudgets];
    memset(bu, 0, sizeof *bu);
    if ((bu->tag = strdup(tag)) == NULL) {
        p->oom = true;
        return;
    }
    bu->line = p->line;
    p->budget = ++f->nbudgets;
}

/* KEY = VALUE in a [budget TAG] section. */
static void budget_key(parser *p, const char *key, const char *value)
{
    char b[72], c[72];
    ff_budget *bu = &p->out->budgets[p->budget - 1];
    unsigned bit = strcmp(key, "limit_usd") == 0 ? BUDGET_LIMIT
                 : strcmp(key, "window") == 0 ? BUDGET_WINDOW : 0;
    if (bit == 0) {
        error(p, "[budget %s] %s: unknown key (known: limit_usd, window)", bu->tag,
              shown(key, b));
        return;
    }
    if (bu->seen & bit) {
        error(p, "[budget %s] %s: given twice", bu->tag, key);
        return;
    }
    bu->seen |= bit;
    if (value[0] == '\0') {
        error(p, "[budget %s] %s: needs a value", bu->tag, key);
        return;
    }
    const char *why = bit == BUDGET_LIMIT ? parse_usd(value, &bu->limit_picousd)
                                          : parse_window(value, &bu->window_ms);
    if (why != NULL)
        error(p, "[budget %s] %s = %s: %s", bu->tag, key, shown(value, c), why);
}

/* Once the file is read: a limit, and a function it applies to. A budget for a tag no
 * function has is an error, as a dead_letter that is not defined: most likely a typo. */
static void check_budget(parser *p, ff_budget *bu)
{
    p->line = bu->line;
    if (!(bu->seen & BUDGET_LIMIT))
        error(p, "[budget %s]: needs limit_usd = DOLLARS", bu->tag);
    for (size_t i = 0; i < p->out->n; i++)
        if (p->out->fns[i].tag != NULL && strcmp(p->out->fns[i].tag, bu->tag) == 0)
            return;
    error(p, "[budget %s]: no function has tag = %s", bu->tag, bu->tag);
}

/* ---- versions and aliases ------------------------------------------------------------------
 * [version NAME:N] (description = TEXT) publishes $LATEST of NAME as version N, in the
 * order of the file, once the functions are registered; [alias NAME:ALIAS] (version = N or
 * $LATEST, extra_version = M, extra_weight = 0.0-1.0) is set after every version. */

#define VERSION_DESCRIPTION 1u      /* ff_version.seen bits */
#define ALIAS_VERSION 1u            /* ff_alias.seen bits */
#define ALIAS_EXTRA_VERSION 2u
#define ALIAS_EXTRA_WEIGHT 4u
#define ALIAS_MAX 128               /* Lambda's alias names: 1-128 of [A-Za-z0-9_-] */

/* "NAME:QUALIFIER" of a section line split in place; false after reporting why not. */
static bool split_qualified(parser *p, const char *kind, char *text, char **name,
                            char **qual)
{
    char b[72];
    size_t n = strlen(text);
    text = trim(text, &n);
    char *colon = strchr(text, ':');
    if (colon == NULL) {
        error(p, "[%s %s]: a %s section is [%s NAME:%s]", kind, shown(text, b), kind, kind,
              strcmp(kind, "version") == 0 ? "N" : "ALIAS");
        return false;
    }
    *colon = '\0';
    if (!valid_name(text)) {
        error(p, "[%s %s]: a function name is 1-64 characters of [A-Za-z0-9_-]", kind,
              shown(text, b));
        return false;
    }
    *name = text;
    *qual = colon + 1;
    return true;
}

/* A version number: 1 to 4294967295, no sign, no leading zero. */
static bool parse_version(const char *v, uint32_t *out)
{
    if (v[0] < '1' || v[0] > '9')
        return false;
    uint64_t x = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || (x = x * 10 + (uint64_t)(*v - '0')) > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)x;
    return true;
}

static bool valid_alias(const char *s)
{
    size_t n = 0;
    bool digits = true;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
        digits = digits && c >= '0' && c <= '9';
    }
    return n >= 1 && n <= ALIAS_MAX && !digits;
}

/* The [version NAME:N] section line. */
static void version_section(parser *p, char *text)
{
    char b[72];
    char *name, *qual;
    if (!split_qualified(p, "version", text, &name, &qual))
        return;
    uint32_t number;
    if (!parse_version(qual, &number)) {
        error(p, "[version %s:%s]: a version is a number from 1", name, shown(qual, b));
        return;
    }
    ff_file *f = p->out;
    uint32_t last = 0;
    for (size_t i = 0; i < f->nversions; i++)
        if (strcmp(f->versions[i].function, name) == 0)
            last = f->versions[i].number;
    if (number != last + 1) {
        error(p, "[version %s:%u]: versions are published in order: this one would be %s:%u",
              name, number, name, last + 1);
        return;
    }
    if (!reserve((void **)&f->versions, &f->versions_cap, f->nversions + 1,
                 sizeof *f->versions)) {
        p->oom = true;
        return;
    }
    ff_version *v = &f->versions[f->nversions];
    memset(v, 0, sizeof *v);
    if ((v->function = strdup(name)) == NULL) {
        p->oom = true;
        return;
    }
    v->number = number;
    v->line = p->line;
    p->version = ++f->nversions;
}

static void version_key(parser *p, const char *key, const char *value)
{
    char b[72], c[72];
    ff_version *v = &p->out->versions[p->version - 1];
    if (strcmp(key, "description") != 0) {
        error(p, "[version %s:%u] %s: unknown key (known: description)", v->function,
              v->number, shown(key, b));
        return;
    }
    if (v->seen & VERSION_DESCRIPTION) {
        error(p, "[version %s:%u] %s: given twice", v->function, v->number, key);
        return;
    }
    v->seen |= VERSION_DESCRIPTION;
    size_t n = strlen(value);
    bool control = false;
    for (const char *ch = value; *ch; ch++)
        control |= (unsigned char)*ch < 0x20 || *ch == 0x7f;
    if (n > 256 || control) {
        error(p, "[version %s:%u] description = %s: at most 256 bytes without control "
              "characters", v->function, v->number, shown(value, c));
        return;
    }
    store(p, &v->description, value);
}

/* The [alias NAME:ALIAS] section line. */
static void alias_section(parser *p, char *text)
{
    char b[72];
    char *name, *qual;
    if (!split_qualified(p, "alias", text, &name, &qual))
        return;
    if (!valid_alias(qual)) {
        error(p, "[alias %s:%s]: an alias is 1-128 characters of [A-Za-z0-9_-], not only "
              "digits", name, shown(qual, b));
        return;
    }
    ff_file *f = p->out;
    for (size_t i = 0; i < f->naliases; i++)
        if (strcmp(f->aliases[i].function, name) == 0 && strcmp(f->aliases[i].alias, qual) == 0) {
            error(p, "[alias %s:%s]: already defined at line %u", name, qual,
                  f->aliases[i].line);
            return;
        }
    if (!reserve((void **)&f->aliases, &f->aliases_cap, f->naliases + 1, sizeof *f->aliases)) {
        p->oom = true;
        return;
    }
    ff_alias *a = &f->aliases[f->naliases];
    memset(a, 0, sizeof *a);
    a->function = strdup(name);
    a->alias = strdup(qual);
    f->naliases++;                  /* freed by ff_free, whole or not */
    if (a->function == NULL || a->alias == NULL) {
        p->oom = true;
        return;
    }
    a->line = p->line;
    p->alias = f->naliases;
}

static void alias_key(parser *p, const char *key, const char *value)
{
    char b[72], c[72];
    ff_alias *a = &p->out->aliases[p->alias - 1];
    unsigned bit = strcmp(key, "version") == 0 ? ALIAS_VERSION
                 : strcmp(key, "extra_version") == 0 ? ALIAS_EXTRA_VERSION
                 : strcmp(key, "extra_weight") == 0 ? ALIAS_EXTRA_WEIGHT : 0;
    if (bit == 0) {
        error(p, "[alias %s:%s] %s: unknown key (known: version, extra_version, "
              "extra_weight)", a->function, a->alias, shown(key, b));
        return;
    }
    if (a->seen & bit) {
        error(p, "[alias %s:%s] %s: given twice", a->function, a->alias, key);
        return;
    }
    a->seen |= bit;
    if (value[0] == '\0') {
        error(p, "[alias %s:%s] %s: needs a value", a->function, a->alias, key);
        return;
    }
    if (bit == ALIAS_EXTRA_WEIGHT) {
        char *end;
        errno = 0;
        double w = strtod(value, &end);
        if (*end != '\0' || errno != 0 || !(w >= 0.0 && w <= 1.0) ||
            !((value[0] >= '0' && value[0] <= '9') || value[0] == '.'))
            error(p, "[alias %s:%s] extra_weight = %s: a share from 0.0 to 1.0", a->function,
                  a->alias, shown(value, c));
        else
            a->extra_weight = w;
        return;
    }
    uint32_t *slot = bit == ALIAS_VERSION ? &a->version : &a->extra_version;
    if (bit == ALIAS_VERSION && strcmp(value, "$LATEST") == 0)
        *slot = 0;
    else if (!parse_version(value, slot))
        error(p, "[alias %s:%s] %s = %s: a version number from 1%s", a->function, a->alias,
              key, shown(value, c), bit == ALIAS_VERSION ? " or $LATEST" : "");
}

/* The versions the file declares for function: the last number (0: none). */
static uint32_t last_version(const ff_file *f, const char *function)
{
    uint32_t last = 0;
    for (size_t i = 0; i < f->nversions; i++)
        if (strcmp(f->versions[i].function, function) == 0)
            last = f->versions[i].number;
    return last;
}

/* Once the file is read: a version of a function the file defines; an alias of one, to
 * versions the file declares, and a weight only with a second version. */
static void check_version(parser *p, const ff_version *v)
{
    p->line = v->line;
    if (find(p, v->function) == NULL)
        error(p, "[version %s:%u]: function %s is not defined in this file", v->function,
              v->number, v->function);
}

static void check_alias(parser *p, const ff_alias *a)
{
    p->line = a->line;
    if (find(p, a->function) == NULL) {
        error(p, "[alias %s:%s]: function %s is not defined in this file", a->function,
              a->alias, a->function);
        return;
    }
    uint32_t last = last_version(p->out, a->function);
    if (!(a->seen & ALIAS_VERSION))
        error(p, "[alias %s:%s]: needs version = N (or $LATEST)", a->function, a->alias);
    else if (a->version > last)
        error(p, "[alias %s:%s]: version %u is not declared: add [version %s:%u]",
              a->function, a->alias, a->version, a->function, a->version);
    if ((a->seen & ALIAS_EXTRA_VERSION) && a->extra_version > last)
        error(p, "[alias %s:%s]: extra_version %u is not declared: add [version %s:%u]",
              a->function, a->alias, a->extra_version, a->function, a->extra_version);
    else if ((a->seen & ALIAS_EXTRA_VERSION) && a->extra_version == a->version)
        error(p, "[alias %s:%s]: extra_version is version %u itself", a->function, a->alias,
              a->version);
    else if ((a->seen & ALIAS_EXTRA_VERSION) && a->version == 0)
        error(p, "[alias %s:%s]: weighted routing is between published versions, not "
              "$LATEST", a->function, a->alias);
    if ((a->seen & ALIAS_EXTRA_WEIGHT) != 0 && !(a->seen & ALIAS_EXTRA_VERSION))
        error(p, "[alias %s:%s]: extra_weight without extra_version", a->function, a->alias);
    if ((a->seen & ALIAS_EXTRA_VERSION) != 0 && !(a->seen & ALIAS_EXTRA_WEIGHT))
        error(p, "[alias %s:%s]: extra_version without extra_weight", a->function, a->alias);
}

/* ---- [environment NAME] and the kind of a function ----------------------------------------
 * [environment NAME] follows [NAME] (runtime = provided): one VARIABLE = value a line. */

/* Lambda's reserved variables (the list faas_register_process(3) refuses, from the AWS
 * Lambda Developer Guide, "Defined runtime environment variables"): checked here so that
 * the error names its line. */
static bool env_reserved(const char *name)
{
    static const char *const names[] = {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    };
    if (strncmp(name, "AWS_LAMBDA_", 11) == 0)
        return true;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

#define ENV_MAX 4096                /* Lambda: all of a function's variables, 4 KB */

/* The section line [environment NAME]: NAME is a function defined above. */
static void environment_section(parser *p, char *name)
{
    char b[72];
    size_t n = strlen(name);
    name = trim(name, &n);
    ff_function *fn = find(p, name);
    if (fn == NULL) {
        error(p, "[environment %s]: function %s is not defined above it", shown(name, b),
              shown(name, b));
        return;
    }
    if (fn->env_line != 0) {
        error(p, "[environment %s]: already defined at line %u", name, fn->env_line);
        return;
    }
    fn->env_line = p->line;
    p->env = (size_t)(fn - p->out->fns) + 1;
}

/* NAME = value in an [environment FUNCTION] section. */
static void environment_key(parser *p, const char *key, const char *value)
{
    char b[72], c[72];
    ff_function *fn = &p->out->fns[p->env - 1];
    if (env_reserved(key)) {
        error(p, "[environment %s] %s: reserved by Lambda (the runtime sets it)", fn->name,
              key);
        return;
    }
    bool ok = (key[0] >= 'a' && key[0] <= 'z') || (key[0] >= 'A' && key[0] <= 'Z');
    for (const char *ch = key; *ch && ok; ch++)
        ok = (*ch >= 'a' && *ch <= 'z') || (*ch >= 'A' && *ch <= 'Z') ||
             (*ch >= '0' && *ch <= '9') || *ch == '_';
    if (!ok || strlen(key) < 2) {
        error(p, "[environment %s] %s: a variable's name is a letter, then letters, digits "
              "or _ (2 or more in all)", fn->name, shown(key, b));
        return;
    }
    size_t kn = strlen(key), vn = strlen(value);
    for (size_t i = 0; i < fn->nenv; i++)
        if (strncmp(fn->environment[i], key, kn) == 0 && fn->environment[i][kn] == '=') {
            error(p, "[environment %s] %s: given twice", fn->name, key);
            return;
        }
    for (const char *ch = value; *ch; ch++)
        if ((unsigned char)*ch < 0x20 || *ch == 0x7f) {
            error(p, "[environment %s] %s = %s: has a control character", fn->name, key,
                  shown(value, c));
            return;
        }
    if (fn->env_bytes + kn + vn > ENV_MAX) {
        error(p, "[environment %s] %s: the variables of a function are at most %d bytes "
              "(names and values, as Lambda counts them)", fn->name, key, ENV_MAX);
        return;
    }
    size_t cap = fn->nenv ? fn->nenv + 1 : 0;
    char *entry = malloc(kn + vn + 2);
    if (entry == NULL || !reserve((void **)&fn->environment, &cap, fn->nenv + 2,
                                  sizeof *fn->environment)) {
        free(entry);
        p->oom = true;
        return;
    }
    snprintf(entry, kn + vn + 2, "%s=%s", key, value);
    fn->environment[fn->nenv++] = entry;
    fn->environment[fn->nenv] = NULL;
    fn->env_bytes += kn + vn;
}

/* What a function's kind allows: process keys only with runtime = provided, module keys
 * only without. */
static void check_kind(parser *p, ff_function *fn)
{
    static const char *const module_keys[] = { "module", "symbol", "ffi", "isolation",
                                               "seccomp" };
    static const char *const process_keys[] = { "command", "bootstrap", "handler", "cwd",
                                                "writable" };
    if (fn->runtime) {
        if (fn->command == NULL && !(fn->seen & (key_bit("command") | key_bit("bootstrap"))))
            error(p, "[%s]: runtime = provided needs command = PROGRAM [ARGS...] or "
                  "bootstrap = PATH", fn->name);
        for (size_t i = 0; i < sizeof module_keys / sizeof *module_keys; i++)
            if (fn->seen & key_bit(module_keys[i]))
                error(p, "[%s]: %s is for module functions, not runtime = provided",
                      fn->name, module_keys[i]);
        /* command = PROGRAM ARGS runs in the file's directory (its arguments are relative
         * to it); bootstrap = PATH in the bootstrap's (faas_register_process's default). */
        if (fn->cwd == NULL && fn->argv != NULL && p->dir != NULL &&
            (fn->cwd = strdup(p->dir)) == NULL)
            p->oom = true;
        return;
    }
    for (size_t i = 0; i < sizeof process_keys / sizeof *process_keys; i++)
        if (fn->seen & key_bit(process_keys[i]))
            error(p, "[%s]: %s needs runtime = provided (a process function)", fn->name,
                  process_keys[i]);
    /* user: a runtime's, or an isolated module's instances' (faas_config.user). */
    if ((fn->seen & key_bit("user")) && fn->cfg.isolation != FAAS_ISOLATE_PROCESS)
        error(p, "[%s]: user needs runtime = provided or isolation = process (an "
              "in-process function runs as the host)", fn->name);
    /* A module's or ffi function's environment is faas_config.environment: the function
     * reads it through its context (faas_ctx_getenv), not from a process of its own. */
}

/* A function's qualifier = Q: $LATEST, a declared version or alias of it. */
static void check_qualifier(parser *p, const ff_function *fn)
{
    char b[72];
    const char *q = fn->qualifier;
    uint32_t number;
    if (q == NULL || strcmp(q, "$LATEST") == 0)
        return;
    if (fn->schedule == NULL && fn->watch == NULL)
        error(p, "[%s]: qualifier without a schedule or watch", fn->name);
    if (parse_version(q, &number)) {
        if (number > last_version(p->out, fn->name))
            error(p, "[%s]: qualifier = %u: add [version %s:%u]", fn->name, number, fn->name,
                  number);
        return;
    }
    for (size_t i = 0; i < p->out->naliases; i++)
        if (strcmp(p->out->aliases[i].function, fn->name) == 0 &&
            strcmp(p->out->aliases[i].alias, q) == 0)
            return;
    error(p, "[%s]: qualifier = %s: not $LATEST, nor a [version %s:N] or [alias %s:ALIAS] of "
          "this file", fn->name, shown(q, b), fn->name, fn->name);
}

/* One line (NUL-terminated, no newline); *cur is the section being read or NULL. */
static void parse_line(parser *p, char *s, size_t n, ff_function **cur, bool *in_bad)
{
    char b[72];
    s = trim(s, &n);
    if (n == 0 || s[0] == '#' || s[0] == ';')
        return;
    if (s[0] == '[') {
        if (s[n - 1] != ']') {
            error(p, "a section line is [NAME]");
            *cur = NULL;
            *in_bad = true;
            return;
        }
        size_t nn = n - 2;
        char *name = trim(s + 1, &nn);
        *in_bad = true;             /* until the section proves good */
        *cur = NULL;
        p->budget = p->version = p->alias = p->env = 0;
        if (strncmp(name, "budget", 6) == 0 && is_space(name[6])) {
            budget_section(p, name + 7);
            *in_bad = p->budget == 0;
            return;
        }
        if (strncmp(name, "version", 7) == 0 && is_space(name[7])) {
            version_section(p, name + 8);
            *in_bad = p->version == 0;
            return;
        }
        if (strncmp(name, "alias", 5) == 0 && is_space(name[5])) {
            alias_section(p, name + 6);
            *in_bad = p->alias == 0;
            return;
        }
        if (strncmp(name, "environment", 11) == 0 && is_space(name[11])) {
            environment_section(p, name + 12);
            *in_bad = p->env == 0;
            return;
        }
        if (!valid_name(name)) {
            error(p, "[%s]: a function name is 1-64 characters of [A-Za-z0-9_-]",
                  shown(name, b));
            return;
        }
        ff_function *dup = find(p, name);
        if (dup != NULL) {
            error(p, "[%s]: already defined at line %u", name, dup->line);
            return;
        }
        *cur = new_function(p, name);
        *in_bad = false;
        return;
    }
    char *eq = memchr(s, '=', n);
    if (eq == NULL) {
        error(p, "expected [NAME], KEY = VALUE, or a comment (# or ;)");
        return;
    }
    size_t kn = (size_t)(eq - s), vn = n - kn - 1;
    char *value = trim(eq + 1, &vn);
    char *key = trim(s, &kn);
    if (p->budget != 0) {
        budget_key(p, key, value);
        return;
    }
    if (p->version != 0) {
        version_key(p, key, value);
        return;
    }
    if (p->alias != 0) {
        alias_key(p, key, value);
        return;
    }
    if (p->env != 0) {
        environment_key(p, key, value);
        return;
    }
    if (*cur == NULL) {
        if (!*in_bad)               /* keys of a section already refused are not repeated */
            error(p, "%s: a key outside any [function] section", shown(key, b));
        return;
    }
    const ff_key *k = NULL;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, key) == 0)
            k = &keys[i];
    if (k == NULL) {
        char known[512] = "";
        for (size_t i = 0; i < NKEYS; i++) {
            size_t used = strlen(known);
            snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", keys[i].name);
        }
        error(p, "[%s] %s: unknown key (known: %s)", (*cur)->name, shown(key, b), known);
        return;
    }
    uint64_t bit = UINT64_C(1) << (k - keys);
    if ((*cur)->seen & bit) {
        error(p, "[%s] %s: given twice", (*cur)->name, k->name);
        return;
    }
    (*cur)->seen |= bit;
    if (vn == 0) {
        error(p, "[%s] %s: needs a value", (*cur)->name, k->name);
        return;
    }
    k->set(p, *cur, k, value);
}

/* What a function needs once its section is read, and what refers to other sections. */
static void check_function(parser *p, ff_function *fn)
{
    p->line = fn->line;
    check_kind(p, fn);
    if (!fn->runtime && fn->module == NULL && fn->ffi == NULL)
        error(p, "[%s]: needs module = PATH (a shared object) or ffi = SIGNATURE (or "
              "runtime = provided: a process function)", fn->name);
    if (!fn->runtime && fn->symbol == NULL && !valid_symbol(fn->name))
        error(p, "[%s]: the name is not a C identifier: give symbol = SYMBOL", fn->name);
    if (fn->cfg.max_concurrency != 0 && fn->cfg.min_warm > fn->cfg.max_concurrency)
        error(p, "[%s]: min_warm (%u) is more than max_concurrency (%u)", fn->name,
              fn->cfg.min_warm, fn->cfg.max_concurrency);
    if (fn->dead_letter != NULL) {
        if (strcmp(fn->dead_letter, fn->name) == 0)
            error(p, "[%s]: a function cannot be its own dead_letter", fn->name);
        else if (find(p, fn->dead_letter) == NULL)
            error(p, "[%s]: dead_letter %s is not defined in this file", fn->name,
                  fn->dead_letter);
    }
    if (fn->schedule_tz != NULL && fn->schedule == NULL)
        error(p, "[%s]: schedule_time_zone without a schedule", fn->name);
    if (fn->watch == NULL && (fn->watch_prefix || fn->watch_suffix ||
                              fn->watch_opts.recursive || fn->watch_opts.events ||
                              fn->watch_opts.existing))
        error(p, "[%s]: watch_* options without watch = DIRECTORY", fn->name);
    check_qualifier(p, fn);
    fn->cfg.dead_letter = fn->dead_letter;
    fn->cfg.tag = fn->tag;
    fn->watch_opts.prefix = fn->watch_prefix;
    fn->watch_opts.suffix = fn->watch_suffix;
}

int ff_parse(const char *text, size_t len, const char *name, const char *dir, ff_file *out)
{
    memset(out, 0, sizeof *out);
    parser p = { out, name ? name : "(functions)", dir, 0, false, { NULL, 0 }, 0, 0, 0, 0 };
    char *line = NULL;
    size_t cap = 0;
    ff_function *cur = NULL;
    bool in_bad = false;
    size_t i = 0;
    /* A UTF-8 byte order mark (Notepad and others write one) is not text of line 1: kept,
     * it made "[NAME]" an unknown line and every key of the section an orphan. */
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < len && !p.oom) {
        size_t s = i;
        while (i < len && text[i] != '\n')
            i++;
        size_t n = i - s;
        if (i < len)
            i++;                    /* the newline */
        p.line++;
        if (n + 1 > cap) {
            char *grown = realloc(line, n + 1);
            if (grown == NULL) {
                p.oom = true;
                break;
            }
            line = grown;
            cap = n + 1;
        }
        memcpy(line, text + s, n);
        line[n] = '\0';
        if (memchr(line, '\0', n) != NULL) {
            error(&p, "a NUL byte: this is not a text file");
            continue;
        }
        /* Only new_function() moves the array, and cur is then the new entry. */
        parse_line(&p, line, n, &cur, &in_bad);
    }
    free(line);
    for (size_t k = 0; k < out->n && !p.oom; k++)
        check_function(&p, &out->fns[k]);
    for (size_t k = 0; k < out->nbudgets && !p.oom; k++)
        check_budget(&p, &out->budgets[k]);
    for (size_t k = 0; k < out->nversions && !p.oom; k++)
        check_version(&p, &out->versions[k]);
    for (size_t k = 0; k < out->naliases && !p.oom; k++)
        check_alias(&p, &out->aliases[k]);
    free(p.index.slot);
    if (!p.oom && out->n == 0 && out->nerrors == 0) {
        p.line = 0;
        error(&p, "no function defined: add a [NAME] section with module = PATH");
    }
    return p.oom ? -1 : (int)out->nerrors;
}

static void file_error(ff_file *f, const char *name, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void file_error(ff_file *f, const char *name, unsigned line, const char *fmt, ...)
{
    bool oom = false;
    va_list ap;
    va_start(ap, fmt);
    add_error(f, &oom, name, line, fmt, ap);
    va_end(ap);
}

int ff_load(const char *path, ff_file *out)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        file_error(out, path, 0, "%s", strerror(errno));
        return 1;
    }
    char *text = malloc(FILE_MAX + 1);
    size_t len = text ? fread(text, 1, FILE_MAX + 1, fp) : 0;
    bool unreadable = text == NULL || ferror(fp);
    fclose(fp);
    if (unreadable || len > FILE_MAX) {
        free(text);
        file_error(out, path, 0, "%s", unreadable ? "cannot be read" : "larger than 16 MB");
        return 1;
    }
    /* Relative module paths are resolved against the file's directory. */
    char *dir = strdup(path);
    if (dir == NULL) {
        free(text);
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int rc = ff_parse(text, len, path, dir, out);
    free(dir);
    free(text);
    return rc;
}

static int register_one(faas_runtime *rt, ff_file *f, ff_function *fn, const char *name)
{
    const char *symbol = fn->symbol ? fn->symbol : fn->name;
    int rc;
    if (!fn->runtime) {
        fn->cfg.environment = (const char *const *)fn->environment;
        fn->cfg.user = fn->user;
    }
    if (fn->runtime) {
        faas_process_config pc = FAAS_PROCESS_CONFIG_INIT;
        pc.command = fn->command;
        pc.argv = (const char *const *)fn->argv;
        pc.handler = fn->handler;
        pc.environment = (const char *const *)fn->environment;
        pc.cwd = fn->cwd;
        pc.user = fn->user;
        pc.writable = (const char *const *)fn->writable;
        rc = faas_register_process(rt, fn->name, &pc, &fn->cfg);
    } else if (fn->ffi != NULL)
        rc = faas_register_ffi(rt, fn->name, fn->module, symbol, fn->ffi, &fn->cfg);
    else
        rc = faas_register_module(rt, fn->name, fn->module, symbol, &fn->cfg);
    fn->registered = rc == FAAS_OK;
    if (rc == FAAS_ENOTSUP && fn->ffi != NULL)
        file_error(f, name, fn->line, "[%s]: ffi = %s needs the libffi bridge, which this "
                   "libfaas does not have (%s: %s)", fn->name, fn->ffi, faas_err_name(rc),
                   faas_last_error());
    else if (rc != FAAS_OK)
        file_error(f, name, fn->line, "[%s]: %s: %s", fn->name, faas_err_name(rc),
                   faas_last_error());
    return rc != FAAS_OK;
}

/* The function's schedule and watch, if any; their ids (0: none) in sched and watch. */
static int start_sources(faas_runtime *rt, ff_file *f, ff_function *fn, const char *name,
                         faas_trigger_id *sched, faas_trigger_id *watch)
{
    int failed = 0;
    *sched = *watch = 0;
    char target[64 + 1 + 128 + 1];      /* NAME:QUALIFIER: a version or an alias */
    snprintf(target, sizeof target, "%s%s%s", fn->name, fn->qualifier ? ":" : "",
             fn->qualifier ? fn->qualifier : "");
    if (fn->schedule != NULL) {
        faas_schedule_options so = { .size = sizeof(faas_schedule_options),
                                     .time_zone = fn->schedule_tz };
        int rc = faas_schedule_ex(rt, target, fn->schedule, &so, sched);
        if (rc != FAAS_OK) {
            file_error(f, name, fn->line, "[%s]: schedule = %s: %s: %s", fn->name,
                       fn->schedule, faas_err_name(rc), faas_last_error());
            failed++;
        }
    }
    if (fn->watch != NULL) {
        int rc = faas_watch(rt, target, fn->watch, &fn->watch_opts, watch);
        if (rc != FAAS_OK) {
            file_error(f, name, fn->line, "[%s]: watch = %s: %s: %s", fn->name,
                       fn->watch, faas_err_name(rc), faas_last_error());
            failed++;
        }
    }
    if (fn->reload) {                   /* $LATEST follows the module file on disk */
        int rc = faas_update_follow(rt, fn->name, 1);
        if (rc != FAAS_OK) {
            file_error(f, name, fn->line, "[%s]: reload = true: %s: %s", fn->name,
                       faas_err_name(rc), faas_last_error());
            failed++;
        }
    }
    return failed;
}

/* The budgets, once the functions are there (with check_only, each removed once set). */
static int set_budgets(faas_runtime *rt, ff_file *f, const char *name)
{
    int failed = 0;
    for (size_t i = 0; i < f->nbudgets; i++) {
        const ff_budget *bu = &f->budgets[i];
        int rc = faas_budget_set(rt, bu->tag, bu->limit_picousd, bu->window_ms);
        if (rc != FAAS_OK) {
            file_error(f, name, bu->line, "[budget %s]: %s: %s", bu->tag, faas_err_name(rc),
                       faas_last_error());
            failed++;
        } else if (f->check_only) {
            faas_budget_remove(rt, bu->tag);
        }
    }
    return failed;
}

/* The versions of function (NULL: every function), in the order of the file: each
 * publish must make the number its section says (publishing what did not change returns
 * the last version, as Lambda's PublishVersion does). */
static int publish_versions(faas_runtime *rt, ff_file *f, const char *name,
                            const char *function)
{
    int failed = 0;
    for (size_t i = 0; i < f->nversions; i++) {
        const ff_version *v = &f->versions[i];
        if ((function != NULL && strcmp(v->function, function) != 0) ||
            faas_lookup(rt, v->function) == NULL)
            continue;               /* its registration failed: said already */
        uint32_t got = 0;
        int rc = faas_publish_version(rt, v->function, v->description, &got);
        if (rc != FAAS_OK) {
            file_error(f, name, v->line, "[version %s:%u]: %s: %s", v->function, v->number,
                       faas_err_name(rc), faas_last_error());
            failed++;
        } else if (got != v->number) {
            file_error(f, name, v->line, "[version %s:%u]: published as version %u: nothing "
                       "changed since it (its code and configuration are the same)",
                       v->function, v->number, got);
            failed++;
        }
    }
    return failed;
}

/* The aliases of function (NULL: every function), once its versions are published. */
static int set_aliases(faas_runtime *rt, ff_file *f, const char *name, const char *function)
{
    int failed = 0;
    for (size_t i = 0; i < f->naliases; i++) {
        const ff_alias *a = &f->aliases[i];
        if ((function != NULL && strcmp(a->function, function) != 0) ||
            faas_lookup(rt, a->function) == NULL)
            continue;
        int rc = faas_alias_set(rt, a->function, a->alias, a->version, a->extra_version,
                                a->extra_weight);
        if (rc != FAAS_OK) {
            file_error(f, name, a->line, "[alias %s:%s]: %s: %s", a->function, a->alias,
                       faas_err_name(rc), faas_last_error());
            failed++;
        }
    }
    return failed;
}

int ff_register(faas_runtime *rt, ff_file *f, const char *name)
{
    int failed = 0;
    faas_trigger_id sched, watch;
    if (name == NULL)
        name = "(functions)";
    if (f->check_only) {
        /* Each function is checked, then removed: the library holds one at a time (a few
         * KB each: 95,000 sections once took 366 MB to check). */
        for (size_t i = 0; i < f->n; i++) {
            ff_function *fn = &f->fns[i];
            failed += register_one(rt, f, fn, name);
            if (!fn->registered)
                continue;
            if (f->nversions + f->naliases > 0) {
                failed += publish_versions(rt, f, name, fn->name);
                failed += set_aliases(rt, f, name, fn->name);
            }
            if (!f->no_sources)
                failed += start_sources(rt, f, fn, name, &sched, &watch);
            if (!f->no_sources && sched != 0)
                faas_unschedule(rt, sched);
            if (!f->no_sources && watch != 0)
                faas_unwatch(rt, watch);
            if (!f->no_sources && fn->reload)
                faas_update_follow(rt, fn->name, 0);
            faas_unregister(rt, fn->name);
        }
        return failed + set_budgets(rt, f, name);
    }
    for (size_t i = 0; i < f->n; i++)
        failed += register_one(rt, f, &f->fns[i], name);
    /* Before any schedule or watch can start a call. */
    failed += set_budgets(rt, f, name);
    failed += publish_versions(rt, f, name, NULL);
    failed += set_aliases(rt, f, name, NULL);
    /* Event sources once every function is there. */
    for (size_t i = 0; i < f->n; i++) {
        ff_function *fn = &f->fns[i];
        if (fn->registered && !f->no_sources)
            failed += start_sources(rt, f, fn, name, &sched, &watch);
    }
    return failed;
}

int ff_load_or_report(const char *path, ff_file *out)
{
    int rc = ff_load(path, out);
    if (rc == 0)
        return 0;
    ff_print_errors(out);
    if (rc < 0)
        fprintf(stderr, "faas: out of memory\n");
    ff_free(out);
    return rc < 0 ? 1 : 2;
}

void ff_print_errors(const ff_file *f)
{
    for (size_t i = 0; i < f->nerrors; i++)
        fprintf(stderr, "%s\n", f->errors[i]);
}

void ff_free(ff_file *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++) {
        ff_function *fn = &f->fns[i];
        free(fn->name);
        free(fn->module);
        free(fn->symbol);
        free(fn->ffi);
        free(fn->dead_letter);
        free(fn->tag);
        free(fn->schedule);
        free(fn->schedule_tz);
        free(fn->watch);
        free(fn->watch_prefix);
        free(fn->watch_suffix);
        free(fn->qualifier);
        free(fn->command);
        free_words(fn->argv);
        free(fn->handler);
        free(fn->user);
        free_words(fn->writable);
        free(fn->cwd);
        free_words(fn->environment);
    }
    for (size_t i = 0; i < f->nversions; i++) {
        free(f->versions[i].function);
        free(f->versions[i].description);
    }
    free(f->versions);
    for (size_t i = 0; i < f->naliases; i++) {
        free(f->aliases[i].function);
        free(f->aliases[i].alias);
    }
    free(f->aliases);
    free(f->fns);
    for (size_t i = 0; i < f->nbudgets; i++)
        free(f->budgets[i].tag);
    free(f->budgets);
    for (size_t i = 0; i < f->nerrors; i++)
        free(f->errors[i]);
    free(f->errors);
    memset(f, 0, sizeof *f);
}
