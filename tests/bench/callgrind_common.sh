# callgrind_common.sh - the body callgrind.sh and callgrind_async.sh share, sourced by them
# (not run on its own): their -d and -h options, the checks, how BENCH is run under valgrind
# (a libtool wrapper through libtool, a .libs binary with LD_LIBRARY_PATH), the work
# directory that KEEP=1 keeps, and the total Ir of a callgrind.out file.
#
# The sourcing script sets, before `. callgrind_common.sh`:
#   cg_name   its name, for messages        cg_what   what -d names (case, system)
#   cg_help   the sed range of its header   cg_tmp    the work directory's name prefix
#   cg_bench, cg_k1, cg_k2                  the defaults of BENCH, K1 and K2
# and gets: detail (-d's argument, or empty), bench, k1, k2, valgrind, runner (empty, or
# libtool's words to put before valgrind), tmp (the work directory), and the functions
# cg_callgrind, cg_ir, cg_need_annotate and cg_annotate below.
# shellcheck shell=sh disable=SC2034,SC2154  # variables the sourcing script sets and reads

detail=
while [ $# -gt 0 ]; do
    case $1 in
    -d) [ $# -ge 2 ] || { echo "$cg_name: -d needs a $cg_what" >&2; exit 2; }
        detail=$2; shift 2 ;;
    -h|--help) sed -n "${cg_help}p" "$0"; exit 0 ;;
    -*) echo "$cg_name: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
bench=${1:-$cg_bench}
k1=${K1:-$cg_k1}
k2=${K2:-$cg_k2}
valgrind=${VALGRIND:-valgrind}

[ -x "$bench" ] || { echo "$cg_name: $bench: not found (build it: make bench)" >&2; exit 1; }
command -v "$valgrind" >/dev/null 2>&1 || { echo "$cg_name: no $valgrind" >&2; exit 1; }
[ "$k2" -gt "$k1" ] || { echo "$cg_name: K2 must be more than K1" >&2; exit 2; }

# A libtool wrapper script needs libtool to find the real binary and libfaas/.libs.
runner=
if head -c 2 "$bench" | grep -q '^#!'; then
    lt=${LIBTOOL:-$(dirname "$bench")/../../libtool}
    if [ -x "$lt" ]; then
        runner="$lt --mode=execute"
    else
        echo "$cg_name: $bench is a libtool wrapper and there is no $lt;" \
             "set LIBTOOL=path/to/libtool" >&2
        exit 1
    fi
else
    # The real binary of an uninstalled build (<build>/tests/bench/.libs/bench_core):
    # it finds the uninstalled libfaas only through LD_LIBRARY_PATH.
    libdir=$(dirname "$bench")/../../../libfaas/.libs
    case $(dirname "$bench") in
    */.libs|.libs)
        if [ -d "$libdir" ]; then
            LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
            export LD_LIBRARY_PATH
        fi ;;
    esac
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$cg_tmp.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "$cg_name: keeping $tmp" >&2
else
    trap 'rm -rf "$tmp"' EXIT
fi

# cg_callgrind WHAT LOG ARG...: BENCH under callgrind with ARG... (callgrind's options, then
# "$bench" and its own), its output in LOG; if it fails, says WHAT failed, LOG's tail, exits.
cg_callgrind() {
    cg_step=$1 cg_log=$2
    shift 2
    # shellcheck disable=SC2086  # $runner is two words or empty
    if ! $runner "$valgrind" --tool=callgrind "$@" >"$cg_log" 2>&1; then
        echo "$cg_name: $cg_step failed:" >&2
        tail -n 20 "$cg_log" >&2
        exit 1
    fi
}

# cg_ir FILE: the total Ir of a callgrind.out file (its "summary:", or "totals:").
cg_ir() {
    sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$1" | head -n 1
}

# cg_need_annotate: -d's check that callgrind_annotate is there.
cg_need_annotate() {
    command -v callgrind_annotate >/dev/null 2>&1 || {
        echo "$cg_name: -d needs callgrind_annotate" >&2; exit 1; }
}

# cg_annotate no|yes FILE OUT: FILE's per-function counts, exclusive (no) or inclusive (yes).
cg_annotate() {
    callgrind_annotate --inclusive="$1" --threshold=100 --auto=no "$2" 2>/dev/null >"$3"
}
