// Startup parameter allow-list (see startup_params.hpp for the contract).
// PostgreSQL semantics followed (src/backend/postmaster/postmaster.c ProcessStartupPacket,
// src/backend/utils/init/postinit.c pg_split_opts, guc.c ParseLongOption):
//  - "user", "database", "options", "replication" are matched case-sensitively; every
//    other name is a GUC, matched case-insensitively;
//  - `options` is split on whitespace, a backslash takes the next character literally;
//  - "-c name=value", "-cname=value" and "--name=value" set a GUC, '-' in the name
//    meaning '_'.
// Error messages name the parameter but never echo a value (values may be secrets).
#include "protocols/pg/startup_params.hpp"

#include "protocols/pg/encodings.hpp"

#include <array>
#include <cctype>
#include <optional>
#include <string_view>

namespace segproxy::protocols::pg {

namespace {

// Settings that cannot change name resolution, lexing or privileges (issue 12 item 2.3):
// formatting, timeouts, transaction defaults a client may also SET itself, planner
// toggles. Anything else (search_path, role, session_authorization, lexing settings such
// as standard_conforming_strings / backslash_quote, resource settings) stays refused.
constexpr std::array<std::string_view, 16> kAllowed = {
    "application_name",
    "client_encoding",
    "DateStyle",
    "TimeZone",
    "IntervalStyle",
    "extra_float_digits",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "default_transaction_deferrable",
    "bytea_output",
    "geqo",
    "jit",
};

constexpr std::size_t kMaxNameInError = 64;

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> canonical_name(std::string_view name) {
  for (auto allowed : kAllowed) {
    if (iequals(name, allowed)) return allowed;
  }
  return std::nullopt;
}

// The parameter name as it may appear in an error: bounded, printable ASCII only.
std::string quoted(std::string_view name) {
  std::string out = "\"";
  for (std::size_t i = 0; i < name.size() && i < kMaxNameInError; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    out += (c >= 0x20 && c < 0x7f && c != '"') ? static_cast<char>(c) : '?';
  }
  if (name.size() > kMaxNameInError) out += "...";
  return out + "\"";
}

// Like pg_split_opts: whitespace separates, a backslash escapes the next character.
std::vector<std::string> split_options(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i == s.size()) break;
    std::string token;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      token += s[i++];
    }
    out.push_back(std::move(token));
  }
  return out;
}

class Filter {
 public:
  StartupFilterResult run(const std::vector<std::pair<std::string, std::string>>& params) {
    for (const auto& [name, value] : params) {
      if (!one(name, value)) return std::move(result_);
    }
    if (!have_user_ || result_.user.empty()) {
      refuse_false("08P01", "no PostgreSQL user name specified in startup packet");
      return std::move(result_);
    }
    if (result_.database.empty()) result_.database = result_.user;
    result_.ok = true;
    return std::move(result_);
  }

 private:
  bool refuse_false(const char* sqlstate, std::string error) {
    result_ = StartupFilterResult{};
    result_.sqlstate = sqlstate;
    result_.error = std::move(error);
    return false;
  }

  bool one(const std::string& name, const std::string& value) {
    // Names PostgreSQL handles itself (matched exactly, as the postmaster does).
    if (name == "user" || name == "database" || name == "options") {
      bool& seen = name == "user" ? have_user_ : name == "database" ? have_database_ : have_options_;
      if (seen) return refuse_false("08P01", "duplicate startup parameter " + quoted(name));
      seen = true;
      if (name == "user") result_.user = value;
      if (name == "database") result_.database = value;
      if (name == "options") return options(value);
      return true;
    }
    if (name == "replication")
      return refuse_false("42501", "startup parameter \"replication\" is not allowed through segproxy");
    return guc(name, value, false);
  }

  // A GUC given directly or through `options`.
  bool guc(std::string_view name, std::string_view value, bool from_options) {
    const auto canonical = canonical_name(name);
    const std::string where = from_options ? " (in \"options\")" : "";
    if (!canonical)
      return refuse_false("42501", "startup parameter " + quoted(name) + where + " is not allowed through segproxy");
    for (const auto& [seen, unused] : result_.forward) {
      if (seen == *canonical)
        return refuse_false("08P01", "duplicate startup parameter " + quoted(*canonical) + where);
    }
    if (value.empty())
      return refuse_false("22023", "startup parameter " + quoted(*canonical) + where + " has an empty value");
    if (*canonical == "client_encoding") {
      // Followed (issue 12 item 2.2): any encoding the classifier can read, forwarded
      // under its canonical name; the others are refused naming the encoding.
      const auto enc = find_pg_encoding(value);
      if (!enc)
        return refuse_false("22023", "startup parameter \"client_encoding\"" + where +
                                         " is not an encoding PostgreSQL knows");
      if (enc->support == EncodingSupport::Refused)
        return refuse_false("0A000", "startup parameter \"client_encoding\"" + where + ": " +
                                         std::string(enc->name) + " cannot be followed by segproxy: " +
                                         std::string(enc->refusal));
      result_.forward.emplace_back(std::string(*canonical), std::string(enc->name));
      return true;
    }
    result_.forward.emplace_back(std::string(*canonical), std::string(value));
    return true;
  }

  // "-c name=value" / "-cname=value" / "--name=value"; anything else is refused.
  bool options(std::string_view text) {
    const auto tokens = split_options(text);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      std::string_view t = tokens[i];
      std::string_view setting;
      if (t == "-c") {
        if (i + 1 == tokens.size())
          return refuse_false("08P01", "malformed startup parameter \"options\": -c without a setting");
        setting = tokens[++i];
      } else if (t.size() > 2 && t.substr(0, 2) == "-c") {
        setting = t.substr(2);
      } else if (t.size() > 2 && t.substr(0, 2) == "--") {
        setting = t.substr(2);
      } else if (t.size() >= 2 && t[0] == '-') {
        return refuse_false("42501", "startup parameter \"options\" may only contain -c name=value switches");
      } else {
        return refuse_false("08P01", "malformed startup parameter \"options\"");
      }
      const auto eq = setting.find('=');
      if (eq == std::string_view::npos || eq == 0)
        return refuse_false("08P01", "malformed startup parameter \"options\": setting without name=value");
      std::string name(setting.substr(0, eq));
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      if (!guc(name, setting.substr(eq + 1), true)) return false;
    }
    return true;
  }

  StartupFilterResult result_;
  bool have_user_ = false;
  bool have_database_ = false;
  bool have_options_ = false;
};

}  // namespace

StartupFilterResult filter_startup_parameters(const std::vector<std::pair<std::string, std::string>>& params) {
  return Filter{}.run(params);
}

}  // namespace segproxy::protocols::pg
