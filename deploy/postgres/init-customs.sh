#!/bin/sh
# Runs once, when the PostgreSQL container of deploy/compose.yaml initialises its data directory
# (/docker-entrypoint-initdb.d): the release register's role and database, with the password in
# CUSTOMS_DB_PASSWORD, the one the workers' CUSTOMS_RELEASE_DB uses. psql reads it from the
# environment (\getenv), so it appears in no command line. The workers create their table and
# sequence; Temporal's own databases are created by the temporal-schema service. .ci/postgres.sh
# runs this script too.
set -eu
: "${CUSTOMS_DB_PASSWORD:?CUSTOMS_DB_PASSWORD: required, the release register's password}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv password CUSTOMS_DB_PASSWORD
CREATE ROLE customs LOGIN PASSWORD :'password';
CREATE DATABASE customs OWNER customs;
SQL
