/* thumbnail.c - the classic S3-triggered function, as a libfaas module: it reads the new
 * object named by event['Records'][0]['s3']['bucket']['name'] and ['object']['key'],
 * makes a grayscale thumbnail (at most 128 x 128) and writes it as a PNG into the
 * "processed" bucket. A local bucket is a directory of the current directory, so the
 * object uploads/cat.png is the file ./uploads/cat.png and the thumbnail goes to
 * ./processed/cat.png. Reads PNG (libpng) and binary PPM/PGM; pixels live in the call's
 * arena, so memory_mb bounds the image a call may open. */
#include <faas.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <png.h>

#define THUMB_MAX 128                /* the longer side of a thumbnail, in pixels */

int thumbnail(faas_ctx *ctx, const void *payload, size_t len);

/* Fail the call, and say why in its log, as a Lambda runtime prints an error. */
static int fail(faas_ctx *ctx, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(faas_ctx *ctx, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    faas_ctx_log(ctx, "[ERROR] %s: %s", type, msg);
    return faas_fail(ctx, type, "%s", msg);
}

typedef struct image {
    unsigned       width, height;
    unsigned char *rgb;              /* width x height x 3 bytes */
} image;

/* S3 event keys are URL-encoded with '+' for a space (Python's unquote_plus undoes it). */
static void unquote_plus(const char *in, char *out)
{
    for (; *in; in++) {
        if (*in == '+') {
            *out++ = ' ';
        } else if (*in == '%' && in[1] && in[2]) {
            char hex[3] = { in[1], in[2], 0 };
            *out++ = (char)strtol(hex, NULL, 16);
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

static int read_png(faas_ctx *ctx, const char *path, image *img)
{
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&png, path))
        return fail(ctx, "InvalidImage", "%s: %s", path, png.message);
    png.format = PNG_FORMAT_RGB;     /* libpng converts palette, gray and alpha images */
    img->width = png.width;
    img->height = png.height;
    img->rgb = faas_ctx_alloc(ctx, PNG_IMAGE_SIZE(png));
    if (img->rgb == NULL) {
        png_image_free(&png);
        return -1;                   /* the call ends Runtime.OutOfMemory */
    }
    if (!png_image_finish_read(&png, NULL, img->rgb, 0, NULL))
        return fail(ctx, "InvalidImage", "%s: %s", path, png.message);
    return 0;
}

/* One header token of a PNM file: skips blanks and # comments. */
static int pnm_number(FILE *f, unsigned *out)
{
    int c;
    while ((c = fgetc(f)) == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r')
        if (c == '#')
            while ((c = fgetc(f)) != '\n' && c != EOF)
                ;
    if (c == EOF || c < '0' || c > '9')
        return -1;
    unsigned v = 0;
    for (; c >= '0' && c <= '9'; c = fgetc(f))
        if ((v = v * 10 + (unsigned)(c - '0')) > 100000)
            return -1;
    *out = v;
    return 0;                        /* the single blank after the last token is consumed */
}

/* Binary PPM (P6) or PGM (P5), 8 bits a sample. */
static int read_pnm(faas_ctx *ctx, FILE *f, const char *path, image *img)
{
    int kind = fgetc(f) == 'P' ? fgetc(f) : 0;
    unsigned maxval;
    if ((kind != '6' && kind != '5') || pnm_number(f, &img->width) != 0 ||
        pnm_number(f, &img->height) != 0 || pnm_number(f, &maxval) != 0 || maxval == 0 ||
        maxval > 255 || img->width == 0 || img->height == 0)
        return fail(ctx, "InvalidImage", "%s: not a PNG, binary PPM or PGM image", path);
    size_t pixels = (size_t)img->width * img->height, channels = kind == '6' ? 3 : 1;
    img->rgb = faas_ctx_alloc(ctx, pixels * 3);
    if (img->rgb == NULL)
        return -1;
    if (fread(img->rgb, channels, pixels, f) != pixels)
        return fail(ctx, "InvalidImage", "%s: the image data is cut short", path);
    for (size_t i = pixels; channels == 1 && i-- > 0;) {          /* gray to RGB, in place */
        unsigned char v = img->rgb[i];
        img->rgb[3 * i] = img->rgb[3 * i + 1] = img->rgb[3 * i + 2] = v;
    }
    for (size_t i = 0; maxval != 255 && i < pixels * 3; i++)
        img->rgb[i] = (unsigned char)((img->rgb[i] * 255u + maxval / 2) / maxval);
    return 0;
}

static int read_image(faas_ctx *ctx, const char *path, image *img)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(ctx, "NoSuchKey", "%s: %s", path, strerror(errno));
    unsigned char sig[8] = { 0 };
    size_t n = fread(sig, 1, sizeof sig, f);
    int rc;
    if (n == sizeof sig && png_sig_cmp(sig, 0, sizeof sig) == 0) {
        fclose(f);
        rc = read_png(ctx, path, img);
    } else {
        rewind(f);
        rc = read_pnm(ctx, f, path, img);
        fclose(f);
    }
    return rc;
}

/* Grayscale (ITU-R BT.601 luma) and a box-filter reduction to fit THUMB_MAX. */
static unsigned char *thumb(faas_ctx *ctx, const image *img, unsigned *tw, unsigned *th)
{
    unsigned w = img->width, h = img->height;
    if (w > THUMB_MAX || h > THUMB_MAX) {
        if (w >= h) {
            h = (unsigned)(((unsigned long)h * THUMB_MAX + w / 2) / w);
            w = THUMB_MAX;
        } else {
            w = (unsigned)(((unsigned long)w * THUMB_MAX + h / 2) / h);
            h = THUMB_MAX;
        }
        w = w ? w : 1;
        h = h ? h : 1;
    }
    unsigned char *out = faas_ctx_alloc(ctx, (size_t)w * h);
    if (out == NULL)
        return NULL;
    for (unsigned y = 0; y < h; y++) {
        unsigned y0 = (unsigned)((unsigned long)y * img->height / h);
        unsigned y1 = (unsigned)((unsigned long)(y + 1) * img->height / h);
        for (unsigned x = 0; x < w; x++) {
            unsigned x0 = (unsigned)((unsigned long)x * img->width / w);
            unsigned x1 = (unsigned)((unsigned long)(x + 1) * img->width / w);
            unsigned long sum = 0, count = 0;
            for (unsigned sy = y0; sy < y1; sy++)
                for (unsigned sx = x0; sx < x1; sx++) {
                    const unsigned char *p = img->rgb + 3 * ((size_t)sy * img->width + sx);
                    sum += 299ul * p[0] + 587ul * p[1] + 114ul * p[2];
                    count += 1000;
                }
            out[(size_t)y * w + x] = (unsigned char)((sum + count / 2) / count);
        }
    }
    *tw = w;
    *th = h;
    return out;
}

/* mkdir -p for the directories of path. */
static void make_parents(char *path)
{
    for (char *p = strchr(path, '/'); p != NULL; p = strchr(p + 1, '/')) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
}

int thumbnail(faas_ctx *ctx, const void *payload, size_t len)
{
    json_error_t err;
    json_t *event = json_loadb(payload, len, 0, &err);
    json_t *s3 = json_object_get(json_array_get(json_object_get(event, "Records"), 0), "s3");
    const char *bucket = json_string_value(json_object_get(json_object_get(s3, "bucket"),
                                                           "name"));
    const char *key = json_string_value(json_object_get(json_object_get(s3, "object"), "key"));
    if (bucket == NULL || key == NULL || strstr(key, "..") != NULL) {
        json_decref(event);
        return fail(ctx, "InvalidEvent", "expected an S3 event with a bucket and a key");
    }
    size_t klen = strlen(key), blen = strlen(bucket);
    char *src = faas_ctx_alloc(ctx, blen + klen + 2);
    char *dst = faas_ctx_alloc(ctx, klen + 16);
    if (src == NULL || dst == NULL) {
        json_decref(event);
        return -1;
    }
    memcpy(src, bucket, blen);
    src[blen] = '/';
    unquote_plus(key, src + blen + 1);

    image img;
    int rc = read_image(ctx, src, &img);
    unsigned w, h;
    unsigned char *gray = rc == 0 ? thumb(ctx, &img, &w, &h) : NULL;
    if (gray == NULL) {
        json_decref(event);
        return rc != 0 ? rc : -1;
    }

    /* processed/<key with its extension replaced by .png> */
    strcpy(dst, "processed/");
    char *name = dst + strlen(dst);
    strcpy(name, src + blen + 1);
    char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
    if (dot != NULL && (slash == NULL || dot > slash))
        *dot = '\0';
    strcat(name, ".png");
    make_parents(dst);
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = w;
    png.height = h;
    png.format = PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&png, dst, 0, gray, 0, NULL)) {
        json_decref(event);
        return fail(ctx, "WriteError", "%s: %s", dst, png.message);
    }
    faas_ctx_log(ctx, "%s (%ux%u) -> %s (%ux%u)", src, img.width, img.height, dst, w, h);
    json_t *reply = json_pack("{s:s, s:s, s:s, s:i, s:i}", "bucket", bucket, "key", key,
                              "thumbnail", "processed", "width", (int)w, "height", (int)h);
    char *text = reply ? json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(reply);
    json_decref(event);                      /* bucket and key pointed into it */
    rc = text ? faas_reply(ctx, text, strlen(text)) : -1;
    free(text);
    return rc;
}
