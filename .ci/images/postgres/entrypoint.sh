#!/bin/bash
# Entrypoint of rotator-test/postgres (see the Dockerfile): the part of the
# official postgres image's docker-entrypoint.sh that testcontainers-go's
# postgres module and the project's test rigs use.
#
# Environment, read when the data directory is empty:
#   POSTGRES_PASSWORD           the superuser's password (required unless
#                               POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER               the superuser (default postgres)
#   POSTGRES_DB                 a database to create (default POSTGRES_USER)
#   POSTGRES_HOST_AUTH_METHOD   scram-sha-256 (default), md5, password or trust
#   POSTGRES_INITDB_ARGS        extra initdb arguments
# and /docker-entrypoint-initdb.d/*.sh (sourced) and *.sql (run by psql).
set -euo pipefail

# `docker run IMAGE -c fsync=off`: options for the server.
if [ "${1:0:1}" = - ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
    echo "entrypoint: the database is not initialised and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  local_method=$method
  enc=scram-sha-256
  # --no-sync: a test server's files need not survive a crash, and syncing
  # a new cluster takes seconds on a busy disk.
  if [ "$method" = md5 ]; then enc=md5; fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C \
    --auth-local="$local_method" --auth-host="$method" --no-instructions --no-sync \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"

  # Every connection, local or over TCP, TLS or not, logs in with a password.
  printf 'local all all %s\nhost all all all %s\n' "$local_method" "$method" >"$PGDATA/pg_hba.conf"
  cat >>"$PGDATA/postgresql.conf" <<EOF

# rotator-test/postgres
listen_addresses = '*'
password_encryption = '$enc'
ssl = on
ssl_cert_file = '/etc/rotator-test/server.pem'
ssl_key_file = '/etc/rotator-test/server.key'
EOF

  # A database other than postgres, or init scripts: a server on the Unix
  # socket only, for the time it takes.
  shopt -s nullglob
  scripts=(/docker-entrypoint-initdb.d/*)
  if [ "$POSTGRES_DB" != postgres ] || [ ${#scripts[@]} -gt 0 ]; then
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" start >/dev/null
    export PGPASSWORD=${POSTGRES_PASSWORD:-} PGHOST=/var/run/postgresql PGUSER=$POSTGRES_USER
    psql=(psql -X -q -v ON_ERROR_STOP=1 -d postgres)
    if [ "$POSTGRES_DB" != postgres ]; then
      "${psql[@]}" -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in "${scripts[@]}"; do
      case "$f" in
      *.sh)
        echo "entrypoint: running $f" >&2
        # shellcheck disable=SC1090
        . "$f"
        ;;
      *.sql)
        echo "entrypoint: running $f" >&2
        "${psql[@]}" -d "$POSTGRES_DB" -f "$f"
        ;;
      *) echo "entrypoint: ignoring $f" >&2 ;;
      esac
    done
    unset PGPASSWORD PGHOST PGUSER
    pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
  fi
fi

exec "$@"
