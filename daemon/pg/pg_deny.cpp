// Refusals of a PostgreSQL session during the relay: a refused statement is replaced by
// a DO block that makes the backend raise the refusal (pg_deny.hpp), so its order and
// transaction effects are PostgreSQL's own: a simple Query in place of a Query or
// FunctionCall, an extended Parse / Bind / Execute / Sync in place of a Sync
// (pg_raise_at_sync); denials are logged and audited.
#include "daemon/pg/pg_deny.hpp"

#include <openssl/rand.h>

#include <cctype>
#include <cstdint>
#include <cstdio>

#include "protocols/common/utf8.hpp"
#include "protocols/pg/encoder.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/pg/pg_wal_state.hpp"

namespace segproxy::proxy {
namespace {

// An E'' literal in ASCII only: the statement is read by the server in the session's
// client_encoding, where the bytes of a UTF-8 character could pair with the escaping
// backslash (SJIS, BIG5, GBK, GB18030 trail bytes include 0x5C) and end the string early.
// Characters beyond ASCII become \uXXXX / \UXXXXXXXX escapes (code points, converted by
// the server to its encoding); bytes that are not UTF-8 become '?'.
std::string e_literal(std::string_view s) {
  std::string out = "E'";
  char hex[16];
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\\' || c == '\'') out.push_back('\\');
      if (c != 0) out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len == 1 || i + len > s.size() || !protocols::is_valid_utf8(s.substr(i, len))) {
      out.push_back('?');
      ++i;
      continue;
    }
    std::uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if (cp <= 0xFFFF) std::snprintf(hex, sizeof hex, "\\u%04X", static_cast<unsigned>(cp));
    else std::snprintf(hex, sizeof hex, "\\U%08X", static_cast<unsigned>(cp));
    out += hex;
    i += len;
  }
  out.push_back('\'');
  return out;
}

bool valid_sqlstate(std::string_view s) {
  if (s.size() != 5) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string random_tag() {
  unsigned char raw[8] = {};
  RAND_bytes(raw, sizeof raw);
  std::string tag = "$sp";
  char hex[3];
  for (unsigned char b : raw) {
    std::snprintf(hex, sizeof hex, "%02x", b);
    tag += hex;
  }
  tag += "$";
  return tag;
}

}  // namespace

std::string pg_raise_statement(std::string_view sqlstate, std::string_view message, std::string_view detail) {
  std::string body = "BEGIN RAISE EXCEPTION USING ERRCODE = '";
  body += valid_sqlstate(sqlstate) ? sqlstate : "42501";
  body += "', MESSAGE = " + e_literal(message);
  if (!detail.empty()) body += ", DETAIL = " + e_literal(detail);
  body += "; END";
  std::string tag = random_tag();
  while (body.find(tag) != std::string::npos) tag = random_tag();
  return "DO " + tag + " " + body + " " + tag;
}

// 55.2.3: after an error in an extended batch the backend skips every message up to
// Sync, a simple Query included. Standing in for the client's Sync, the raise therefore
// goes as Parse / Bind / Execute of the unnamed statement and portal, then Sync: a batch
// that already failed skips the raise and still answers its Sync with ReadyForQuery (the
// client sees its own error, as without the proxy); otherwise the raise fails the batch
// (its implicit transaction rolls back) and the Sync answers. Its ParseComplete and
// BindComplete are not the client's: daemon/pg/pg_reply_trim.cpp drops them.
std::vector<std::uint8_t> pg_raise_at_sync(std::string_view statement) {
  std::vector<std::uint8_t> out;
  protocols::pg::encode_frontend(out, protocols::pg::Parse{"", statement, 0});
  protocols::pg::encode_frontend(out, protocols::pg::Bind{"", "", 0, 0, 0});
  protocols::pg::encode_frontend(out, protocols::pg::Execute{"", 0});
  protocols::pg::encode_frontend(out, protocols::pg::Sync{});
  return out;
}

// ---- the session's side: refusals in order, raised by the backend ----

namespace pg = protocols::pg;
using protocols::Bytes;

Bytes PgSession::raise_query(std::string_view sqlstate, std::string_view message, std::string_view detail) {
  Bytes q;
  pg::encode_frontend(q, pg::Query{pg_raise_statement(sqlstate, message, detail)});
  return q;
}


void PgSession::deny(const GateVerdict& v, std::string_view kind) {
  svc_.log.info("statement.denied", {{"session", id_text_},
                                     {"identity", identity().display()},
                                     {"segment", segment_},
                                     {"message", kind},
                                     {"command", v.command},
                                     {"rule", v.decision.rule_id},
                                     {"sqlstate", v.decision.sqlstate},
                                     {"reason", v.decision.reason}});
}

// An extended-protocol message (or Query) refused for protocol state, not policy: like a
// denial, recorded, and answered in order by the backend (discard until Sync; a Query
// is replaced by the raise by the caller).
void PgSession::refuse_protocol_state(const pg::FrontendMessage& msg, authz::Decision d) {
  GateVerdict v;
  v.decision = std::move(d);
  v.command = std::holds_alternative<pg::Query>(msg)   ? "QUERY"
              : std::holds_alternative<pg::Parse>(msg) ? "PARSE"
              : std::holds_alternative<pg::Bind>(msg)  ? "BIND"
              : std::holds_alternative<pg::Execute>(msg) ? "EXECUTE"
                                                         : "DESCRIBE";
  pending_refusal_record_ = audit_decision(v, "");
  if (wal_gated_) wal_state_->rule.note_record(pending_refusal_record_.local);
  deny(v, v.command);
  pending_refusal_ = std::make_unique<authz::Decision>(std::move(v.decision));
  if (!std::holds_alternative<pg::Query>(msg)) advance(State::Relaying, State::Discarding);
}

}  // namespace segproxy::proxy
