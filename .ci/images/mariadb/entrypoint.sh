#!/bin/bash
# Entrypoint of rotator-test/mariadb (see the Dockerfile): the part of the
# official mariadb image's docker-entrypoint.sh that testcontainers-go's
# mysql module and tests use.
#
# Environment, read when the data directory is empty (MARIADB_* wins over
# MYSQL_*):
#   MARIADB_ROOT_PASSWORD / MYSQL_ROOT_PASSWORD     root's password
#   MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MYSQL_ALLOW_EMPTY_PASSWORD
#                                                   root without a password
#   MARIADB_RANDOM_ROOT_PASSWORD / MYSQL_RANDOM_ROOT_PASSWORD
#                                                   a random one, printed
#   MARIADB_ROOT_HOST / MYSQL_ROOT_HOST             root's remote host (%)
#   MARIADB_DATABASE / MYSQL_DATABASE               a database to create
#   MARIADB_USER / MYSQL_USER, MARIADB_PASSWORD / MYSQL_PASSWORD
#                                                   a user with every right
#                                                   on that database
# and /docker-entrypoint-initdb.d/*.sql (run as root) and *.sh (sourced).
set -euo pipefail

# `docker run IMAGE --option`: options for the server.
if [ "${1:0:1}" = - ]; then
  set -- mariadbd "$@"
fi
case "$1" in
mariadbd | mysqld) ;;
*) exec "$@" ;;
esac

if [ "$(id -u)" = 0 ]; then
  mkdir -p /var/lib/mysql /run/mysqld
  chown mysql:mysql /var/lib/mysql /run/mysqld
  exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi

env_of() { # env_of NAME: $MARIADB_NAME, else $MYSQL_NAME (else $MYSQL_ALT for the second argument)
  local m=MARIADB_$1 y=MYSQL_${2:-$1}
  printf '%s' "${!m:-${!y:-}}"
}
sql_string() { # a SQL string literal (backslash escapes are on by default)
  local s=${1//\\/\\\\}
  s=${s//\'/\\\'}
  printf "'%s'" "$s"
}
# shellcheck disable=SC2016 # backticks quote SQL identifiers
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }
is_yes() { case "${1,,}" in 1 | yes | true | on) return 0 ;; *) return 1 ;; esac }

if [ ! -d /var/lib/mysql/mysql ]; then
  root_pw=$(env_of ROOT_PASSWORD)
  allow_empty=$(env_of ALLOW_EMPTY_ROOT_PASSWORD ALLOW_EMPTY_PASSWORD)
  random_pw=$(env_of RANDOM_ROOT_PASSWORD)
  root_host=$(env_of ROOT_HOST)
  root_host=${root_host:-%}
  db=$(env_of DATABASE)
  user=$(env_of USER)
  password=$(env_of PASSWORD)
  if [ -z "$root_pw" ] && is_yes "$random_pw"; then
    root_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    echo "entrypoint: GENERATED ROOT PASSWORD: $root_pw"
  fi
  if [ -z "$root_pw" ] && ! is_yes "$allow_empty"; then
    echo "entrypoint: the database is not initialised and no root password is set: set MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD), MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD" >&2
    exit 1
  fi
  if [ -n "$user" ] && [ "$user" != root ] && [ -z "$password" ]; then
    echo "entrypoint: MARIADB_USER (MYSQL_USER) is set without MARIADB_PASSWORD (MYSQL_PASSWORD)" >&2
    exit 1
  fi

  mariadb-install-db --datadir=/var/lib/mysql --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve >/dev/null

  # A server on a private socket only, for the time the accounts take.
  sock=/run/mysqld/init.sock
  "$@" --skip-networking --socket="$sock" &
  pid=$!
  for _ in $(seq 300); do
    if mariadb-admin --socket="$sock" -uroot --silent ping >/dev/null 2>&1; then break; fi
    kill -0 "$pid" 2>/dev/null || {
      echo "entrypoint: the server exited during initialisation" >&2
      exit 1
    }
    sleep 0.1
  done

  pw=$(sql_string "$root_pw")
  {
    echo "SET @@SESSION.SQL_LOG_BIN = 0;"
    # Only root@localhost and root@$root_host remain, both with a password.
    echo "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost'));"
    echo "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';"
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
    if [ "$root_host" != localhost ]; then
      echo "CREATE USER 'root'@$(sql_string "$root_host") IDENTIFIED BY $pw;"
      echo "GRANT ALL ON *.* TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;"
    fi
    if [ -n "$db" ]; then
      echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$db");"
    fi
    if [ -n "$user" ] && [ "$user" != root ]; then
      echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
      if [ -n "$db" ]; then
        echo "GRANT ALL ON $(sql_ident "$db").* TO $(sql_string "$user")@'%';"
      fi
    fi
  } | mariadb --socket="$sock" -uroot --batch

  cnf=$(mktemp)
  printf '[client]\nuser=root\npassword=%s\nsocket=%s\n' "$root_pw" "$sock" >"$cnf"
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
    *.sql)
      echo "entrypoint: running $f" >&2
      mariadb --defaults-extra-file="$cnf" ${db:+"$db"} <"$f"
      ;;
    *.sh)
      echo "entrypoint: running $f" >&2
      # shellcheck disable=SC1090
      . "$f"
      ;;
    *) echo "entrypoint: ignoring $f" >&2 ;;
    esac
  done
  mariadb-admin --defaults-extra-file="$cnf" shutdown
  rm -f "$cnf"
  wait "$pid" || true
fi

exec "$@"
