// Entry points of the PostgreSQL classifier: parse with libpg_query (protobuf output,
// unpacked with protobuf-c) the text as the server reads it (pg_lexing.hpp), classify
// each statement.
#include "authz/sql/pg_classifier.hpp"

#include <pg_query.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "authz/sql/pg_lexing.hpp"
#include "authz/sql/pg_walker.hpp"
#include "protocols/common/utf8.hpp"

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

// The text the parser reads: the client's bytes converted to UTF-8 from the session's
// client_encoding and, under standard_conforming_strings=off, rewritten so that the
// strings the server reads with backslash escapes are E'' strings (pg_lexing.hpp).
// nullopt: `info` is the refusal (22021 invalid byte sequence, 0A000 not followed).
struct ParserText {
  bool converted = false;
  std::string owned;        // converted / rewritten text (converted)
  std::string_view client;  // the client's text (not converted)
  std::vector<std::pair<int, int>> inserted;  // by the standard_conforming_strings rewrite
  std::string_view text() const { return converted ? std::string_view(owned) : client; }
};
std::optional<ParserText> parser_text(std::string_view sql, const ClassifierOptions& opts, StatementInfo& info) {
  if (opts.client_encoding == "UTF8" && opts.standard_conforming_strings) {
    // The common case, without a copy: the text is read as it is (and must be UTF-8).
    if (protocols::is_valid_utf8(sql)) return ParserText{false, {}, sql, {}};
  }
  ClientText utf8 = pg_client_text_to_utf8(sql, opts.client_encoding, opts.server_encoding);
  if (!utf8.ok) {
    info.parse_error = std::move(utf8.error);
    info.parse_error_sqlstate = std::move(utf8.sqlstate);
    info.parse_error_position = utf8.position;
    return std::nullopt;
  }
  if (opts.standard_conforming_strings) return ParserText{true, std::move(utf8.text), {}, {}};
  ScsOffRewrite rewritten = pg_rewrite_scs_off(utf8.text);
  if (!rewritten.ok) {
    info.parse_error = std::move(rewritten.error);
    info.parse_error_sqlstate = "0A000";
    return std::nullopt;
  }
  return ParserText{true, std::move(rewritten.text), {}, std::move(rewritten.inserted)};
}

// A statement after one that changes how the server lexes (SET client_encoding ...) in
// the same message: refused (the proxy follows a lexing change once the server has
// reported it, at the end of the message; docs/policy.md "Lexing settings").
constexpr const char* kAfterLexingChange =
    "segproxy: a statement that changes client_encoding or standard_conforming_strings (or RESET ALL / "
    "DISCARD ALL) must be the last statement of its message";

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

// on_tree: nullptr, or called with the tree of a text that parsed.
static StatementInfo classify_pg_impl(std::string_view sql, const ClassifierOptions& opts,
                                      const ParseTreeVisitor* on_tree) {
  StatementInfo info;
  std::size_t depth = 0;
  // Length is bounded on the client's bytes; the rest of the pre-scan reads the text as
  // the parser will (converted text may be longer than the client's bytes).
  if (sql.size() > opts.limits.max_statement_length) {
    (void)detail::pg_text_within_limits(sql, opts.limits, info, depth);
    return info;
  }
  const auto lexed = parser_text(sql, opts, info);
  if (!lexed) return info;
  StatementLimits limits = opts.limits;
  limits.max_statement_length = std::max(limits.max_statement_length, lexed->text().size());
  const auto text = bounded_text(lexed->text(), limits, info, depth);
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
    info.parse_error_position = pg_position_before_rewrite(err->cursorpos, lexed->inserted);
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
  info.fingerprint = opts.hash_key ? detail::fingerprint_tree(tree, *opts.hash_key) : 0;
  bool after_lexing_change = false;
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
    if (after_lexing_change) {
      part.klass = StatementClass::Unknown;
      part.forbidden_reason = kAfterLexingChange;
    }
    after_lexing_change = after_lexing_change || part.changes_lexing;
    info.statements.push_back(std::move(part));
  }
  if (on_tree && *on_tree) (*on_tree)(*tree);
  return info;
}

std::uint64_t fingerprint_pg(std::string_view sql, const SipKey& key) {
  StatementInfo refusal;
  std::size_t depth = 0;
  const auto text = bounded_text(sql, StatementLimits{}, refusal, depth);
  if (!text) return 0;
  const ParsedTree parsed(*text, depth);
  if (parsed.no_stack() || parsed.error() || !parsed.tree()) return 0;
  return detail::fingerprint_tree(parsed.tree(), key);
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

StatementInfo classify_pg(std::string_view sql, const ClassifierOptions& opts) {
  return classify_pg_impl(sql, opts, nullptr);
}

StatementInfo classify_pg(std::string_view sql, const ClassifierOptions& opts, const ParseTreeVisitor& on_tree) {
  return classify_pg_impl(sql, opts, &on_tree);
}

}  // namespace segproxy::authz::sql
