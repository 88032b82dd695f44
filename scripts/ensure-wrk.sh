#!/usr/bin/env sh
# The web benchmark (benchmarks/web.py) loads its apps with wrk; install it when missing.
exec sh "$(dirname "$0")/ensure-command.sh" wrk wrk wrk "python -m benchmarks --only web"
