#!/usr/bin/env sh
# The scale-out tests start their own redis-server on a free port; install it when missing.
exec sh "$(dirname "$0")/ensure-command.sh" redis-server redis-server redis "the tests under tests/scaleout"
