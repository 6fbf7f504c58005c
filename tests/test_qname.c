/* test_qname.c - the qualified-name parser (libfaas/qname.c) on every well-formed kind and
 * every malformed form, and the SHA-256 behind a version's CodeSha256 (libfaas/sha256.c)
 * on FIPS 180-4's test vectors, in Lambda's base64 (libfaas/base64.c, both ways, on RFC
 * 4648's vectors and what it must refuse). The files are compiled in: they are private to
 * the library. */
#include "util.h"

#include "../libfaas/qname.h"
#include "../libfaas/base64.h"
#include "../libfaas/sha256.h"

static void well_formed_names_parse(void **state)
{
    (void)state;
    char n64[65], q128[64 + 1 + 128 + 1];
    memset(n64, 'n', 64);
    n64[64] = '\0';
    snprintf(q128, sizeof q128, "f:%0128d", 7);     /* 128 digits */
    static const struct { const char *s; enum faas__qkind kind; size_t name_len; } ok[] = {
        { "f", FAAS__Q_NONE, 1 },
        { "resize-image_v2", FAAS__Q_NONE, 15 },
        { "f:$LATEST", FAAS__Q_LATEST, 1 },
        { "f:3", FAAS__Q_VERSION, 1 },
        { "f:4294967296", FAAS__Q_VERSION, 1 },   /* too big: parses, never found */
        { "f:007", FAAS__Q_VERSION, 1 },          /* not canonical: never found */
        { "f:0", FAAS__Q_VERSION, 1 },
        { "f:prod", FAAS__Q_ALIAS, 1 },
        { "my-fn:blue_green-2", FAAS__Q_ALIAS, 5 },
        { "f:3a", FAAS__Q_ALIAS, 1 },
        { "f:$LATEST2", FAAS__Q_OTHER, 1 },       /* Lambda's pattern allows '$' */
        { "f:$latest", FAAS__Q_OTHER, 1 },        /* case matters */
        { "f:a$b", FAAS__Q_OTHER, 1 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        faas__qname q;
        assert_int_equal(faas__qname_parse(ok[i].s, &q), FAAS_OK);
        assert_int_equal(q.kind, ok[i].kind);
        assert_int_equal(q.name_len, ok[i].name_len);
        assert_int_equal(q.len, strlen(ok[i].s));
    }
    faas__qname q;
    assert_int_equal(faas__qname_parse(n64, &q), FAAS_OK);
    assert_int_equal(q.name_len, 64);
    assert_int_equal(faas__qname_parse(q128, &q), FAAS_OK);
    assert_int_equal(q.kind, FAAS__Q_VERSION);
    assert_int_equal(q.len, 130);
}

static void every_malformed_form_is_einval(void **state)
{
    (void)state;
    char n65[66], n65q[70], q129[64 + 1 + 129 + 1];
    memset(n65, 'n', 65);
    n65[65] = '\0';
    snprintf(n65q, sizeof n65q, "%s:1", n65);
    snprintf(q129, sizeof q129, "f:%0129d", 7);
    const char *bad[] = {
        "",                 /* empty */
        ":",                /* empty name and qualifier */
        ":3",               /* empty name */
        "f:",               /* empty qualifier */
        "f::3",             /* second colon, at once */
        "f:3:4",            /* second colon */
        "f:prod:",          /* trailing colon */
        "arn:aws:lambda",   /* an ARN is the gateway's to take apart */
        "f.g",              /* a dot in the name */
        "f:1.0",            /* ... in the qualifier */
        "f:$LATEST.PUBLISHED", /* Lambda's newer form: not supported */
        "f :1", "f: 1", "f:1 ", " f",  /* spaces */
        "f:pr/od", "f/g:1", "f:\t", "f\n",
        "caf\xc3\xa9:1", "f:caf\xc3\xa9",  /* non-ASCII */
        "f:\x7f", "f:\x01",
        n65,                /* 65-character name */
        n65q,               /* ... with a qualifier */
        q129,               /* 129-character qualifier */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        faas__qname q;
        if (faas__qname_parse(bad[i], &q) != FAAS_EINVAL)
            fail_msg("\"%s\" parsed", bad[i]);
    }
    faas__qname q;
    assert_int_equal(faas__qname_parse(NULL, &q), FAAS_EINVAL);
    assert_int_equal(faas__qname_parse("f", NULL), FAAS_EINVAL);
}

/* The parser never reads past the string's NUL: each prefix of a name, in a buffer of
 * exactly its size (ASan sees an overread). */
static void parser_stays_inside_the_string(void **state)
{
    (void)state;
    const char *full = "resize-image:prod-blue_2";
    for (size_t n = 0; n <= strlen(full); n++) {
        char *b = malloc(n + 1);
        memcpy(b, full, n);
        b[n] = '\0';
        faas__qname q;
        int rc = faas__qname_parse(b, &q);
        /* "" and "resize-image:" are malformed; every other prefix parses */
        assert_int_equal(rc, n == 0 || n == 13 ? FAAS_EINVAL : FAAS_OK);
        free(b);
    }
}

static void sha(const void *data, size_t n, char out[45])
{
    faas__sha256 h;
    unsigned char d[32];
    faas__sha256_init(&h);
    faas__sha256_update(&h, data, n);
    faas__sha256_final(&h, d);
    faas__sha256_base64(d, out);
}

static void sha256_matches_the_standard_vectors(void **state)
{
    (void)state;
    char out[45];
    sha("", 0, out);
    assert_string_equal(out, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    sha("abc", 3, out);
    assert_string_equal(out, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  /* 56 bytes */
    sha(two, strlen(two), out);
    assert_string_equal(out, "JI1qYdIGOLjlwCaTDD5gOaM85Flk/yFn9uzt1BnbBsE=");
    /* a million 'a', fed in uneven pieces: the block boundary handling */
    faas__sha256 h;
    unsigned char d[32], chunk[997];
    memset(chunk, 'a', sizeof chunk);
    faas__sha256_init(&h);
    size_t left = 1000000;
    for (size_t k = 1; left > 0; k = k % 997 + 1) {
        size_t take = k < left ? k : left;
        faas__sha256_update(&h, chunk, take);
        left -= take;
    }
    faas__sha256_final(&h, d);
    faas__sha256_base64(d, out);
    assert_string_equal(out, "zcduXJkU+5KBocfihNc+Z/GAmkiklyAOBG05zMcRLNA=");
}

/* RFC 4648's test vectors both ways; padding optional only when asked; every form no
 * encoder gives is -1. */
static void base64_both_ways(void **state)
{
    (void)state;
    static const char *const vec[][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    char text[16];
    unsigned char bytes[16];
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        size_t n = strlen(vec[i][0]);
        assert_int_equal(faas__base64_encode(vec[i][0], n, text), FAAS__BASE64_LEN(n));
        assert_string_equal(text, vec[i][1]);
        assert_int_equal(faas__base64_decode(vec[i][1], strlen(vec[i][1]), bytes, 0), n);
        assert_memory_equal(bytes, vec[i][0], n);
    }
    /* Without padding: only when asked. */
    assert_int_equal(faas__base64_decode("Zm8", 3, bytes, 0), -1);
    assert_int_equal(faas__base64_decode("Zm8", 3, bytes, FAAS__BASE64_PAD_OPTIONAL), 2);
    assert_memory_equal(bytes, "fo", 2);
    assert_int_equal(faas__base64_decode("Zg", 2, bytes, FAAS__BASE64_PAD_OPTIONAL), 1);
    static const char *const bad[] = {
        "Z", "Zm9vY", "Zg=", "Z===", "Zh==", "Zm9=", "Zm9v!A==", "Zm=v", "=Zm9", "Zm 9v",
        "Zm9vYg=A",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long rc = faas__base64_decode(bad[i], strlen(bad[i]), bytes, FAAS__BASE64_PAD_OPTIONAL);
        if (rc != -1)
            print_message("# %s decoded to %ld bytes\n", bad[i], rc);
        assert_int_equal(rc, -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_both_ways),
        cmocka_unit_test(well_formed_names_parse),
        cmocka_unit_test(every_malformed_form_is_einval),
        cmocka_unit_test(parser_stays_inside_the_string),
        cmocka_unit_test(sha256_matches_the_standard_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
