#!/usr/bin/env sh
# The proxy tests (tests/e2e) start their own tinyproxy on a free port; install it when missing.
exec sh "$(dirname "$0")/ensure-command.sh" tinyproxy tinyproxy tinyproxy "the proxy tests under tests/e2e"
