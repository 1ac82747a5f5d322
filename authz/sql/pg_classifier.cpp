// Entry points of the PostgreSQL classifier: parse with libpg_query (protobuf output,
// unpacked with protobuf-c), check the lexing preconditions, classify each statement.
#include "authz/sql/pg_classifier.hpp"

#include <pg_query.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>

#include "authz/sql/pg_walker.hpp"

namespace segproxy::authz::sql {
namespace {

// Owns libpg_query's protobuf result and its protobuf-c unpacked tree. Only built for
// text within the StatementLimits (pre-scanned); `depth` is the pre-scan's estimate.
class ParsedTree {
 public:
  ParsedTree(const std::string& text, std::size_t depth) {
    // Cheap for shallow text; the syscall-free pthread query only matters when deep.
    if (depth > 64 && detail::stack_room() < detail::stack_needed(depth)) {
      no_stack_ = true;
      return;
    }
    result_ = pg_query_parse_protobuf(text.c_str());
    parsed_ = true;
    if (!result_.error &&
        detail::wire_depth_exceeds(reinterpret_cast<const std::uint8_t*>(result_.parse_tree.data),
                                   result_.parse_tree.len, detail::kMaxDepth))
      too_deep_ = true;
    else if (!result_.error)
      tree_ = pg_query__parse_result__unpack(
          nullptr, result_.parse_tree.len,
          reinterpret_cast<const std::uint8_t*>(result_.parse_tree.data));
  }
  ~ParsedTree() {
    if (tree_) pg_query__parse_result__free_unpacked(tree_, nullptr);
    if (parsed_) pg_query_free_protobuf_parse_result(result_);
  }
  ParsedTree(const ParsedTree&) = delete;
  ParsedTree& operator=(const ParsedTree&) = delete;

  const PgQueryError* error() const { return parsed_ ? result_.error : nullptr; }
  bool too_deep() const { return too_deep_; }
  bool no_stack() const { return no_stack_; }
  const PgQuery__ParseResult* tree() const { return tree_; }

 private:
  PgQueryProtobufParseResult result_{};
  bool parsed_ = false;
  bool too_deep_ = false;
  bool no_stack_ = false;
  PgQuery__ParseResult* tree_ = nullptr;
};

std::string canonical_encoding(std::string_view e) {
  std::string out;
  for (char ch : e) {
    if (ch == '_' || ch == '-') continue;
    out.push_back(ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch);
  }
  return out;
}

// Reason every statement of `sql` must be Unknown because libpg_query (UTF-8 bytes,
// standard_conforming_strings=on) could tokenise it differently from the backend.
std::string lexing_mismatch(std::string_view sql, const ClassifierOptions& opts) {
  const std::string enc = canonical_encoding(opts.client_encoding);
  static constexpr std::array<std::string_view, 12> kAsciiTrailBytes = {
      "SJIS", "SHIFTJIS", "MSKANJI", "WIN932", "SHIFTJIS2004", "BIG5", "WIN950",
      "GBK",  "WIN936",   "GB18030", "UHC",    "WIN949"};
  if (std::find(kAsciiTrailBytes.begin(), kAsciiTrailBytes.end(), enc) != kAsciiTrailBytes.end() ||
      enc == "JOHAB")
    return "client_encoding " + opts.client_encoding +
           " can hide quotes and backslashes inside multibyte characters; not supported";
  if (enc != "UTF8" && enc != "UNICODE" && enc != "SQLASCII") {
    const bool non_ascii = std::any_of(sql.begin(), sql.end(), [](char ch) {
      return static_cast<unsigned char>(ch) >= 0x80;
    });
    if (non_ascii)
      return "non-ASCII text with client_encoding " + opts.client_encoding + " is not supported";
  }
  if (!opts.standard_conforming_strings && sql.find('\\') != std::string_view::npos)
    return "standard_conforming_strings=off is not supported for statements containing a backslash";
  return {};
}

// The text, parsed, if it is within opts.limits; otherwise `info` is the refusal.
std::optional<std::string> bounded_text(std::string_view sql, const StatementLimits& limits, StatementInfo& info,
                                        std::size_t& depth) {
  if (!detail::pg_text_within_limits(sql, limits, info, depth)) return std::nullopt;
  if (sql.find('\0') != std::string_view::npos) {
    info.parse_error = "query text contains a NUL byte";
    info.parse_error_position = static_cast<int>(sql.find('\0')) + 1;
    return std::nullopt;
  }
  return std::string(sql);
}

constexpr std::size_t kMaxErrorMessage = 256;  // libpg_query quotes the text "at or near"

}  // namespace

StatementInfo classify_pg(std::string_view sql, const ClassifierOptions& opts) {
  StatementInfo info;
  std::size_t depth = 0;
  const auto text = bounded_text(sql, opts.limits, info, depth);
  if (!text) return info;
  const ParsedTree parsed(*text, depth);
  if (parsed.no_stack()) {
    refuse_over_limit(info, kSqlstateStatementTooComplex,
                      "segproxy: statement is nested too deeply for this thread's stack (nesting estimated at " +
                          std::to_string(depth) + ")");
    return info;
  }
  if (const auto* err = parsed.error()) {
    info.parse_error = err->message ? err->message : "syntax error";
    if (info.parse_error.size() > kMaxErrorMessage) {  // cut at a UTF-8 character boundary
      std::size_t cut = kMaxErrorMessage;
      while (cut > 0 && (static_cast<unsigned char>(info.parse_error[cut]) & 0xC0) == 0x80) --cut;
      info.parse_error.resize(cut);
      info.parse_error += "...";
    }
    info.parse_error_position = err->cursorpos;
    return info;
  }
  if (parsed.too_deep()) {
    // Not a syntax error: statement_too_complex, and the session stays usable.
    refuse_over_limit(info, kSqlstateStatementTooComplex,
                      "segproxy: statement is nested too deeply to classify (more than " +
                          std::to_string(detail::kMaxDepth) + " parse-tree levels)");
    return info;
  }
  const auto* tree = parsed.tree();
  if (!tree) {
    info.parse_error = "internal error: could not decode the parse tree";
    return info;
  }
  info.parse_ok = true;
  info.fingerprint = detail::fingerprint_tree(tree);
  const std::string mismatch = lexing_mismatch(sql, opts);
  info.statements.reserve(tree->n_stmts);
  for (std::size_t i = 0; i < tree->n_stmts; ++i) {
    StatementPart part;
    const auto* raw = tree->stmts[i];
    detail::Walker walker(opts, part);
    if (raw && raw->stmt) {
      walker.classify_top(raw->stmt);
    } else {
      part.klass = StatementClass::Unknown;
      part.forbidden_reason = "empty statement node";
    }
    if (!mismatch.empty()) {
      part.klass = StatementClass::Unknown;
      part.forbidden_reason = mismatch;
    }
    info.statements.push_back(std::move(part));
  }
  return info;
}

std::uint64_t fingerprint_pg(std::string_view sql) {
  StatementInfo refusal;
  std::size_t depth = 0;
  const auto text = bounded_text(sql, StatementLimits{}, refusal, depth);
  if (!text) return 0;
  const ParsedTree parsed(*text, depth);
  if (parsed.no_stack() || parsed.error() || !parsed.tree()) return 0;
  return detail::fingerprint_tree(parsed.tree());
}

std::string normalize_pg(std::string_view sql) {
  StatementInfo refusal;
  std::size_t depth = 0;
  const auto text = bounded_text(sql, StatementLimits{}, refusal, depth);
  if (!text) return {};
  PgQueryNormalizeResult r = pg_query_normalize(text->c_str());
  std::string out = (!r.error && r.normalized_query) ? r.normalized_query : "";
  pg_query_free_normalize_result(r);
  return out;
}

}  // namespace segproxy::authz::sql
