// Pass 2 of the config loader: cross references between listeners, identities and
// segments, duplicates, and the files the config points at.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "config/detail.hpp"
#include "config/mysql_grant.hpp"
#include "config/name_template.hpp"

namespace segproxy::config::detail {

namespace fs = std::filesystem;

void check_readable_file(Diagnostics& d, const std::string& key_path, const std::string& file) {
  if (file.empty()) return;  // missing or invalid value: already reported
  std::error_code ec;
  const auto st = fs::status(file, ec);
  if (ec || !fs::exists(st)) {
    d.error_at(key_path, "file not found: " + file);
  } else if (!fs::is_regular_file(st)) {
    d.error_at(key_path, "not a regular file: " + file);
  } else if (std::ifstream in(file, std::ios::binary); !in) {
    d.error_at(key_path, "file is not readable: " + file);
  }
}

namespace {

std::string endpoint_string(const Endpoint& e) {
  if (e.host.find(':') != std::string::npos) return "[" + e.host + "]:" + std::to_string(e.port);
  return e.host + ":" + std::to_string(e.port);
}

void validate_listeners(Diagnostics& d, const Config& cfg) {
  std::map<std::string, int> names;
  std::map<std::string, int> addrs;
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    const Listener& l = cfg.listeners[i];
    const std::string p = index_path("listeners", i);
    if (!l.name.empty()) {
      if (auto [it, fresh] = names.emplace(l.name, l.line); !fresh) {
        d.error_at(join_path(p, "name"), "duplicate listener name " + quote(l.name) +
                                             " (first declared on line " +
                                             std::to_string(it->second) + ")");
      }
    }
    if (l.listen.port != 0) {
      const std::string a = endpoint_string(l.listen);
      if (auto [it, fresh] = addrs.emplace(a, l.line); !fresh) {
        d.error_at(join_path(p, "listen"), "duplicate listen address " + a +
                                               " (first used on line " +
                                               std::to_string(it->second) + ")");
      }
    }
    check_readable_file(d, join_path(p, "tls.cert"), l.tls.cert);
    check_readable_file(d, join_path(p, "tls.key"), l.tls.key);
    check_readable_file(d, join_path(p, "tls.client_ca"), l.tls.client_ca);
    check_readable_file(d, join_path(p, "tls.crl"), l.tls.crl);
    check_readable_file(d, join_path(p, "backend.tls.ca"), l.backend.tls.ca);
    if (l.backend.metadata) {
      const std::string mp = join_path(p, "backend.metadata");
      if (l.protocol != Protocol::Postgres && l.protocol != Protocol::Mysql &&
          !d.has_error(join_path(p, "protocol"))) {
        d.error_at(mp, "metadata (learning view dependencies) is only supported on postgres and mysql listeners");
      }
      check_readable_file(d, join_path(mp, "password_file"), l.backend.metadata->password_file);
    }
  }
}

void validate_identities(Diagnostics& d, const Config& cfg) {
  std::vector<std::string> names;
  for (const auto& [name, seg] : cfg.segments) names.push_back(name);
  for (std::size_t i = 0; i < cfg.identities.size(); ++i) {
    const IdentityRule& rule = cfg.identities[i];
    if (rule.segment.empty() || cfg.segments.count(rule.segment) != 0) continue;
    d.error_at(join_path(index_path("identities", i), "segment"),
               "unknown segment " + quote(rule.segment) + suggestion(rule.segment, names));
  }
}

// A dynamic credential: per-protocol keys, grant role names, the admin password file
// and the names the template makes for this segment and listener.
void validate_dynamic(Diagnostics& d, const std::string& path, const std::string& segment,
                      const std::string& listener, const Listener* l, const DynamicCredentialConfig& dyn) {
  const std::string tp = join_path(path, "name_template");
  std::string name_why;
  const auto name = expand_name_template(dyn.name_template, segment, listener, "00000000", name_why);
  if (l != nullptr && l->protocol == Protocol::Postgres) {
    if (dyn.grant_roles.empty() && !d.has_error(join_path(path, "grant_roles"))) {
      d.error_at(path, "postgres listener " + quote(listener) +
                           ": dynamic credentials need grant_roles (the roles the minted user gets)");
    }
    if (!dyn.grants.empty()) {
      d.error_at(join_path(path, "grants"), "grants is for mysql listeners; use grant_roles on postgres");
    }
  } else if (l != nullptr && l->protocol == Protocol::Mysql) {
    if (dyn.grants.empty() && !d.has_error(join_path(path, "grants"))) {
      d.error_at(path, "mysql listener " + quote(listener) +
                           ": dynamic credentials need grants (the privileges the minted user gets)");
    }
    if (!dyn.grant_roles.empty()) {
      d.error_at(join_path(path, "grant_roles"), "grant_roles is for postgres listeners; use grants on mysql");
    }
    for (std::size_t i = 0; i < dyn.grants.size(); ++i) {
      std::string why;
      if (!parse_mysql_grant(dyn.grants[i], why)) {
        d.error_at(index_path(join_path(path, "grants"), i),
                   "not a \"PRIVILEGES ON db.object\" clause: " + why);
      }
    }
    if (name && name->size() > kMaxMysqlMintedNameLength && !d.has_error(tp)) {
      d.error_at(tp, "the minted user name " + quote(*name) + " is longer than " +
                         std::to_string(kMaxMysqlMintedNameLength) + " characters (MySQL's limit for user names)");
    }
  }
  // The janitor drops marked users with the template's prefix: the admin login (and the
  // grant roles) must never look like one.
  if (const std::string prefix = name_template_prefix(dyn.name_template); !prefix.empty()) {
    if (dyn.admin_user.rfind(prefix, 0) == 0) {
      d.error_at(join_path(path, "admin"), "the admin user " + quote(dyn.admin_user) +
                                               " starts with the name_template prefix " + quote(prefix) +
                                               " (the janitor drops users with that prefix)");
    }
    for (std::size_t i = 0; i < dyn.grant_roles.size(); ++i) {
      if (dyn.grant_roles[i].rfind(prefix, 0) == 0) {
        d.error_at(index_path(join_path(path, "grant_roles"), i),
                   "role " + quote(dyn.grant_roles[i]) + " starts with the name_template prefix " + quote(prefix));
      }
    }
  }
  for (std::size_t i = 0; i < dyn.grant_roles.size(); ++i) {
    if (dyn.grant_roles[i].size() > kMaxMintedNameLength) {
      d.error_at(index_path(join_path(path, "grant_roles"), i),
                 "role name longer than " + std::to_string(kMaxMintedNameLength) + " bytes");
    }
  }
  check_readable_file(d, join_path(path, "admin.password_file"), dyn.admin_password_file);
  if (!name && !d.has_error(tp)) d.error_at(tp, name_why);
}

void validate_segments(Diagnostics& d, const Config& cfg) {
  std::vector<std::string> listener_names;
  bool all_named = true;
  for (const auto& l : cfg.listeners) {
    if (l.name.empty()) all_named = false;
    listener_names.push_back(l.name);
  }
  for (const auto& [name, seg] : cfg.segments) {
    const std::string sp = join_path("segments", name);
    for (const auto& [listener, ref] : seg.credentials) {
      const std::string cp = join_path(join_path(sp, "credentials"), listener);
      const bool known = std::find(listener_names.begin(), listener_names.end(), listener) !=
                         listener_names.end();
      if (!known && all_named) {
        d.error_at(cp, "unknown listener " + quote(listener) + suggestion(listener, listener_names));
      }
      if (ref.dynamic) {
        const auto l = std::find_if(cfg.listeners.begin(), cfg.listeners.end(),
                                    [&wanted = listener](const Listener& x) { return x.name == wanted; });
        validate_dynamic(d, join_path(cp, "dynamic"), name, listener,
                         l == cfg.listeners.end() ? nullptr : &*l, *ref.dynamic);
      }
      if (!ref.password_file.empty()) {
        std::error_code ec;
        if (!fs::exists(ref.password_file, ec)) {
          d.error_at(join_path(cp, "password_file"), "password file not found: " + ref.password_file);
        } else if (!fs::is_regular_file(ref.password_file, ec)) {
          d.error_at(join_path(cp, "password_file"), "not a regular file: " + ref.password_file);
        }
      }
    }
  }

  // Every segment an identity can map to needs a credential for each postgres listener
  // (otherwise a client is admitted and then fails at backend login).
  std::set<std::string> reachable;
  for (const auto& rule : cfg.identities) {
    if (cfg.segments.count(rule.segment) != 0) reachable.insert(rule.segment);
  }
  for (const auto& name : reachable) {
    const Segment& seg = cfg.segments.at(name);
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
      const Listener& l = cfg.listeners[i];
      if (l.protocol != Protocol::Postgres || l.name.empty()) continue;
      if (d.has_error(join_path(index_path("listeners", i), "protocol"))) continue;
      if (seg.credentials.count(l.name) != 0) continue;
      d.error_at(join_path(join_path("segments", name), "credentials"),
                 "segment " + quote(name) + " has no credential for listener " + quote(l.name));
    }
  }
}

// audit.dir may be missing (the writer creates it) but must not be something else;
// audit.signing_key must be a readable file.
void validate_audit(Diagnostics& d, const Config& cfg) {
  if (!cfg.audit) return;
  const AuditSettings& a = *cfg.audit;
  if (!a.dir.empty()) {
    std::error_code ec;
    const auto st = fs::status(a.dir, ec);
    if (!ec && fs::exists(st) && !fs::is_directory(st)) {
      d.error_at("audit.dir", "not a directory: " + a.dir);
    }
  }
  check_readable_file(d, "audit.signing_key", a.signing_key);
  validate_audit_ship(d, cfg);
}

}  // namespace

void validate_config(Diagnostics& d, const Config& cfg) {
  validate_listeners(d, cfg);
  validate_identities(d, cfg);
  validate_segments(d, cfg);
  validate_policies(d, cfg);
  validate_audit(d, cfg);
  validate_operations(d, cfg);
  validate_control_plane(d, cfg);
}

}  // namespace segproxy::config::detail
