#include "daemon/pg/pg_deny.hpp"

#include <openssl/rand.h>

#include <cctype>
#include <cstdio>

namespace segproxy::proxy {
namespace {

std::string e_literal(std::string_view s) {
  std::string out = "E'";
  for (char c : s) {
    if (c == '\0') continue;
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
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

}  // namespace segproxy::proxy
