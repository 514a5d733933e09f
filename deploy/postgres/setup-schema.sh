#!/bin/sh
# Creates Temporal's databases on PostgreSQL and brings their schemas to the version the
# admin-tools image ships, with the server's own temporal-sql-tool. Safe to run again: an existing
# database is kept and only missing schema versions are applied. deploy/compose.yaml runs it in
# temporalio/admin-tools; .ci/postgres.sh runs the same steps with the tool built from the module.
#
# Environment: SQL_HOST, SQL_PORT (5432), SQL_USER, SQL_PASSWORD,
#              SCHEMA_DIR (/etc/temporal/schema/postgresql/v12)
set -eu
: "${SQL_HOST:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
SQL_PORT=${SQL_PORT:-5432}
SCHEMA_DIR=${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
export SQL_PLUGIN=postgres12 SQL_HOST SQL_PORT SQL_USER SQL_PASSWORD

for db in temporal temporal_visibility; do
  case $db in
    temporal) dir=$SCHEMA_DIR/temporal/versioned ;;
    *) dir=$SCHEMA_DIR/visibility/versioned ;;
  esac
  temporal-sql-tool --database "$db" create-database 2>/dev/null || echo "database $db exists"
  # update-schema needs the version table that setup-schema creates on an empty database.
  if ! temporal-sql-tool --database "$db" update-schema --schema-dir "$dir"; then
    temporal-sql-tool --database "$db" setup-schema --version 0.0
    temporal-sql-tool --database "$db" update-schema --schema-dir "$dir"
  fi
done
echo "Temporal schemas are up to date"
