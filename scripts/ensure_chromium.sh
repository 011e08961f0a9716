#!/bin/sh
# Make sure Debian's chromium (and its driver) are installed for the real-browser end-to-end test
# (tests/e2e/test_browser_flow.py drives /usr/bin/chromium through Playwright; Playwright's own browser download
# is not used). Called by .ci/run. Runs as root (no sudo); does nothing when chromium is already there.
set -eu
if [ -x /usr/bin/chromium ]; then
    echo "chromium present: $(dpkg-query -W -f='${Version}' chromium 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "ensure_chromium: /usr/bin/chromium is missing and this is not root; install it with:" >&2
    echo "    apt-get update -qq && apt-get install -y -qq chromium chromium-driver" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver
if [ ! -x /usr/bin/chromium ]; then
    echo "ensure_chromium: apt-get finished but /usr/bin/chromium is still missing" >&2
    exit 1
fi
echo "chromium installed: $(dpkg-query -W -f='${Version}' chromium 2>/dev/null || echo /usr/bin/chromium)"
