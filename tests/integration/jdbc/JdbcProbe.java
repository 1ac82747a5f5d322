// What the JDBC probes (PgJdbcProbe, MariaJdbcProbe) share: running one scenario (usage,
// connect, "DONE", the exit codes) and the scenarios both drivers run the same way
// (prepared rows, an interrupted sleep, a refused table). Each probe says how it prints
// an SQLException ("state=..." and, for MariaDB, " code=...").
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

final class JdbcProbe {
  private JdbcProbe() {}

  // Runs the named scenario on `c`; false when the probe has no such scenario.
  interface Scenarios {
    boolean run(String scenario, Connection c) throws Exception;
  }

  // An SQLException as a probe line prints it.
  interface Describe {
    String of(SQLException e);
  }

  enum Interrupt { CANCEL, QUERY_TIMEOUT, NONE }

  // args: <scenario> <jdbc-url>. Prints "DONE" after the scenario; an unexpected
  // SQLException prints "SQLEXCEPTION <describe> msg=<message>" and exits 2, anything
  // else exits 3; usage errors and unknown scenarios exit 64.
  static void run(String probe, String[] args, Scenarios scenarios, Describe describe) {
    if (args.length != 2) {
      System.err.println("usage: " + probe + " <scenario> <jdbc-url>");
      System.exit(64);
    }
    try (Connection c = DriverManager.getConnection(args[1])) {
      if (!scenarios.run(args[0], c)) {
        System.err.println("unknown scenario " + args[0]);
        System.exit(64);
      }
      System.out.println("DONE");
    } catch (SQLException e) {
      System.out.println("SQLEXCEPTION " + describe.of(e) + " msg=" + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      e.printStackTrace(System.out);
      System.exit(3);
    }
  }

  static String one(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
      return r.next() ? r.getString(1) : null;
    }
  }

  // Eight executions of `ps` (SELECT customer, amount FROM orders WHERE id = ?) over
  // ids 1..3, one "ROW <customer> <amount>" line each.
  static void printOrderRows(PreparedStatement ps) throws SQLException {
    for (int i = 0; i < 8; ++i) {
      ps.setInt(1, 1 + i % 3);
      try (ResultSet r = ps.executeQuery()) {
        if (!r.next()) throw new IllegalStateException("no row for id " + (1 + i % 3));
        System.out.println("ROW " + r.getString(1) + " " + r.getBigDecimal(2));
      }
    }
  }

  // `sleepSql` (a 30 s sleep) interrupted by Statement.cancel() from another thread, by
  // setQueryTimeout(1), or by nothing the client does (the proxy's statement timeout).
  // The cancel is repeated until the statement ends, so a cancel that overtakes the query
  // cannot make the test wait 30 s; the wait for the worker is bounded. Prints
  // "CANCELLED <cancelled>" or "NOT_CANCELLED", then "AFTER 1" from the same connection.
  static void interruptSleep(Connection c, String sleepSql, Interrupt how, Describe cancelled)
      throws Exception {
    AtomicReference<Object> outcome = new AtomicReference<>();
    Statement s = c.createStatement();
    if (how == Interrupt.QUERY_TIMEOUT) s.setQueryTimeout(1);
    Thread worker = new Thread(() -> {
      try {
        s.executeQuery(sleepSql).close();
        outcome.set("completed");
      } catch (SQLException e) {
        outcome.set(e);
      }
    });
    worker.start();
    long deadline = System.nanoTime() + 90_000_000_000L;
    while (worker.isAlive() && System.nanoTime() < deadline) {
      worker.join(500);
      if (how == Interrupt.CANCEL && worker.isAlive()) s.cancel();
    }
    if (worker.isAlive()) {
      System.out.println("HUNG");
      System.exit(4);
    }
    Object o = outcome.get();
    if (o instanceof SQLException) {
      System.out.println("CANCELLED " + cancelled.of((SQLException) o));
    } else {
      System.out.println("NOT_CANCELLED " + o);
    }
    s.close();
    System.out.println("AFTER " + one(c, "SELECT 1"));
  }

  // A table the segment may not read, prepared and plain: two "DENIED <describe>" lines;
  // then "AFTER acme" shows the connection stays usable.
  static void denied(Connection c, Describe describe) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT ssn FROM customers_pii WHERE id = ?")) {
      ps.setInt(1, 1);
      ps.executeQuery().close();
      System.out.println("NOT_DENIED");
    } catch (SQLException e) {
      System.out.println("DENIED " + describe.of(e));
    }
    try (Statement s = c.createStatement()) {
      s.executeQuery("SELECT ssn FROM customers_pii").close();
      System.out.println("NOT_DENIED");
    } catch (SQLException e) {
      System.out.println("DENIED " + describe.of(e));
    }
    System.out.println("AFTER " + one(c, "SELECT customer FROM orders WHERE id = 1"));
  }

  // DatabaseMetaData of the test schema (PostgreSQL: schema "public"; MariaDB: catalog
  // "shop"): a "TABLE <name>" line per table (parallel tests may create tables of their
  // own in the same schema), then COLUMNS and PRIMARY_KEYS of orders, INDEXES of
  // order_items.
  static void metadata(Connection c, String catalog, String schema) throws SQLException {
    DatabaseMetaData md = c.getMetaData();
    List<String> names = new ArrayList<>();
    try (ResultSet r = md.getTables(catalog, schema, "%", new String[] {"TABLE"})) {
      while (r.next()) System.out.println("TABLE " + r.getString("TABLE_NAME"));
    }
    try (ResultSet r = md.getColumns(catalog, schema, "orders", "%")) {
      while (r.next()) names.add(r.getString("COLUMN_NAME") + ":" + r.getString("TYPE_NAME"));
    }
    System.out.println("COLUMNS " + String.join(",", names));
    names.clear();
    try (ResultSet r = md.getPrimaryKeys(catalog, schema, "orders")) {
      while (r.next()) names.add(r.getString("COLUMN_NAME") + ":" + r.getString("PK_NAME"));
    }
    System.out.println("PRIMARY_KEYS " + String.join(",", names));
    names.clear();
    try (ResultSet r = md.getIndexInfo(catalog, schema, "order_items", false, false)) {
      while (r.next()) names.add(r.getString("INDEX_NAME") + ":" + r.getString("COLUMN_NAME"));
    }
    System.out.println("INDEXES " + String.join(",", names));
  }

  // "IMPORTED_KEYS <fk column>-><referenced table>,..." of order_items.
  static void importedKeys(Connection c, String catalog, String schema) throws SQLException {
    List<String> names = new ArrayList<>();
    try (ResultSet r = c.getMetaData().getImportedKeys(catalog, schema, "order_items")) {
      while (r.next()) names.add(r.getString("FKCOLUMN_NAME") + "->" + r.getString("PKTABLE_NAME"));
    }
    System.out.println("IMPORTED_KEYS " + String.join(",", names));
  }
}
