#!/usr/bin/env sh
# The proxy tests (tests/e2e) start their own tinyproxy on a free port; install it when missing.
if command -v tinyproxy >/dev/null 2>&1; then
    exit 0
fi
echo "tinyproxy is missing; installing Debian's tinyproxy package for the tests..." >&2
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -qq tinyproxy >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq tinyproxy >/dev/null 2>&1; }) \
        && command -v tinyproxy >/dev/null 2>&1 && exit 0
fi
echo "cannot install tinyproxy here: install it yourself (Debian/Ubuntu: sudo apt-get install tinyproxy; macOS: brew install tinyproxy); the proxy tests under tests/e2e need it" >&2
exit 1
