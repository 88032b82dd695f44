#!/usr/bin/env sh
# The Postgres tests (tests/dlt/test_dlt_postgres.py) load into a throwaway Postgres cluster
# of their own: this script installs Debian's postgresql package when no server is found,
# then creates and starts that cluster unless it is already running (then it does nothing).
#
#   listens on 127.0.0.1 only, port 55432 (no other address, no socket outside its folder)
#   role voucherify, password voucherify-test (LOGIN, CREATEDB), database voucherify:
#   VOUCHERIFY_TEST_POSTGRES_DSN=postgresql://voucherify:voucherify-test@127.0.0.1:55432/voucherify
#
# The tests read that DSN from VOUCHERIFY_TEST_POSTGRES_DSN, with those values by default.
# The cluster's files, and its log (server.log), are in /tmp/voucherify-postgres-55432, owned
# by the postgres user when run as root. It runs with fsync off: its data is throwaway.
# Stop it:  pg_ctl -D /tmp/voucherify-postgres-55432 stop  (as the postgres user when root);
# remove that folder to start afresh.
set -eu
port=55432
dir=/tmp/voucherify-postgres-$port
role=voucherify
password=voucherify-test
database=voucherify
needed_by="the Postgres tests under tests/dlt"

# The server's programs: on the PATH (Homebrew, other systems), or where Debian keeps them,
# one folder per major version, the newest first.
server_bin() {
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [ -x "$candidate/pg_ctl" ] && [ -x "$candidate/initdb" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if ! bin=$(server_bin); then
    # pg_ctlcluster comes with the server (postgresql-common), not with the client alone.
    sh "$(dirname "$0")/ensure-command.sh" pg_ctlcluster postgresql postgresql "$needed_by"
    bin=$(server_bin) || {
        echo "cannot find the Postgres server's programs (initdb, pg_ctl): install them" \
            "(Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql)," \
            "needed by $needed_by" >&2
        exit 1
    }
fi
psql=psql
[ -x "$bin/psql" ] && psql=$bin/psql

# Postgres refuses to run as root: as root, the cluster belongs to the postgres user.
if [ "$(id -u)" = "0" ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "cannot start Postgres as root without a postgres user: run this as another user," \
            "needed by $needed_by" >&2
        exit 1
    fi
    as_owner() {
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$*"
        fi
    }
else
    as_owner() { "$@"; }
fi

running() {
    as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1
}

# One run at a time (flock where there is one): a second one waits, then finds it running.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$dir.lock"
    flock -w 120 9 || { echo "another ensure-postgres.sh has held $dir.lock for 120 s" >&2; exit 1; }
fi

if [ -f "$dir/voucherify-ready" ] && running; then
    exit 0
fi

if [ ! -f "$dir/voucherify-ready" ]; then
    # Never set up, or a setup that was stopped halfway: start from nothing.
    if [ -d "$dir" ]; then
        as_owner "$bin/pg_ctl" -D "$dir" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
    echo "creating a throwaway Postgres cluster in $dir for $needed_by..." >&2
    as_owner "$bin/initdb" -D "$dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C --no-sync >/dev/null
    # Only the owner can use the socket: it is in the cluster's own folder (mode 700).
    cat >>"$dir/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 50
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi

echo "starting Postgres on 127.0.0.1:$port for $needed_by..." >&2
# The server must not inherit the lock (9>&-), or it would hold it as long as it runs.
if ! as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null 9>&-; then
    echo "Postgres did not start on 127.0.0.1:$port (is the port taken?); the end of" \
        "$dir/server.log:" >&2
    tail -n 5 "$dir/server.log" >&2 || true
    exit 1
fi

if [ ! -f "$dir/voucherify-ready" ]; then
    as_owner "$psql" -h "$dir" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'" \
        -c "CREATE DATABASE $database OWNER $role" >/dev/null
    as_owner touch "$dir/voucherify-ready"
fi
