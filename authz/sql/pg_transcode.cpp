// Client encoding -> UTF-8 for the classifier (pg_lexing.hpp), with glibc iconv. The
// table of encodings is protocols/pg/encodings.cpp.
#include <iconv.h>

#include <algorithm>
#include <cerrno>

#include "authz/sql/pg_lexing.hpp"
#include "protocols/common/utf8.hpp"
#include "protocols/pg/encodings.hpp"

namespace segproxy::authz::sql {
namespace {

namespace pg = protocols::pg;

// Characters (UTF-8 lead bytes) in the first `bytes` of `s`, + 1.
int char_position(std::string_view s, std::size_t bytes) {
  int n = 1;
  for (std::size_t i = 0; i < bytes && i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;
  return n;
}

ClientText invalid(std::string encoding, int position) {
  ClientText r;
  r.sqlstate = "22021";
  r.error = "segproxy: invalid byte sequence for encoding \"" + encoding + "\" in the statement text";
  r.position = position;
  return r;
}

ClientText not_followed(std::string message) {
  ClientText r;
  r.sqlstate = "0A000";
  r.error = std::move(message);
  return r;
}

// UTF-8 (and bytes a server with this server encoding reads as they are): checked, kept.
ClientText as_utf8(std::string_view sql) {
  if (!protocols::is_valid_utf8(sql)) return invalid("UTF8", 0);
  ClientText r;
  r.ok = true;
  r.text.assign(sql);
  return r;
}

class Iconv {
 public:
  explicit Iconv(const char* from) : cd_(iconv_open("UTF-8", from)) {}
  ~Iconv() {
    if (ok()) iconv_close(cd_);
  }
  Iconv(const Iconv&) = delete;
  Iconv& operator=(const Iconv&) = delete;
  bool ok() const { return cd_ != reinterpret_cast<iconv_t>(-1); }
  iconv_t get() const { return cd_; }

 private:
  iconv_t cd_;
};

}  // namespace

ClientText iconv_to_utf8(std::string_view in, const char* iconv_name) {
  Iconv cd(iconv_name);
  if (!cd.ok()) return not_followed(std::string("segproxy: no converter from ") + iconv_name + " to UTF-8 is installed");
  ClientText r;
  // One input byte becomes at most 4 UTF-8 bytes (more only for composed characters,
  // which grow the buffer below, up to a bound).
  const std::size_t cap = in.size() * 8 + 64;
  r.text.resize(in.size() * 3 + 16);
  char* src = const_cast<char*>(in.data());  // iconv's signature; the input is not written
  std::size_t src_left = in.size();
  std::size_t used = 0;
  for (bool flushing = false;;) {
    char* dst = r.text.data() + used;
    std::size_t dst_left = r.text.size() - used;
    const std::size_t rc = flushing ? iconv(cd.get(), nullptr, nullptr, &dst, &dst_left)
                                    : iconv(cd.get(), &src, &src_left, &dst, &dst_left);
    used = r.text.size() - dst_left;
    if (rc != static_cast<std::size_t>(-1)) {
      if (flushing) break;
      flushing = true;
      continue;
    }
    if (errno == E2BIG && r.text.size() < cap) {
      r.text.resize(std::min(cap, r.text.size() * 2));
      continue;
    }
    // EILSEQ (not a character of the encoding), EINVAL (cut at the end), or no room.
    return invalid(iconv_name, char_position(r.text, used));
  }
  r.text.resize(used);
  if (r.text.find('\0') != std::string::npos || !protocols::is_valid_utf8(r.text))
    return invalid(iconv_name, 0);
  r.ok = true;
  return r;
}

ClientText pg_client_text_to_utf8(std::string_view sql, std::string_view client_encoding,
                                  std::string_view server_encoding) {
  auto enc = pg::find_pg_encoding(client_encoding);
  if (!enc) return not_followed("segproxy: client_encoding \"" + std::string(client_encoding.substr(0, 64)) +
                                "\" is not an encoding segproxy knows");
  if (enc->support == pg::EncodingSupport::SqlAscii) {
    // No conversion: the server reads the bytes in its own encoding.
    if (server_encoding.empty()) return as_utf8(sql);
    auto server = pg::find_pg_encoding(server_encoding);
    if (server && server->support == pg::EncodingSupport::SqlAscii) {
      // Neither side interprets bytes >= 0x80: they are identifier / literal bytes to
      // the server's scanner exactly as to libpg_query's.
      ClientText r;
      r.ok = true;
      r.text.assign(sql);
      return r;
    }
    if (!server) return not_followed("segproxy: server_encoding is not an encoding segproxy knows");
    enc = server;
  }
  switch (enc->support) {
    case pg::EncodingSupport::Utf8:
      return as_utf8(sql);
    case pg::EncodingSupport::Iconv: {
      const std::string name(enc->iconv_name);
      ClientText r = iconv_to_utf8(sql, name.c_str());
      if (!r.ok && r.sqlstate == "22021")
        r.error = "segproxy: invalid byte sequence for encoding \"" + std::string(enc->name) + "\" in the statement text";
      return r;
    }
    case pg::EncodingSupport::Refused:
    case pg::EncodingSupport::SqlAscii:
      break;
  }
  return not_followed("segproxy: client_encoding " + std::string(enc->name) +
                      " cannot be followed by segproxy's classifier: " + std::string(enc->refusal));
}

}  // namespace segproxy::authz::sql
