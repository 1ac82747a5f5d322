// MariaDB Connector/J through segproxy: one scenario per run, driven by
// tests/integration/jdbc_mysql_test.cpp.
//   java -cp <classes>:<mariadb-java-client.jar> MariaJdbcProbe <scenario> <jdbc-url>
// Prints "KEY value" lines for the test to assert on; an unexpected SQLException prints
// "SQLEXCEPTION state=<sqlstate> code=<error code> msg=<message>" and exits 2 (anything
// else: exit 3; the run itself: JdbcProbe.java).
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public final class MariaJdbcProbe {
  // "state=<sqlstate> code=<error code>"
  static String describe(SQLException e) {
    return "state=" + e.getSQLState() + " code=" + e.getErrorCode();
  }

  static String describeWithMessage(SQLException e) {
    return describe(e) + " msg=" + e.getMessage();
  }

  public static void main(String[] args) {
    JdbcProbe.run("MariaJdbcProbe", args, MariaJdbcProbe::scenario, MariaJdbcProbe::describe);
  }

  static boolean scenario(String name, Connection c) throws Exception {
    switch (name) {
      case "whoami": whoami(c); break;
      case "prepared": prepared(c); break;
      case "batch": batch(c); break;
      case "stream": stream(c, Integer.MIN_VALUE); break;
      case "stream10": stream(c, 10); break;
      case "metadata": metadata(c); break;
      case "cancel": sleep(c, JdbcProbe.Interrupt.CANCEL); break;
      case "timeout": sleep(c, JdbcProbe.Interrupt.QUERY_TIMEOUT); break;
      case "sleep": sleep(c, JdbcProbe.Interrupt.NONE); break;
      case "denied": JdbcProbe.denied(c, MariaJdbcProbe::describe); break;
      default: return false;
    }
    return true;
  }

  static String one(Connection c, String sql) throws SQLException {
    return JdbcProbe.one(c, sql);
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
      JdbcProbe.printOrderRows(ps);
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

  // JdbcProbe.metadata of catalog shop, and order_items' imported keys.
  static void metadata(Connection c) throws SQLException {
    JdbcProbe.metadata(c, "shop", null);
    JdbcProbe.importedKeys(c, "shop", null);
  }

  // SELECT SLEEP(30) interrupted (JdbcProbe.interruptSleep) by Statement.cancel() from
  // another thread (Connector/J: KILL QUERY <thread id> on a new connection, i.e. a new
  // mTLS session with the same certificate), by setQueryTimeout(1), or by nothing the
  // client does (the segment's limits.statement_timeout).
  static void sleep(Connection c, JdbcProbe.Interrupt how) throws Exception {
    JdbcProbe.interruptSleep(c, "SELECT SLEEP(30)", how, MariaJdbcProbe::describeWithMessage);
  }
}
