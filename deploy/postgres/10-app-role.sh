#!/bin/sh
# Creates the role salam's processes log in as (POSTGRES_APP_USER). It owns the application
# database (POSTGRES_DB), so it creates and migrates its own tables there, and nothing more:
# not a superuser, it cannot create databases or roles, and other roles lose their default
# right to connect. The superuser (POSTGRES_USER) is kept for administration only.
#
# The postgres image runs this once, when it initialises an empty data folder. For a data
# folder made before this script existed, run it by hand (it can be run again safely):
#   docker compose exec postgres /docker-entrypoint-initdb.d/10-app-role.sh
set -e
: "${POSTGRES_USER:?set POSTGRES_USER}" "${POSTGRES_DB:?set POSTGRES_DB}"
: "${POSTGRES_APP_USER:?set POSTGRES_APP_USER}" "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD}"
if [ "$POSTGRES_APP_USER" = "$POSTGRES_USER" ]; then
    echo "POSTGRES_APP_USER must not be the superuser POSTGRES_USER ($POSTGRES_USER)" >&2
    exit 1
fi

# Names and the password are read by psql from the environment (\getenv) and quoted by
# format(): nothing is pasted into SQL by the shell, and the password is on no command line.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv app_user POSTGRES_APP_USER
\getenv app_password POSTGRES_APP_PASSWORD
\getenv app_db POSTGRES_DB
SELECT format('CREATE ROLE %I', :'app_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format(
    'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
    'PASSWORD %L', :'app_user', :'app_password') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'app_db', :'app_user') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'app_db') \gexec
SELECT format('ALTER SCHEMA public OWNER TO %I', :'app_user') \gexec
SQL
