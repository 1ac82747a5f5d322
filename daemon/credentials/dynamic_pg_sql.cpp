// Dynamic PostgreSQL credentials: hashes, markers, timestamps, SQL text (no I/O).
#include "daemon/credentials/dynamic_pg_sql.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <ctime>

namespace segproxy::proxy {

std::string identity_id8(std::string_view identity_key) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(identity_key.data(), identity_key.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 4 && i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string format_marker(std::string_view instance, std::chrono::system_clock::time_point expires_at) {
  const auto secs = std::chrono::ceil<std::chrono::seconds>(expires_at.time_since_epoch()).count();
  return std::string(kMarkerPrefix) + std::string(instance) + ":" + std::to_string(secs);
}

std::optional<Marker> parse_marker(std::string_view comment) {
  if (comment.substr(0, kMarkerPrefix.size()) != kMarkerPrefix) return std::nullopt;
  const std::string_view rest = comment.substr(kMarkerPrefix.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= rest.size()) return std::nullopt;
  Marker m;
  m.instance = std::string(rest.substr(0, colon));
  const std::string_view num = rest.substr(colon + 1);
  const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), m.expires_unix);
  if (ec != std::errc() || ptr != num.data() + num.size() || m.expires_unix < 0) return std::nullopt;
  return m;
}

std::string format_pg_timestamp(std::chrono::system_clock::time_point t) {
  const std::time_t secs = static_cast<std::time_t>(
      std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch()).count());
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S+00", &tm);
  return std::string(buf, n);
}

std::optional<std::vector<std::string>> create_role_sql(const SqlQuoter& q, std::string_view user,
                                                        std::string_view password_verifier,
                                                        std::string_view valid_until,
                                                        const std::vector<std::string>& grant_roles,
                                                        std::string_view marker) {
  const auto u = q.ident(user);
  const auto pw = q.literal(password_verifier);
  const auto until = q.literal(valid_until);
  const auto note = q.literal(marker);
  if (!u || !pw || !until || !note || grant_roles.empty()) return std::nullopt;
  std::string in_role;
  for (const auto& r : grant_roles) {
    const auto qr = q.ident(r);
    if (!qr) return std::nullopt;
    if (!in_role.empty()) in_role += ", ";
    in_role += *qr;
  }
  std::vector<std::string> out;
  out.push_back("CREATE ROLE " + *u +
                " WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
                " PASSWORD " + *pw + " VALID UNTIL " + *until + " IN ROLE " + in_role);
  out.push_back("COMMENT ON ROLE " + *u + " IS " + *note);
  return out;
}

std::optional<std::vector<std::string>> renew_role_sql(const SqlQuoter& q, std::string_view user,
                                                       std::string_view valid_until, std::string_view marker) {
  const auto u = q.ident(user);
  const auto until = q.literal(valid_until);
  const auto note = q.literal(marker);
  if (!u || !until || !note) return std::nullopt;
  return std::vector<std::string>{"ALTER ROLE " + *u + " VALID UNTIL " + *until,
                                  "COMMENT ON ROLE " + *u + " IS " + *note};
}

std::optional<std::string> drop_role_sql(const SqlQuoter& q, std::string_view user) {
  const auto u = q.ident(user);
  if (!u) return std::nullopt;
  return "DROP ROLE IF EXISTS " + *u;
}

std::optional<std::vector<std::string>> drop_role_owned_sql(const SqlQuoter& q, std::string_view user,
                                                            std::string_view owner, bool grant_owner) {
  const auto u = q.ident(user);
  const auto o = q.ident(owner);
  if (!u || !o || owner.empty()) return std::nullopt;
  std::vector<std::string> out{"GRANT " + *u + " TO CURRENT_USER"};
  if (grant_owner) out.push_back("GRANT " + *o + " TO CURRENT_USER");
  out.push_back("REASSIGN OWNED BY " + *u + " TO " + *o);
  out.push_back("DROP OWNED BY " + *u);
  out.push_back("DROP ROLE " + *u);
  if (grant_owner) out.push_back("REVOKE " + *o + " FROM CURRENT_USER");
  return out;
}

}  // namespace segproxy::proxy
