#!/usr/bin/env bash
# A throw-away PostgreSQL server from Debian's packages (apt-get install postgresql), for
# the store tests: `start` makes a cluster in DIR, starts it as the unprivileged user
# `postgres` on 127.0.0.1:PORT only (and a unix socket in DIR), creates the database
# wfkit_test and prints its URL, for WFKIT_TEST_POSTGRES_URL; `stop` stops it and deletes
# DIR; `restart` restarts it (fast shutdown: connections are cut). Local connections are trusted: for tests on this machine only.
#
#   export WFKIT_TEST_POSTGRES_URL="$(bash tests/postgres_server.sh start)"
#   .venv/bin/python -m pytest tests/store
#   bash tests/postgres_server.sh stop
set -euo pipefail

ACTION="${1:-start}"
DIR="${2:-/tmp/wfkit-pgdata}"
PORT="${3:-55432}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$BIN" ]; then
    echo "no PostgreSQL server here: apt-get install postgresql" >&2
    exit 1
fi

as_postgres() {  # the server refuses to run as root
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$*"
    else
        sh -c "$*"
    fi
}

case "$ACTION" in
start)
    rm -rf "$DIR"
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    as_postgres "'$BIN/initdb' -D '$DIR/data' -U postgres --auth=trust -E UTF8 >'$DIR/initdb.log'"
    as_postgres "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -w -o \"-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null"
    as_postgres "'$BIN/createdb' -h 127.0.0.1 -p $PORT -U postgres wfkit_test"
    echo "postgresql://postgres@127.0.0.1:$PORT/wfkit_test"
    ;;
restart)
    as_postgres "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -m fast -w restart >/dev/null"
    ;;
stop)
    if [ -d "$DIR/data" ]; then
        as_postgres "'$BIN/pg_ctl' -D '$DIR/data' -m fast -w stop >/dev/null" || true
    fi
    rm -rf "$DIR"
    ;;
*)
    echo "usage: $0 start|restart|stop [DIR] [PORT]" >&2
    exit 2
    ;;
esac
