#!/bin/sh
# The service's own role (run once, when the data volume is new): it logs in, is no superuser and
# owns nothing; `sip-service migrate` grants it its rights (only SELECT and INSERT on audit_events).
set -eu
psql -v ON_ERROR_STOP=1 -v password="$(cat /run/secrets/sip_app_db_password)" \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE sip_app LOGIN PASSWORD :'password';
SQL
