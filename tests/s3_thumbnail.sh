#!/bin/sh
# s3_thumbnail.sh - the examples/s3-thumbnail host and module: images copied into a watched
# uploads/ directory come out of processed/ as grayscale PNG thumbnails with the right
# pixels; a key with a space is decoded; a file that is not an image fails the call.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
host=examples/s3-thumbnail/s3-thumbnail
module=examples/s3-thumbnail/.libs/thumbnail.so
py=/usr/bin/python3
[ -x "$py" ] || py=$PYTHON3
if [ ! -x "$host" ] || [ ! -f "$module" ]; then
    skip "the s3-thumbnail example is not built (libpng-dev missing)"
    done_testing
fi
if [ -z "$py" ] || ! "$py" -c 'import zlib' 2>/dev/null; then
    skip "python3 is needed to check the PNG files"
    done_testing
fi
tmp=${TMPDIR:-/tmp}/faas-thumb-$$
mkdir -p "$tmp/in" "$tmp/work"
trap 'rm -rf "$tmp"' EXIT

# A 4x2 PPM with a comment: red green blue white / black gray (10,52,86) yellow.
printf 'P6\n# eight pixels\n4 2\n255\n' > "$tmp/in/colors.ppm"
printf '\377\000\000\000\377\000\000\000\377\377\377\377\000\000\000\200\200\200\012\064\126\377\377\000' \
    >> "$tmp/in/colors.ppm"
cp "$tmp/in/colors.ppm" "$tmp/in/my photo.ppm"
# A PGM with maxval 15, and two PNGs (small RGB, and a wide one that is scaled down).
printf 'P5 2 1 15\n\000\017' > "$tmp/in/dim.pgm"
"$py" - "$tmp/in" <<'PY'
import struct, sys, zlib
def png(path, w, h, pixels):
    raw = b"".join(b"\x00" + bytes(pixels[y * w * 3:(y + 1) * w * 3]) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png(sys.argv[1] + "/small.png", 3, 1, [200, 100, 50, 0, 0, 0, 1, 2, 3])
png(sys.argv[1] + "/wide.png", 300, 10, [(x * 7 + y) % 256 for y in range(10) for x in range(300) for _ in range(3)])
PY

check "the host makes a thumbnail of every upload and exits 0" \
    "$host" --once "$module" "$tmp/work" "$tmp/in/colors.ppm" "$tmp/in/my photo.ppm" \
    "$tmp/in/dim.pgm" "$tmp/in/small.png" "$tmp/in/wide.png"

# Decode a grayscale PNG (all five row filters) and compare with the expected pixels.
verify() {  # file width height [pixels...]
    "$py" - "$@" <<'PY'
import struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
want = [int(v) for v in sys.argv[4:]]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, = struct.unpack(">I", data[pos:pos + 4]); t = data[pos + 4:pos + 8]; d = data[pos + 8:pos + 8 + n]
    if t == b"IHDR": ihdr = struct.unpack(">IIBBBBB", d)
    if t == b"IDAT": idat += d
    pos += 12 + n
assert ihdr[:4] == (w, h, 8, 0), "IHDR %r, expected %dx%d 8-bit grayscale" % (ihdr, w, h)
raw, rows, prev = zlib.decompress(idat), [], [0] * w
for y in range(h):
    f, line = raw[y * (w + 1)], list(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
    for x in range(w):
        a = line[x - 1] if x else 0; b = prev[x]; c = prev[x - 1] if x else 0
        p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        pred = [0, a, b, (a + b) // 2, a if pa <= pb and pa <= pc else b if pb <= pc else c][f]
        line[x] = (line[x] + pred) & 255
    rows += line; prev = line
assert not want or rows == want, "pixels %r, expected %r" % (rows, want)
PY
}
# Luma (299 R + 587 G + 114 B) / 1000, rounded.
check "colors.ppm: 4x2 grayscale with BT.601 luma" \
    verify "$tmp/work/processed/colors.png" 4 2 76 150 29 255 0 128 43 226
check "a key with a space ('my+photo.ppm' in the event) is decoded" \
    verify "$tmp/work/processed/my photo.png" 4 2 76 150 29 255 0 128 43 226
check "dim.pgm: 8-bit from maxval 15" verify "$tmp/work/processed/dim.png" 2 1 0 255
check "small.png: RGB PNG in, grayscale out" verify "$tmp/work/processed/small.png" 3 1 124 0 2
check "wide.png: 300x10 scaled to fit 128x128 (128x4)" verify "$tmp/work/processed/wide.png" 128 4

printf 'just text\n' > "$tmp/in/notes.txt"
out=$("$host" --once "$module" "$tmp/work" "$tmp/in/notes.txt" 2>&1)
status=$?
case "$status:$out" in
    1:*InvalidImage*) ok "a file that is not an image fails its call (InvalidImage), exit 1" ;;
    *) not_ok "a file that is not an image fails its call (InvalidImage), exit 1"
       printf '%s\n' "status $status" "$out" | sed 's/^/# /' ;;
esac
done_testing
