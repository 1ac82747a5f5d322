// pgjdbc through segproxy: one scenario per run, driven by tests/integration/jdbc_pg_test.cpp.
//   java -cp <classes>:<postgresql.jar> PgJdbcProbe <scenario> <jdbc-url>
// Prints "KEY value" lines for the test to assert on; an unexpected SQLException prints
// "SQLEXCEPTION state=<sqlstate> msg=<message>" and exits 2 (anything else: exit 3).
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.text.MessageFormat;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

public final class PgJdbcProbe {
  // pgjdbc traces each frontend message at FINEST ("FE=> Parse(stmt=S_1,...)",
  // "FE=> Execute(portal=C_1,limit=10)"): counting them shows which protocol path the
  // statements really took through the proxy.
  static final AtomicInteger NAMED_PARSES = new AtomicInteger();
  static final AtomicInteger ROW_LIMITED_EXECUTES = new AtomicInteger();

  static void traceFrontendMessages() {
    Logger log = Logger.getLogger("org.postgresql");
    log.setLevel(Level.FINEST);
    log.setUseParentHandlers(false);
    log.addHandler(new Handler() {
      @Override public void publish(LogRecord r) {
        String m = r.getParameters() == null ? r.getMessage() : MessageFormat.format(r.getMessage(), r.getParameters());
        if (m == null) return;
        if (m.contains("FE=> Parse(stmt=S_")) NAMED_PARSES.incrementAndGet();
        if (m.contains("FE=> Execute(portal=") && m.contains("limit=10")) ROW_LIMITED_EXECUTES.incrementAndGet();
      }
      @Override public void flush() {}
      @Override public void close() {}
    });
  }

  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: PgJdbcProbe <scenario> <jdbc-url>");
      System.exit(64);
    }
    traceFrontendMessages();
    try (Connection c = DriverManager.getConnection(args[1])) {
      switch (args[0]) {
        case "whoami": whoami(c); break;
        case "prepared": prepared(c); break;
        case "batch": batch(c); break;
        case "stream": stream(c); break;
        case "metadata": metadata(c); break;
        case "imported_keys": importedKeys(c); break;
        case "cancel": cancel(c, false); break;
        case "timeout": cancel(c, true); break;
        case "denied": denied(c); break;
        case "set_schema": setSchema(c); break;
        default:
          System.err.println("unknown scenario " + args[0]);
          System.exit(64);
      }
      System.out.println("DONE");
    } catch (SQLException e) {
      System.out.println("SQLEXCEPTION state=" + e.getSQLState() + " msg=" + e.getMessage());
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

  static void whoami(Connection c) throws SQLException {
    System.out.println("USER " + one(c, "SELECT current_user"));
  }

  // Eight executions: past pgjdbc's prepareThreshold (5) the statement is a named
  // server-side statement (Parse once, then Bind/Execute); with prepareThreshold=1 at once.
  static void prepared(Connection c) throws Exception {
    try (PreparedStatement ps = c.prepareStatement("SELECT customer, amount FROM orders WHERE id = ?")) {
      for (int i = 0; i < 8; ++i) {
        ps.setInt(1, 1 + i % 3);
        try (ResultSet r = ps.executeQuery()) {
          if (!r.next()) throw new IllegalStateException("no row for id " + (1 + i % 3));
          System.out.println("ROW " + r.getString(1) + " " + r.getBigDecimal(2));
        }
      }
      System.out.println("SERVER_PREPARED " + ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare());
      System.out.println("NAMED_PARSES " + NAMED_PARSES.get());
    }
  }

  // executeBatch of 50 inserts into a temporary table (with reWriteBatchedInserts=true
  // pgjdbc folds them into multi-row INSERTs); rolled back.
  static void batch(Connection c) throws SQLException {
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.execute("CREATE TEMP TABLE jdbc_batch (id int PRIMARY KEY, label text) ON COMMIT DROP");
    }
    int total = 0;
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO jdbc_batch (id, label) VALUES (?, ?)")) {
      for (int i = 1; i <= 50; ++i) {
        ps.setInt(1, i);
        ps.setString(2, "row-" + i);
        ps.addBatch();
      }
      for (int n : ps.executeBatch()) total += (n == Statement.SUCCESS_NO_INFO ? 1 : n);
    }
    System.out.println("BATCH_UPDATED " + total);
    System.out.println("COUNT " + one(c, "SELECT count(*) FROM jdbc_batch"));
    c.rollback();
  }

  // Autocommit off + fetch size: pgjdbc runs a portal and fetches it 10 rows at a time
  // (Execute with a row limit, PortalSuspended, Execute again).
  static void stream(Connection c) throws SQLException {
    c.setAutoCommit(false);
    long rows = 0;
    long sum = 0;
    try (Statement s = c.createStatement()) {
      s.setFetchSize(10);
      try (ResultSet r = s.executeQuery("SELECT g FROM generate_series(1, 250) AS g")) {
        while (r.next()) {
          ++rows;
          sum += r.getLong(1);
        }
      }
    }
    c.commit();
    System.out.println("ROWS " + rows);
    System.out.println("SUM " + sum);
    System.out.println("ROW_LIMITED_EXECUTES " + ROW_LIMITED_EXECUTES.get());
  }

  static void metadata(Connection c) throws SQLException {
    DatabaseMetaData md = c.getMetaData();
    List<String> names = new ArrayList<>();
    // One line per table: parallel tests create tables of their own in the same schema.
    try (ResultSet r = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
      while (r.next()) System.out.println("TABLE " + r.getString("TABLE_NAME"));
    }
    try (ResultSet r = md.getColumns(null, "public", "orders", "%")) {
      while (r.next()) names.add(r.getString("COLUMN_NAME") + ":" + r.getString("TYPE_NAME"));
    }
    System.out.println("COLUMNS " + String.join(",", names));
    names.clear();
    try (ResultSet r = md.getPrimaryKeys(null, "public", "orders")) {
      while (r.next()) names.add(r.getString("COLUMN_NAME") + ":" + r.getString("PK_NAME"));
    }
    System.out.println("PRIMARY_KEYS " + String.join(",", names));
    names.clear();
    try (ResultSet r = md.getIndexInfo(null, "public", "order_items", false, false)) {
      while (r.next()) names.add(r.getString("INDEX_NAME") + ":" + r.getString("COLUMN_NAME"));
    }
    System.out.println("INDEXES " + String.join(",", names));
  }

  // pgjdbc's getImportedKeys/getExportedKeys/getCrossReference first read
  // pg_catalog.pg_settings (max_index_keys), which the metadata list leaves out.
  static void importedKeys(Connection c) throws SQLException {
    List<String> names = new ArrayList<>();
    try (ResultSet r = c.getMetaData().getImportedKeys(null, "public", "order_items")) {
      while (r.next()) names.add(r.getString("FKCOLUMN_NAME") + "->" + r.getString("PKTABLE_NAME"));
    }
    System.out.println("IMPORTED_KEYS " + String.join(",", names));
  }

  // Statement.cancel() from another thread (pgjdbc: a CancelRequest on a new connection)
  // or setQueryTimeout (pgjdbc's timer thread calls cancel()). The cancel is repeated
  // until the statement ends, so a cancel that overtakes the query cannot make the test
  // wait 30 s; the wait for the worker is bounded.
  static void cancel(Connection c, boolean viaTimeout) throws Exception {
    AtomicReference<Object> outcome = new AtomicReference<>();
    Statement s = c.createStatement();
    if (viaTimeout) s.setQueryTimeout(1);
    Thread worker = new Thread(() -> {
      try {
        s.executeQuery("SELECT pg_sleep(30)").close();
        outcome.set("completed");
      } catch (SQLException e) {
        outcome.set(e);
      }
    });
    worker.start();
    long deadline = System.nanoTime() + 90_000_000_000L;
    while (worker.isAlive() && System.nanoTime() < deadline) {
      worker.join(500);
      if (!viaTimeout && worker.isAlive()) s.cancel();
    }
    if (worker.isAlive()) {
      System.out.println("HUNG");
      System.exit(4);
    }
    Object o = outcome.get();
    if (o instanceof SQLException) {
      System.out.println("CANCELLED state=" + ((SQLException) o).getSQLState());
    } else {
      System.out.println("NOT_CANCELLED " + o);
    }
    s.close();
    System.out.println("AFTER " + one(c, "SELECT 1"));
  }

  // Connection.setSchema sends SET SESSION search_path, which segproxy refuses (only ''
  // is allowed: search_path decides what unqualified names mean).
  static void setSchema(Connection c) throws SQLException {
    try {
      c.setSchema("public");
      System.out.println("NOT_REFUSED");
    } catch (SQLException e) {
      System.out.println("REFUSED state=" + e.getSQLState() + " msg=" + e.getMessage().split("\n")[0]);
    }
    System.out.println("AFTER " + one(c, "SELECT customer FROM orders WHERE id = 1"));
  }

  // A table the segment may not read: SQLException 42501; the connection stays usable.
  static void denied(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT ssn FROM customers_pii WHERE id = ?")) {
      ps.setInt(1, 1);
      ps.executeQuery().close();
      System.out.println("NOT_DENIED");
    } catch (SQLException e) {
      System.out.println("DENIED state=" + e.getSQLState());
    }
    try (Statement s = c.createStatement()) {
      s.executeQuery("SELECT ssn FROM customers_pii").close();
      System.out.println("NOT_DENIED");
    } catch (SQLException e) {
      System.out.println("DENIED state=" + e.getSQLState());
    }
    System.out.println("AFTER " + one(c, "SELECT customer FROM orders WHERE id = 1"));
  }
}
