#!/bin/sh
# Temporal's two databases on the compose PostgreSQL: created when missing, schemas brought up to date.
# Run once by the temporal-admin-tools service (image temporalio/admin-tools) before the server starts.
set -eu
until nc -z -w 5 postgresql 5432; do echo 'waiting for postgresql:5432'; sleep 1; done
sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"
}
for db in temporal temporal_visibility; do
  sql_tool --db "$db" create || echo "database $db exists"
done
sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo 'Temporal schemas are up to date'
