-- Users and demo data for segproxy's MariaDB test environment (the MySQL counterpart of
-- scripts/lib/bootstrap.sql). Run as root over the unix socket by
-- scripts/lib/testenv-mariadb.sh, which first sends one line per user on the client's
-- stdin:   SET @pw_<user> = '<hex password from DIR/secrets/<user>.my.pw>';
-- so no password appears in an argv, in this file or in any output.
--
-- users (all '<name>'@'%'; the server listens on 127.0.0.1 only, skip-name-resolve):
--   billing_rw       mysql_native_password; SELECT, INSERT, UPDATE on shop.orders and
--                    shop.order_items; nothing on shop.customers_pii; ALL on the
--                    sysbench tables shop.sbtest1..sbtest16
--   legacy_native    same grants, password hash set explicitly via mysql_native_password
--   billing_ed25519  same grants, authenticated by MariaDB's ed25519 plugin
--   billing_x509     same grants, REQUIRE X509: logs in only over TLS with a client
--                    certificate from ca.crt (proves a client tool presents one)
--   reporting_ro     SELECT on shop.*
--   segproxy_meta    SELECT, SHOW VIEW, TRIGGER on shop.* (view definitions for the view lookup;
--                    MariaDB shows VIEW_DEFINITION only with both privileges)
--   segproxy_admin   CREATE USER, CONNECTION ADMIN, PROCESS, SELECT on mysql.roles_mapping
--                    and SELECT/INSERT/UPDATE/DELETE on shop.* WITH GRANT OPTION (dynamic
--                    credentials)
--   root@localhost   superuser, unix socket only, empty password (no TCP root account)

-- Only the accounts made here: no anonymous users, no root over TCP.
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');
DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';
FLUSH PRIVILEGES;

INSTALL SONAME 'auth_ed25519';

CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE shop;

CREATE TABLE orders (
  id INT AUTO_INCREMENT PRIMARY KEY,
  customer VARCHAR(200) NOT NULL,
  amount DECIMAL(12,2) NOT NULL
) ENGINE=InnoDB;
CREATE TABLE order_items (
  id INT AUTO_INCREMENT PRIMARY KEY,
  order_id INT NOT NULL,
  sku VARCHAR(100) NOT NULL,
  qty INT NOT NULL,
  price DECIMAL(12,2) NOT NULL,
  CONSTRAINT order_items_order_fk FOREIGN KEY (order_id) REFERENCES orders(id)
) ENGINE=InnoDB;
CREATE TABLE customers_pii (
  id INT AUTO_INCREMENT PRIMARY KEY,
  customer VARCHAR(200) NOT NULL,
  email VARCHAR(200) NOT NULL,
  ssn VARCHAR(20) NOT NULL
) ENGINE=InnoDB;

INSERT INTO orders (customer, amount) VALUES
  ('acme', 120.50), ('globex', 75.00), ('initech', 12.99);
INSERT INTO order_items (order_id, sku, qty, price) VALUES
  (1, 'WIDGET-1', 2, 50.25), (1, 'GADGET-7', 1, 20.00),
  (2, 'WIDGET-1', 1, 75.00), (3, 'SPROCKET-3', 3, 4.33);
INSERT INTO customers_pii (customer, email, ssn) VALUES
  ('acme', 'ap@acme.example', '000-00-0001'),
  ('globex', 'billing@globex.example', '000-00-0002'),
  ('initech', 'pay@initech.example', '000-00-0003');

-- Accounts. CREATE USER takes no variables: build each statement with QUOTE().
SET @s = CONCAT('CREATE USER billing_rw@''%'' IDENTIFIED BY ', QUOTE(@pw_billing_rw));
PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st;
SET @s = CONCAT('CREATE USER legacy_native@''%'' IDENTIFIED VIA mysql_native_password USING PASSWORD(',
                QUOTE(@pw_legacy_native), ')');
PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st;
SET @s = CONCAT('CREATE USER billing_ed25519@''%'' IDENTIFIED VIA ed25519 USING PASSWORD(',
                QUOTE(@pw_billing_ed25519), ')');
PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st;
SET @s = CONCAT('CREATE USER billing_x509@''%'' IDENTIFIED BY ', QUOTE(@pw_billing_x509),
                ' REQUIRE X509');
PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st;
SET @s = CONCAT('CREATE USER reporting_ro@''%'' IDENTIFIED BY ', QUOTE(@pw_reporting_ro));
PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st;
SET @s = CONCAT('CREATE USER segproxy_meta@''%'' IDENTIFIED BY ', QUOTE(@pw_segproxy_meta));
PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st;
SET @s = CONCAT('CREATE USER segproxy_admin@''%'' IDENTIFIED BY ', QUOTE(@pw_segproxy_admin));
PREPARE st FROM @s; EXECUTE st; DEALLOCATE PREPARE st;
SET @s = NULL;
SET @pw_billing_rw = NULL, @pw_legacy_native = NULL, @pw_billing_ed25519 = NULL, @pw_billing_x509 = NULL,
    @pw_reporting_ro = NULL, @pw_segproxy_meta = NULL, @pw_segproxy_admin = NULL;

-- billing_rw and its three twins: read/write on the order tables, no PII, and the
-- sysbench tables (sysbench 1.0 names them sbtest1..N; table grants may precede them).
GRANT SELECT, INSERT, UPDATE ON shop.orders TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT SELECT, INSERT, UPDATE ON shop.order_items TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest1 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest2 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest3 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest4 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest5 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest6 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest7 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest8 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest9 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest10 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest11 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest12 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest13 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest14 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest15 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';
GRANT ALL ON shop.sbtest16 TO billing_rw@'%', legacy_native@'%', billing_ed25519@'%', billing_x509@'%';

-- reporting_ro: read only, everything in shop
GRANT SELECT ON shop.* TO reporting_ro@'%';

-- segproxy_meta: view definitions. MariaDB shows information_schema.VIEWS.VIEW_DEFINITION
-- (and SHOW CREATE VIEW) only to the definer or to a user with both SHOW VIEW and SELECT
-- on the view or its database (sql_show.cc get_schema_views_record), so the metadata
-- login can read shop's data too: the proxy keeps it to itself, as any credential.
-- TRIGGER: information_schema.TRIGGERS lists only the triggers of tables the login holds
-- TRIGGER on, and the write-ahead catalog (docs/audit.md "The catalog the classes trust")
-- treats no table as contained unless it can see them all.
GRANT SELECT, SHOW VIEW, TRIGGER ON shop.* TO segproxy_meta@'%';

-- segproxy_admin: creates and drops scoped users and grants them at most this much
-- (proxy/dynamic_my_admin.hpp): CREATE USER (also CREATE ROLE for the marker role),
-- CONNECTION ADMIN + PROCESS (see and KILL the minted users' connections), SELECT on
-- mysql.roles_mapping (which users carry the proxy instance's marker role).
GRANT CREATE USER, CONNECTION ADMIN, PROCESS ON *.* TO segproxy_admin@'%';
GRANT SELECT ON mysql.roles_mapping TO segproxy_admin@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO segproxy_admin@'%' WITH GRANT OPTION;

FLUSH PRIVILEGES;
