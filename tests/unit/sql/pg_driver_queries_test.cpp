// Table-driven: statements that drivers, psql, pgbench and ORMs really send. They must
// classify into the narrow, allowable classes (not Unknown/Forbidden) with exactly the
// relations they touch. Rendering: see pg_test_support.hpp.
#include <gtest/gtest.h>

#include "tests/unit/sql/pg_test_support.hpp"

namespace segproxy::authz::sql::test {
namespace {

struct Case {
  const char* sql;
  const char* expected;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.sql; }

class DriverQuery : public ::testing::TestWithParam<Case> {};

TEST_P(DriverQuery, ClassifiesIntoAllowableClassWithExactTables) {
  EXPECT_EQ(describe(GetParam().sql), GetParam().expected) << GetParam().sql;
}

const Case kDriverCases[] = {
    // pgbench (TPC-B-like and select-only), extended-protocol Parse text with $n.
    {"UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
     "Dml Select:~public.pgbench_accounts Update:~public.pgbench_accounts"},
    {"SELECT abalance FROM pgbench_accounts WHERE aid = $1;", "Dml Select:~public.pgbench_accounts"},
    {"UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;",
     "Dml Select:~public.pgbench_tellers Update:~public.pgbench_tellers"},
    {"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);",
     "Dml Insert:~public.pgbench_history"},
    {"END;", "Transaction"},
    {"BEGIN;", "Transaction"},
    {"BEGIN ISOLATION LEVEL SERIALIZABLE", "Transaction"},
    {"START TRANSACTION READ ONLY", "Transaction"},
    {"COMMIT", "Transaction"},
    {"ROLLBACK", "Transaction"},
    {"SAVEPOINT s1", "Transaction"},
    {"RELEASE SAVEPOINT s1", "Transaction"},
    {"ROLLBACK TO SAVEPOINT s1", "Transaction"},
    {"SET CONSTRAINTS ALL DEFERRED", "Transaction"},
    {"PREPARE TRANSACTION 'gid'", "Admin"},
    {"COMMIT PREPARED 'gid'", "Admin"},
    {"ROLLBACK PREPARED 'gid'", "Admin"},
    {"BEGIN; SELECT 1; COMMIT", "Transaction ; Dml ; Transaction"},
    // Session settings drivers send.
    {"SET extra_float_digits = 3", "SessionSafe"},
    {"SET application_name = 'PostgreSQL JDBC Driver'", "SessionSafe"},
    {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED", "SessionSafe"},
    {"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SessionSafe"},
    {"SET TRANSACTION READ ONLY", "SessionSafe"},
    {"SET DateStyle = 'ISO'", "SessionSafe"},
    {"SET TIME ZONE 'UTC'", "SessionSafe"},
    {"SET timezone TO DEFAULT", "SessionSafe"},
    {"SET LOCAL statement_timeout = '5s'", "SessionSafe"},
    {"SET lock_timeout = 1000", "SessionSafe"},
    {"SET client_min_messages TO warning", "SessionSafe"},
    {"SET bytea_output = 'hex'", "SessionSafe"},
    {"SET intervalstyle = 'iso_8601'", "SessionSafe"},
    {"SET idle_in_transaction_session_timeout = 0", "SessionSafe"},
    {"SET default_transaction_read_only = on", "SessionSafe"},
    {"RESET statement_timeout", "SessionSafe"},
    {"RESET ALL", "SessionSafe"},
    {"SHOW TRANSACTION ISOLATION LEVEL", "SessionSafe"},
    {"SHOW search_path", "SessionSafe"},
    {"SHOW ALL", "SessionSafe"},
    {"DISCARD ALL", "SessionSafe"},
    {"DISCARD PLANS", "SessionSafe"},
    {"DISCARD SEQUENCES", "SessionSafe"},
    {"DISCARD TEMP", "SessionSafe"},
    // Plain queries.
    {"SELECT 1", "Dml"},
    {"select current_schema()", "Dml fn:current_schema"},
    {"SELECT version()", "Dml fn:version"},
    {"SELECT current_setting('server_version_num')", "Dml fn:current_setting"},
    {"SELECT pg_notify('ch', 'x')", "Dml fn:pg_notify"},
    {"SELECT now(), CURRENT_USER, 1 + 1", "Dml fn:now"},
    {"VALUES (1, 'a'), (2, 'b')", "Dml"},
    {"SELECT * FROM orders WHERE id = $1 FOR UPDATE", "Dml Select:~public.orders"},
    {"SELECT o.id, sum(l.qty) FROM orders o JOIN sales.lines l USING (id) GROUP BY o.id",
     "Dml Select:sales.lines Select:~public.orders fn:sum"},
    {"INSERT INTO orders (id, total) VALUES ($1, $2) ON CONFLICT DO NOTHING", "Dml Insert:~public.orders"},
    {"INSERT INTO orders DEFAULT VALUES", "Dml Insert:~public.orders"},
    {"UPDATE orders SET status = 'x'", "Dml Update:~public.orders"},
    {"DELETE FROM orders", "Dml Delete:~public.orders"},
    {"DELETE FROM orders WHERE id = $1", "Dml Delete:~public.orders Select:~public.orders"},
    {"COPY orders TO STDOUT", "Dml CopyTo:~public.orders"},
    {"COPY orders (id, total) FROM STDIN WITH (FORMAT csv)", "Dml CopyFrom:~public.orders"},
    {"COPY public.orders TO STDOUT (FORMAT binary)", "Dml CopyTo:public.orders"},
    {"SELECT * FROM information_schema.tables", "Dml Select:information_schema.tables"},
    // psql \d queries and JDBC metadata (schema-qualified pg_catalog).
    {"SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n "
     "ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default "
     "AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3;",
     "Dml Select:pg_catalog.pg_class Select:pg_catalog.pg_namespace fn:pg_catalog.pg_table_is_visible"},
    {"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
     "WHERE a.attrelid = '16384' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;",
     "Dml Select:pg_catalog.pg_attribute fn:pg_catalog.format_type"},
    {"SELECT pg_catalog.pg_get_indexdef(i.indexrelid, 0, true) FROM pg_catalog.pg_index i WHERE i.indrelid = '16384'",
     "Dml Select:pg_catalog.pg_index fn:pg_catalog.pg_get_indexdef"},
    {"SELECT typname FROM pg_type WHERE oid = $1", "Dml Select:~pg_catalog.pg_type Select:~public.pg_type"},
    // Prepared statements, cursors, notifications, procedures.
    {"PREPARE q(int) AS SELECT * FROM orders WHERE id = $1", "Prepare Select:~public.orders"},
    {"EXECUTE q(1)", "Prepare"},
    {"DEALLOCATE q", "Prepare"},
    {"DEALLOCATE ALL", "Prepare"},
    {"DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT * FROM orders", "Cursor Select:~public.orders"},
    {"FETCH 100 FROM c", "Cursor"},
    {"MOVE NEXT IN c", "Cursor"},
    {"CLOSE c", "Cursor"},
    {"CLOSE ALL", "Cursor"},
    {"LISTEN ch", "Notify"},
    {"NOTIFY ch, 'x'", "Notify"},
    {"UNLISTEN *", "Notify"},
    {"EXPLAIN SELECT * FROM orders", "Explain Select:~public.orders"},
    {"CALL public.refresh_totals()", "Procedural fn:public.refresh_totals"},
    // DDL and maintenance with their relations.
    {"CREATE TABLE t (id int PRIMARY KEY, cid int REFERENCES customers(id), d timestamptz DEFAULT now(), "
     "CHECK (length(name) > 0))",
     "Ddl Alter:~public.t References:~public.customers fn:length fn:now"},
    {"ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (cid) REFERENCES s.customers (id)",
     "Ddl Alter:~public.t References:s.customers"},
    {"CREATE TABLE t2 (LIKE orders)", "Ddl Alter:~public.t2 Select:~public.orders"},
    {"CREATE TABLE p1 PARTITION OF orders FOR VALUES FROM (1) TO (10)", "Ddl Alter:~public.orders Alter:~public.p1"},
    {"CREATE INDEX ON orders (lower(email))", "Ddl Alter:~public.orders fn:lower"},
    {"DROP TABLE orders, s.customers", "Ddl Alter:s.customers Alter:~public.orders"},
    {"DROP FUNCTION f(int)", "Ddl fn:f"},
    {"COMMENT ON TABLE orders IS 'x'", "Ddl Alter:~public.orders"},
    {"COMMENT ON COLUMN s.orders.id IS 'x'", "Ddl Alter:s.orders"},
    {"ALTER TABLE orders OWNER TO me", "Ddl Alter:~public.orders"},
    {"ALTER TABLE orders RENAME TO orders_old", "Ddl Alter:~public.orders Alter:~public.orders_old"},  // issue 12: new name too
    {"CREATE SEQUENCE seq", "Ddl Alter:~public.seq"},
    {"CREATE TRIGGER trg BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit_fn()",
     "Ddl Alter:~public.orders fn:audit_fn"},
    {"CREATE EXTENSION IF NOT EXISTS pgcrypto", "Forbidden"},  // issue 12: server-reaching DDL
    {"CREATE SCHEMA app", "Ddl"},
    {"CREATE TYPE mood AS ENUM ('a', 'b')", "Ddl"},
    {"CREATE DOMAIN posint AS int CHECK (VALUE > 0)", "Ddl"},
    {"REFRESH MATERIALIZED VIEW mv", "Ddl Maintain:~public.mv Select:~public.mv"},
    {"VACUUM ANALYZE orders", "Admin Maintain:~public.orders"},
    {"VACUUM", "Admin"},
    {"ANALYZE orders", "Admin Maintain:~public.orders"},
    {"CLUSTER orders USING orders_pkey", "Admin Maintain:~public.orders"},
    {"REINDEX TABLE orders", "Admin Maintain:~public.orders"},
    {"CHECKPOINT", "Admin"},
    // Empty input: no statements, not an error.
    {"", ""},
    {"   ", ""},
    {"-- nothing\n/* at all */", ""},
    {";", ""},
};

INSTANTIATE_TEST_SUITE_P(PgClassifier, DriverQuery, ::testing::ValuesIn(kDriverCases));

}  // namespace
}  // namespace segproxy::authz::sql::test
