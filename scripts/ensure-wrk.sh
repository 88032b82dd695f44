#!/usr/bin/env sh
# The web benchmark (benchmarks/web.py) loads its apps with wrk; install it when missing.
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
echo "wrk is missing; installing Debian's wrk package for the web benchmark..." >&2
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -qq wrk >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; }) \
        && command -v wrk >/dev/null 2>&1 && exit 0
fi
echo "cannot install wrk here: install it yourself (Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk); python -m benchmarks --only web needs it" >&2
exit 1
