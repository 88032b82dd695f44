#!/usr/bin/env sh
# The scale-out tests start their own redis-server on a free port; install it when missing.
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
echo "redis-server is missing; installing Debian's redis-server package for the tests..." >&2
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -qq redis-server >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq redis-server >/dev/null 2>&1; }) \
        && command -v redis-server >/dev/null 2>&1 && exit 0
fi
echo "cannot install redis-server here: install it yourself (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis); the tests under tests/scaleout need it" >&2
exit 1
