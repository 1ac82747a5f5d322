// Statement decision records for policy replay / suggest (see audit_statements.hpp).
#include "ctl/audit_statements.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <streambuf>

#include "audit/record_codec.hpp"
#include "audit/statement_text.hpp"

namespace segproxy::proxy::ctl {
namespace {

constexpr std::size_t kMaxLine = 64u << 20;

// An output stream buffer that decodes each exported line and hands the record on.
class RecordLineSink : public std::streambuf {
 public:
  RecordLineSink(const std::function<void(const audit::AuditRecord&)>& fn, RecordSourceResult& res)
      : fn_(fn), res_(res) {}
  ~RecordLineSink() override { finish(); }
  void finish() {
    if (!line_.empty() || overlong_) end_line();
  }

 protected:
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    put(traits_type::to_char_type(ch));
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) put(s[i]);
    return n;
  }

 private:
  void put(char c) {
    if (c == '\n') {
      end_line();
      return;
    }
    if (line_.size() >= kMaxLine) {
      overlong_ = true;
      return;
    }
    line_.push_back(c);
  }
  void end_line() {
    std::string why;
    const auto r = overlong_ ? std::nullopt : audit::decode_record(line_, why);
    if (r) {
      ++res_.records;
      fn_(*r);
    } else {
      ++res_.undecodable;
    }
    line_.clear();
    overlong_ = false;
  }
  const std::function<void(const audit::AuditRecord&)>& fn_;
  RecordSourceResult& res_;
  std::string line_;
  bool overlong_ = false;
};

}  // namespace

RecordSourceResult read_records(const RecordSource& src, const std::function<void(const audit::AuditRecord&)>& fn) {
  RecordSourceResult res;
  audit::ExportOptions opts;
  opts.format = audit::ExportFormat::jsonl;
  opts.filter = src.filter;
  opts.verify = src.verify;
  RecordLineSink sink(fn, res);
  std::ostream out(&sink);
  std::ostringstream err;
  bool ok = false;
  if (src.store) {
    ok = audit_store_export(*src.store, opts, out, err) == 0;
  } else if (src.dir) {
    const audit::ExportResult r = audit::export_log(*src.dir, out, opts);
    ok = r.ok();
    if (!ok) err << r.verification.summary() << "\n";
  } else {
    err << "no audit source (AUDIT_DIR or --postgres)\n";
  }
  out.flush();
  sink.finish();
  res.ok = ok;
  if (!ok) res.error = err.str();
  return res;
}

namespace {

enum class Placeholder { Typed, String };

bool keyword_before(std::string_view s, std::size_t at) {
  std::size_t e = at;
  while (e > 0 && s[e - 1] == ' ') --e;
  std::size_t b = e;
  while (b > 0 && audit::statement_ident_char(s[b - 1])) --b;
  std::string w(s.substr(b, e - b));
  for (auto& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return w == "DATE" || w == "TIME" || w == "TIMESTAMP" || w == "TIMESTAMPTZ" || w == "INTERVAL";
}

// Quoted text, comments and dollar-quoted strings are copied as they are (the lexing of
// audit/statement_text, which wrote the `?`).
std::string replace_placeholders(std::string_view s, Placeholder style) {
  std::string out;
  out.reserve(s.size() + 16);
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    std::size_t end = i + 1;
    if (c == '\'' || c == '"') {
      end = audit::skip_quoted(s, i, c, c == '\'' && audit::escape_string_prefix(s.substr(0, i)));
    } else if (const std::size_t comment = audit::comment_end(s, i, false); comment != std::string_view::npos) {
      end = comment;
    } else if (c == '$' && (i == 0 || !audit::statement_ident_char(s[i - 1]))) {
      const audit::DollarToken d = audit::scan_dollar(s, i);
      if (d.kind != audit::DollarToken::Kind::None) end = d.end;
    } else if (c == '?') {
      const bool prefixed = i > 0 && (audit::statement_ident_char(s[i - 1]) || s[i - 1] == '&');  // E? X? B? N? U&?
      out += style == Placeholder::String || prefixed || keyword_before(s, i) ? "''" : "0";
      ++i;
      continue;
    }
    out.append(s.substr(i, end - i));
    i = end;
  }
  return out;
}

}  // namespace

std::vector<std::string> reparseable_statements(std::string_view s, std::string_view protocol) {
  std::vector<std::string> out;
  if (protocol != "mysql" && s.find('?') != std::string_view::npos) {
    for (const Placeholder p : {Placeholder::Typed, Placeholder::String}) {
      std::string t = replace_placeholders(s, p);
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(std::move(t));
    }
  }
  if (std::find(out.begin(), out.end(), s) == out.end()) out.emplace_back(s);
  return out;
}

}  // namespace segproxy::proxy::ctl
