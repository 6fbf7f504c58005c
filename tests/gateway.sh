#!/bin/sh
# gateway.sh - the HTTP gateway against real AWS clients: runs tests/gateway/ (pytest,
# /usr/bin/python3 with Debian's boto3; /usr/bin/aws) and relays its TAP, one case per
# pytest case. Skips, and says why, when the gateway or a client is missing.
. "$top_srcdir/tests/tap.sh"
cd "$top_builddir" || exit 1
py=/usr/bin/python3
if ! grep -q '^#define FAAS_HAVE_GATEWAY 1' config.h 2>/dev/null; then
    echo "1..0 # SKIP built without the HTTP gateway (libmicrohttpd)"
    exit 0
fi
if ! "$py" -c 'import boto3, botocore, pytest' 2>/dev/null; then
    echo "1..0 # SKIP $py lacks boto3 or pytest (apt-get install python3-boto3 python3-pytest)"
    exit 0
fi
if [ ! -x /usr/bin/aws ]; then
    echo "1..0 # SKIP /usr/bin/aws is missing (apt-get install awscli)"
    exit 0
fi
# No stray AWS settings of the machine leak into the clients.
AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_LAMBDA FAAS_GATEWAY_TOKEN
PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -s -p no:terminal -p no:cacheprovider \
    --rootdir "$top_srcdir/tests/gateway" "$top_srcdir/tests/gateway"
rc=$?
# 1 is "some tests failed", already in the TAP; anything else is the suite itself failing.
[ $rc -le 1 ] || { echo "# pytest exited $rc"; exit $rc; }
exit 0
