// MariaDB Connector/J through segproxy: one scenario per run, driven by
// tests/integration/jdbc_mysql_test.cpp.
//   java -cp <classes>:<mariadb-java-client.jar> MariaJdbcProbe <scenario> <jdbc-url>
// Prints "KEY value" lines for the test to assert on; an unexpected SQLException prints
// "SQLEXCEPTION state=<sqlstate> code=<error code> msg=<message>" and exits 2 (anything
// else: exit 3).
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

public final class MariaJdbcProbe {
  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: MariaJdbcProbe <scenario> <jdbc-url>");
      System.exit(64);
    }
    try (Connection c = DriverManager.getConnection(args[1])) {
      switch (args[0]) {
        case "whoami": whoami(c); break;
        case "prepared": prepared(c); break;
        case "batch": batch(c); break;
        case "stream": stream(c, Integer.MIN_VALUE); break;
        case "stream10": stream(c, 10); break;
        case "metadata": metadata(c); break;
        case "cancel": sleep(c, Interrupt.CANCEL); break;
        case "timeout": sleep(c, Interrupt.QUERY_TIMEOUT); break;
        case "sleep": sleep(c, Interrupt.NONE); break;
        case "denied": denied(c); break;
        default:
          System.err.println("unknown scenario " + args[0]);
          System.exit(64);
      }
      System.out.println("DONE");
    } catch (SQLException e) {
      System.out.println("SQLEXCEPTION state=" + e.getSQLState() + " code=" + e.getErrorCode() + " msg=" +
                         e.getMessage());
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

  // The backend's own count of binary-protocol commands in this session: which path the
  // driver really took through the proxy.
  static void printStmtCounters(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_stmt_execute')")) {
      while (r.next()) System.out.println(r.getString(1).toUpperCase() + " " + r.getString(2));
    }
  }

  static void whoami(Connection c) throws SQLException {
    System.out.println("USER " + one(c, "SELECT CURRENT_USER()"));
  }

  // Eight executions with parameters (client-side by default; with
  // useServerPrepStmts=true COM_STMT_PREPARE once, then COM_STMT_EXECUTE).
  static void prepared(Connection c) throws Exception {
    try (PreparedStatement ps = c.prepareStatement("SELECT customer, amount FROM orders WHERE id = ?")) {
      for (int i = 0; i < 8; ++i) {
        ps.setInt(1, 1 + i % 3);
        try (ResultSet r = ps.executeQuery()) {
          if (!r.next()) throw new IllegalStateException("no row for id " + (1 + i % 3));
          System.out.println("ROW " + r.getString(1) + " " + r.getBigDecimal(2));
        }
      }
    }
    printStmtCounters(c);
  }

  // executeBatch of 50 inserts into orders inside a transaction that is rolled back
  // (the segment's backend user may insert into orders but not create tables).
  static void batch(Connection c) throws SQLException {
    c.setAutoCommit(false);
    String tag = "jdbc-batch-" + ProcessHandle.current().pid();
    int total = 0;
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO orders (customer, amount) VALUES (?, ?)")) {
      for (int i = 1; i <= 50; ++i) {
        ps.setString(1, tag);
        ps.setBigDecimal(2, java.math.BigDecimal.valueOf(i));
        ps.addBatch();
      }
      for (int n : ps.executeBatch()) total += (n == Statement.SUCCESS_NO_INFO ? 1 : n);
    }
    System.out.println("BATCH_UPDATED " + total);
    printStmtCounters(c);
    try (PreparedStatement ps = c.prepareStatement("SELECT count(*), sum(amount) FROM orders WHERE customer = ?")) {
      ps.setString(1, tag);
      try (ResultSet r = ps.executeQuery()) {
        r.next();
        System.out.println("COUNT " + r.getLong(1));
        System.out.println("SUM " + r.getBigDecimal(2).toBigInteger());
      }
    }
    c.rollback();
  }

  // Streaming: fetch size Integer.MIN_VALUE (row by row) or 10 (Connector/J 2.x reads
  // the result in chunks of 10 rows); 250 rows from a recursive CTE.
  static void stream(Connection c, int fetchSize) throws SQLException {
    long rows = 0;
    long sum = 0;
    try (Statement s = c.createStatement()) {
      s.setFetchSize(fetchSize);
      try (ResultSet r = s.executeQuery("WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 250) SELECT n FROM s")) {
        while (r.next()) {
          ++rows;
          sum += r.getLong(1);
        }
      }
    }
    System.out.println("ROWS " + rows);
    System.out.println("SUM " + sum);
    System.out.println("AFTER " + one(c, "SELECT 1"));
  }

  static void metadata(Connection c) throws SQLException {
    DatabaseMetaData md = c.getMetaData();
    List<String> names = new ArrayList<>();
    // One line per table: parallel tests may create tables of their own in the same schema.
    try (ResultSet r = md.getTables("shop", null, "%", new String[] {"TABLE"})) {
      while (r.next()) System.out.println("TABLE " + r.getString("TABLE_NAME"));
    }
    try (ResultSet r = md.getColumns("shop", null, "orders", "%")) {
      while (r.next()) names.add(r.getString("COLUMN_NAME") + ":" + r.getString("TYPE_NAME"));
    }
    System.out.println("COLUMNS " + String.join(",", names));
    names.clear();
    try (ResultSet r = md.getPrimaryKeys("shop", null, "orders")) {
      while (r.next()) names.add(r.getString("COLUMN_NAME") + ":" + r.getString("PK_NAME"));
    }
    System.out.println("PRIMARY_KEYS " + String.join(",", names));
    names.clear();
    try (ResultSet r = md.getIndexInfo("shop", null, "order_items", false, false)) {
      while (r.next()) names.add(r.getString("INDEX_NAME") + ":" + r.getString("COLUMN_NAME"));
    }
    System.out.println("INDEXES " + String.join(",", names));
    names.clear();
    try (ResultSet r = md.getImportedKeys("shop", null, "order_items")) {
      while (r.next()) names.add(r.getString("FKCOLUMN_NAME") + "->" + r.getString("PKTABLE_NAME"));
    }
    System.out.println("IMPORTED_KEYS " + String.join(",", names));
  }

  enum Interrupt { CANCEL, QUERY_TIMEOUT, NONE }

  // SELECT SLEEP(30) interrupted by Statement.cancel() from another thread (Connector/J:
  // KILL QUERY <thread id> on a new connection, i.e. a new mTLS session with the same
  // certificate), by setQueryTimeout(1), or by nothing the client does (the segment's
  // limits.statement_timeout). The cancel is repeated until the statement ends, so a
  // cancel that overtakes the query cannot make the test wait 30 s; the wait for the
  // worker is bounded.
  static void sleep(Connection c, Interrupt how) throws Exception {
    AtomicReference<Object> outcome = new AtomicReference<>();
    Statement s = c.createStatement();
    if (how == Interrupt.QUERY_TIMEOUT) s.setQueryTimeout(1);
    Thread worker = new Thread(() -> {
      try {
        s.executeQuery("SELECT SLEEP(30)").close();
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
      SQLException e = (SQLException) o;
      System.out.println("CANCELLED state=" + e.getSQLState() + " code=" + e.getErrorCode() + " msg=" + e.getMessage());
    } else {
      System.out.println("NOT_CANCELLED " + o);
    }
    s.close();
    System.out.println("AFTER " + one(c, "SELECT 1"));
  }

  // A table the segment may not read: the proxy's ERROR 1142; the connection stays usable.
  static void denied(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT ssn FROM customers_pii WHERE id = ?")) {
      ps.setInt(1, 1);
      ps.executeQuery().close();
      System.out.println("NOT_DENIED");
    } catch (SQLException e) {
      System.out.println("DENIED state=" + e.getSQLState() + " code=" + e.getErrorCode());
    }
    try (Statement s = c.createStatement()) {
      s.executeQuery("SELECT ssn FROM customers_pii").close();
      System.out.println("NOT_DENIED");
    } catch (SQLException e) {
      System.out.println("DENIED state=" + e.getSQLState() + " code=" + e.getErrorCode());
    }
    System.out.println("AFTER " + one(c, "SELECT customer FROM orders WHERE id = 1"));
  }
}
