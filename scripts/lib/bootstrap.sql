-- Roles and demo data for segproxy's test environment, demo and compose setup.
-- Run as a superuser connected to database "postgres" with psql:
--   psql -X -q -v ON_ERROR_STOP=1 -v secrets_dir=DIR -f scripts/lib/bootstrap.sql
-- DIR holds billing_rw.pw, legacy_md5.pw, reporting_ro.pw and segproxy_admin.pw.
-- Passwords are read by psql itself (backquote), so they appear in no argv, no file
-- here and no output.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET log_min_error_statement = panic;  -- never log statement text (passwords)

\set pw_billing `cat :'secrets_dir'/billing_rw.pw`
\set pw_legacy `cat :'secrets_dir'/legacy_md5.pw`
\set pw_reporting `cat :'secrets_dir'/reporting_ro.pw`
\set pw_admin `cat :'secrets_dir'/segproxy_admin.pw`

-- SCRAM-SHA-256 (the default password_encryption)
CREATE ROLE billing_rw LOGIN PASSWORD :'pw_billing';
-- MD5-hashed on purpose: exercises the proxy's MD5 client code
SET password_encryption = 'md5';
CREATE ROLE legacy_md5 LOGIN PASSWORD :'pw_legacy';
RESET password_encryption;
CREATE ROLE reporting_ro LOGIN PASSWORD :'pw_reporting';
-- Members log in with a cleartext password, over TLS only (the test environment's
-- pg_hba.conf): exercises backend.auth's `password` pin. No member by default.
CREATE ROLE cleartext_login NOLOGIN;
-- segproxy_admin mints and drops short-lived users for dynamic credentials
-- (proxy/dynamic_credentials): CREATEROLE creates/alters/comments/drops them and (on
-- PostgreSQL 15) grants any non-superuser role; pg_signal_backend lets it terminate
-- their sessions. It is deliberately NOT a member of billing_rw / reporting_ro (a
-- member would inherit their data rights); PostgreSQL 16+ needs instead
-- GRANT billing_rw, reporting_ro TO segproxy_admin WITH ADMIN OPTION, INHERIT FALSE.
CREATE ROLE segproxy_admin LOGIN CREATEROLE PASSWORD :'pw_admin';
GRANT pg_signal_backend TO segproxy_admin;
\unset pw_billing
\unset pw_legacy
\unset pw_reporting
\unset pw_admin

CREATE DATABASE shop OWNER postgres;
\connect shop
SET client_min_messages = warning;

CREATE TABLE public.orders (
  id serial PRIMARY KEY,
  customer text NOT NULL,
  amount numeric(12,2) NOT NULL
);
CREATE TABLE public.order_items (
  id serial PRIMARY KEY,
  order_id integer NOT NULL REFERENCES public.orders(id),
  sku text NOT NULL,
  qty integer NOT NULL,
  price numeric(12,2) NOT NULL
);
CREATE TABLE public.customers_pii (
  id serial PRIMARY KEY,
  customer text NOT NULL,
  email text NOT NULL,
  ssn text NOT NULL
);

INSERT INTO public.orders (customer, amount) VALUES
  ('acme', 120.50), ('globex', 75.00), ('initech', 12.99);
INSERT INTO public.order_items (order_id, sku, qty, price) VALUES
  (1, 'WIDGET-1', 2, 50.25), (1, 'GADGET-7', 1, 20.00),
  (2, 'WIDGET-1', 1, 75.00), (3, 'SPROCKET-3', 3, 4.33);
INSERT INTO public.customers_pii (customer, email, ssn) VALUES
  ('acme', 'ap@acme.example', '000-00-0001'),
  ('globex', 'billing@globex.example', '000-00-0002'),
  ('initech', 'pay@initech.example', '000-00-0003');

-- billing_rw and legacy_md5: read/write, and may create tables (pgbench -i)
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE shop TO billing_rw, legacy_md5;
GRANT USAGE, CREATE ON SCHEMA public TO billing_rw, legacy_md5;
GRANT ALL ON TABLE public.orders, public.order_items, public.customers_pii TO billing_rw, legacy_md5;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO billing_rw, legacy_md5;
-- reporting_ro: read only
GRANT CONNECT ON DATABASE shop TO reporting_ro;
GRANT USAGE ON SCHEMA public TO reporting_ro;
GRANT SELECT ON TABLE public.orders, public.order_items, public.customers_pii TO reporting_ro;
