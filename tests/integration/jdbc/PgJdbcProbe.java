// pgjdbc through segproxy: one scenario per run, driven by tests/integration/jdbc_pg_test.cpp.
//   java -cp <classes>:<postgresql.jar> PgJdbcProbe <scenario> <jdbc-url>
// Prints "KEY value" lines for the test to assert on; an unexpected SQLException prints
// "SQLEXCEPTION state=<sqlstate> msg=<message>" and exits 2 (anything else: exit 3; the
// run itself: JdbcProbe.java).
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.text.MessageFormat;
import java.util.concurrent.atomic.AtomicInteger;
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

  // Held in a static field: java.util.logging keeps loggers only weakly, so a logger held by
  // a local alone can be collected with its level and handler once the method returns, and
  // pgjdbc's messages are then no longer counted (a garbage collection during the probe, more
  // likely on a loaded machine, would make the counts, and the tests reading them, fail).
  static final Logger PGJDBC_LOG = Logger.getLogger("org.postgresql");

  static void traceFrontendMessages() {
    Logger log = PGJDBC_LOG;
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

  // "state=<sqlstate>"
  static String describe(SQLException e) {
    return "state=" + e.getSQLState();
  }

  public static void main(String[] args) {
    traceFrontendMessages();
    JdbcProbe.run("PgJdbcProbe", args, PgJdbcProbe::scenario, PgJdbcProbe::describe);
  }

  static boolean scenario(String name, Connection c) throws Exception {
    switch (name) {
      case "whoami": whoami(c); break;
      case "prepared": prepared(c); break;
      case "batch": batch(c); break;
      case "stream": stream(c); break;
      case "metadata": metadata(c); break;
      case "imported_keys": importedKeys(c); break;
      case "cancel": cancel(c, JdbcProbe.Interrupt.CANCEL); break;
      case "timeout": cancel(c, JdbcProbe.Interrupt.QUERY_TIMEOUT); break;
      case "denied": JdbcProbe.denied(c, PgJdbcProbe::describe); break;
      case "set_schema": setSchema(c); break;
      default: return false;
    }
    return true;
  }

  static String one(Connection c, String sql) throws SQLException {
    return JdbcProbe.one(c, sql);
  }

  static void whoami(Connection c) throws SQLException {
    System.out.println("USER " + one(c, "SELECT current_user"));
  }

  // Eight executions: past pgjdbc's prepareThreshold (5) the statement is a named
  // server-side statement (Parse once, then Bind/Execute); with prepareThreshold=1 at once.
  static void prepared(Connection c) throws Exception {
    try (PreparedStatement ps = c.prepareStatement("SELECT customer, amount FROM orders WHERE id = ?")) {
      JdbcProbe.printOrderRows(ps);
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
    JdbcProbe.metadata(c, null, "public");
  }

  // pgjdbc's getImportedKeys/getExportedKeys/getCrossReference first read
  // pg_catalog.pg_settings (max_index_keys), which the metadata list leaves out.
  static void importedKeys(Connection c) throws SQLException {
    JdbcProbe.importedKeys(c, null, "public");
  }

  // SELECT pg_sleep(30) interrupted (JdbcProbe.interruptSleep) by Statement.cancel()
  // from another thread (pgjdbc: a CancelRequest on a new connection) or by
  // setQueryTimeout (pgjdbc's timer thread calls cancel()).
  static void cancel(Connection c, JdbcProbe.Interrupt how) throws Exception {
    JdbcProbe.interruptSleep(c, "SELECT pg_sleep(30)", how, PgJdbcProbe::describe);
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
}
