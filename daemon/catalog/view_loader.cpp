// Learned view dependencies: libpq metadata connections on a dedicated thread.
#include "daemon/catalog/view_loader.hpp"

#include "daemon/credentials/libpq_login.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

namespace segproxy::proxy {

const char* const kViewDependencyQuery =
    "SELECT DISTINCT vn.nspname, vc.relname, rn.nspname, rc.relname"
    " FROM pg_catalog.pg_rewrite rw"
    " JOIN pg_catalog.pg_class vc ON vc.oid = rw.ev_class"
    " JOIN pg_catalog.pg_namespace vn ON vn.oid = vc.relnamespace"
    " JOIN pg_catalog.pg_depend d"
    "   ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = rw.oid"
    "  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
    " JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid"
    " JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace"
    " WHERE vc.relkind IN ('v', 'm')"
    "   AND rc.oid <> vc.oid"
    "   AND rc.relkind IN ('r', 'p', 'v', 'm', 'f')"
    "   AND vn.nspname NOT IN ('pg_catalog', 'information_schema')"
    " ORDER BY 1, 2, 3, 4";

// PostgreSQL resolves `x.f` / `(expr).f` as f(x) through ordinary function lookup with
// one argument of x's row type: candidates take that row type (or a parent's: every
// pg_class.reltype), a domain over it, record, "any" or a polymorphic element type, or a
// type the row type casts to implicitly; VARIADIC and defaulted parameters count.
const char* const kAttributeFunctionQuery =
    "WITH row_types AS ("
    "   SELECT c.reltype AS oid FROM pg_catalog.pg_class c WHERE c.reltype <> 0),"
    " arg_types AS ("
    "   SELECT oid FROM row_types"
    "   UNION SELECT t.oid FROM pg_catalog.pg_type t"
    "    WHERE t.typtype = 'd' AND t.typbasetype IN (SELECT oid FROM row_types)"
    "   UNION SELECT ca.casttarget FROM pg_catalog.pg_cast ca"
    "    WHERE ca.castcontext = 'i' AND ca.castsource IN (SELECT oid FROM row_types)"
    "   UNION SELECT t.oid FROM pg_catalog.pg_type t"
    "    WHERE t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace"
    "      AND t.typname IN ('record', 'any', 'anyelement', 'anynonarray',"
    "                        'anycompatible', 'anycompatiblenonarray'))"
    " SELECT DISTINCT p.proname FROM pg_catalog.pg_proc p"
    " WHERE p.prokind IN ('f', 'a', 'w')"
    "   AND p.pronargs >= 1 AND p.pronargs - p.pronargdefaults <= 1"
    "   AND (p.proargtypes[0] IN (SELECT oid FROM arg_types)"
    "        OR p.provariadic IN (SELECT oid FROM arg_types))"
    " ORDER BY 1";

namespace {

constexpr std::size_t kMaxPasswordFile = 4096;

struct PgResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

std::vector<std::string> metadata_databases(const config::Config& cfg, const config::Listener& l) {
  std::set<std::string> dbs;
  for (const auto& [name, seg] : cfg.segments) {
    if (seg.credentials.count(l.name) == 0) continue;
    dbs.insert(seg.databases.begin(), seg.databases.end());
  }
  return {dbs.begin(), dbs.end()};
}

namespace {
LibpqLogin metadata_login(const config::Listener& l, const std::string& database,
                          std::chrono::milliseconds connect_timeout) {
  LibpqLogin login;
  login.database = database;
  if (l.backend.metadata) login.user = l.backend.metadata->user;
  login.connect_timeout = connect_timeout;
  login.application_name = "segproxy-views";
  login.options = "-c statement_timeout=30000 -c default_transaction_read_only=on";
  return login;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> metadata_conn_params(
    const config::Listener& l, const std::string& database, std::chrono::milliseconds connect_timeout,
    const std::string& hostaddr) {
  return libpq_conn_params(l, metadata_login(l, database, connect_timeout), hostaddr);
}

bool read_metadata_password(const config::MetadataCredential& m, const authz::EnvironmentLookup& environment,
                            authz::Secret& out, std::string& why) {
  why.clear();
  if (!m.password_env.empty()) {
    std::optional<std::string> v = environment ? environment(m.password_env) : std::nullopt;
    if (!v) why = "environment variable " + m.password_env + " is not set";
    else if (v->empty()) why = "environment variable " + m.password_env + " is empty";
    else out = authz::Secret(std::move(*v));
    if (v) OPENSSL_cleanse(v->data(), v->size());
    return why.empty();
  }
  if (m.password_file.empty()) {
    why = "no password_file or password_env";
    return false;
  }
  const int fd = ::open(m.password_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    why = "cannot open password file " + m.password_file + ": " + std::strerror(errno);
    return false;
  }
  std::array<char, kMaxPasswordFile + 1> buf{};
  std::size_t len = 0;
  bool failed = false;
  while (len < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failed = true;
    if (n <= 0) break;
    len += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (failed) why = "cannot read password file " + m.password_file;
  else if (len > kMaxPasswordFile) why = "password file " + m.password_file + " is larger than 4 KiB";
  if (len >= 1 && buf[len - 1] == '\n') --len;
  if (len >= 1 && buf[len - 1] == '\r') --len;
  if (why.empty() && len == 0) why = "password file " + m.password_file + " is empty";
  if (why.empty()) {
    std::string value;
    value.reserve(kMaxPasswordFile);
    value.assign(buf.data(), len);
    out = authz::Secret(std::move(value));
  }
  OPENSSL_cleanse(buf.data(), buf.size());
  return why.empty();
}

std::optional<authz::ViewCatalog> load_view_catalog(const config::Listener& l,
                                                    const std::string& database,
                                                    std::chrono::milliseconds connect_timeout,
                                                    const authz::EnvironmentLookup& environment,
                                                    std::string& why) {
  if (!l.backend.metadata) {
    why = "no backend.metadata";
    return std::nullopt;
  }
  authz::Secret password;
  if (!read_metadata_password(*l.backend.metadata, environment, password, why)) return std::nullopt;
  auto conn = libpq_connect(l, metadata_login(l, database, connect_timeout), password, why);
  if (!conn) {
    why = "connect: " + why;
    return std::nullopt;
  }
  std::unique_ptr<PGresult, PgResultCloser> res(
      PQexecParams(conn.get(), kViewDependencyQuery, 0, nullptr, nullptr, nullptr, nullptr, 0));
  if (!res || PQresultStatus(res.get()) != PGRES_TUPLES_OK || PQnfields(res.get()) != 4) {
    why = "query: " + libpq_one_line(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn.get()));
    return std::nullopt;
  }
  authz::ViewCatalog catalog;
  const int rows = PQntuples(res.get());
  for (int i = 0; i < rows; ++i) {
    catalog.add(authz::RelationName{PQgetvalue(res.get(), i, 0), PQgetvalue(res.get(), i, 1)},
                authz::RelationName{PQgetvalue(res.get(), i, 2), PQgetvalue(res.get(), i, 3)});
  }
  // All or nothing: without the function names `x.f` would not be checked as f(x).
  res.reset(PQexecParams(conn.get(), kAttributeFunctionQuery, 0, nullptr, nullptr, nullptr, nullptr, 0));
  if (!res || PQresultStatus(res.get()) != PGRES_TUPLES_OK || PQnfields(res.get()) != 1) {
    why = "function query: " + libpq_one_line(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn.get()));
    return std::nullopt;
  }
  const int functions = PQntuples(res.get());
  for (int i = 0; i < functions; ++i) catalog.add_attribute_function(PQgetvalue(res.get(), i, 0));
  return catalog;
}

ViewLoader::ViewLoader(std::shared_ptr<const Runtime> rt, Logger& log, std::shared_ptr<ViewPublisher> publisher)
    : rt_(std::move(rt)), log_(log), publisher_(std::move(publisher)) {
  for (std::size_t i = 0; i < rt_->config.listeners.size(); ++i) {
    const auto& l = rt_->config.listeners[i];
    if (l.protocol != config::Protocol::Postgres || !l.backend.metadata) continue;
    Target t;
    t.listener = i;
    t.databases = metadata_databases(rt_->config, l);
    t.refresh = l.backend.metadata->refresh;
    if (!t.databases.empty()) loop_.add(std::move(t));
  }
}

ViewLoader::~ViewLoader() { stop(); }

void ViewLoader::start() {
  if (loop_.empty() || loop_.running()) return;
  ddl_token_ = rt_->on_ddl.attach([this] { request_refresh(); });
  loop_.start([this](Target& t) { load_target(t); });
}

bool ViewLoader::wait_first_load(std::chrono::milliseconds timeout) { return loop_.wait_first_load(timeout); }

void ViewLoader::request_refresh() { loop_.request_refresh(); }

void ViewLoader::stop() {
  rt_->on_ddl.detach(std::exchange(ddl_token_, 0));
  loop_.stop();
}

void ViewLoader::load_target(Target& t) {
  const auto& l = rt_->config.listeners[t.listener];
  for (const auto& db : t.databases) {
    std::string why;
    const auto started = Clock::now();
    auto catalog = load_view_catalog(l, db, rt_->config.limits.backend_connect_timeout, rt_->environment, why);
    if (!catalog) {
      const bool have_old = publisher_->has(t.listener, db);
      log_.warn("views.load_failed",
                {{"listener", l.name}, {"database", db}, {"error", why},
                 {"using", have_old ? "last loaded views" : "view names and config pins only"}});
      continue;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    log_.info("views.loaded", {{"listener", l.name}, {"database", db},
                               {"views", std::to_string(catalog->size())},
                               {"attribute_functions", std::to_string(catalog->attribute_functions().size())},
                               {"duration_ms", std::to_string(ms.count())}});
    publisher_->put(t.listener, db, std::make_shared<const authz::ViewCatalog>(std::move(*catalog)));
  }
}

}  // namespace segproxy::proxy
