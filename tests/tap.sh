# tap.sh - sourced by the shell tests: TAP output helpers.
tap_n=0
tap_failed=0
ok()     { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=1; echo "not ok $tap_n - $*"; }
skip()   { tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $*"; }
# check DESCRIPTION COMMAND...: one test case from a command's exit status; its output
# is shown as TAP comments when it fails.
check() {
    desc=$1; shift
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; printf '%s\n' "$out" | sed 's/^/# /'; fi
}
done_testing() { echo "1..$tap_n"; exit 0; }
