#!/usr/bin/env bash
# /docker-entrypoint-initdb.d hook for the official postgres image (docker/compose.yaml):
# the same roles and data as the test environment (scripts/lib/bootstrap.sql).
# Passwords are read by psql from /run/segproxy-secrets; never printed.
set -euo pipefail
psql -X -q -v ON_ERROR_STOP=1 -v secrets_dir=/run/segproxy-secrets \
  --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -f /segproxy/bootstrap.sql
