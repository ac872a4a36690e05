#!/bin/sh
# Starts Redis with salam's ACL user: `start.sh redis-server CONFIG [OPTIONS...]`.
#
# The password comes from REDIS_APP_PASSWORD and goes, as its SHA-256, into an ACL file that
# only Redis reads, so it is on no command line (`ps`, `docker inspect`). The default user is
# off: a client must log in as REDIS_APP_USER, which may use every key and channel but no
# administrative or dangerous command (CONFIG, FLUSHALL, KEYS, SHUTDOWN, ACL, DEBUG...).
set -eu
: "${REDIS_APP_USER:?set REDIS_APP_USER}"
: "${REDIS_APP_PASSWORD:?set REDIS_APP_PASSWORD}"
acl_file="${REDIS_ACL_FILE:-/run/salam-redis/users.acl}"
template="$(dirname "$0")/users.acl.template"

mkdir -p "$(dirname "$acl_file")"
umask 077
password_hash=$(printf '%s' "$REDIS_APP_PASSWORD" | sha256sum | cut -d ' ' -f 1)
sed -e "s/@APP_USER@/$REDIS_APP_USER/" -e "s/@APP_PASSWORD_SHA256@/$password_hash/" \
    "$template" >"$acl_file"
# The image's entrypoint runs Redis as the `redis` user: it must be able to read the file.
if [ "$(id -u)" = 0 ] && id redis >/dev/null 2>&1; then
    chown redis:redis "$(dirname "$acl_file")" "$acl_file"
fi
exec "$@" --aclfile "$acl_file"
