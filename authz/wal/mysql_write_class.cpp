// MySQL / MariaDB write-ahead classes (mysql_write_class.hpp).
#include "authz/wal/mysql_write_class.hpp"

#include <string>

#include "authz/sql/mysql_lexer.hpp"
#include "authz/wal/builtin_lists.hpp"

namespace segproxy::authz::wal {
namespace {

using sql::StatementClass;
using sql::StatementPart;
using sql::TableOp;
using sql::mysql::iequals;
using sql::mysql::Token;
using sql::mysql::TokKind;

// One statement's tokens, split at top-level ';' (a compound statement runs to the end,
// as the analyzer reads it).
struct Statement {
  std::vector<const Token*> toks;
  bool word(std::size_t i, std::string_view w) const {
    return i < toks.size() && toks[i]->kind == TokKind::Word && iequals(toks[i]->text, w);
  }
  bool has_word(std::string_view w) const {
    for (const auto* t : toks)
      if (t->kind == TokKind::Word && iequals(t->text, w)) return true;
    return false;
  }
  bool has_op(std::string_view op) const {
    for (const auto* t : toks)
      if (t->kind == TokKind::Op && t->text == op) return true;
    return false;
  }
  bool mentions_autocommit() const {
    for (const auto* t : toks)
      if ((t->kind == TokKind::Word || t->kind == TokKind::QuotedIdent) && iequals(t->text, "autocommit")) return true;
      else if (t->kind == TokKind::SysVar && t->text.size() >= 10 &&
               iequals(std::string_view(t->text).substr(t->text.size() - 10), "autocommit"))
        return true;
    return false;
  }
};

std::vector<Statement> split(const std::vector<Token>& toks) {
  std::vector<Statement> out(1);
  int depth = 0;
  for (const auto& t : toks) {
    if (t.kind == TokKind::LParen) ++depth;
    if (t.kind == TokKind::RParen) --depth;
    if (t.kind == TokKind::Semicolon && depth == 0) {
      if (!out.back().toks.empty()) out.emplace_back();
      continue;
    }
    out.back().toks.push_back(&t);
  }
  if (out.back().toks.empty()) out.pop_back();
  return out;
}

// XA grammar (the analyzer refuses XA today; the class is ready for when it does not).
MessageClass xa_class(const Statement& s) {
  if (s.word(1, "START") || s.word(1, "BEGIN")) return transaction_control("XA START");
  if (s.word(1, "END")) return transaction_control("XA END");
  if (s.word(1, "PREPARE")) return commit_point("XA PREPARE");
  if (s.word(1, "RECOVER")) return read_only("XA RECOVER");
  if (s.word(1, "COMMIT") && s.has_word("ONE") && s.has_word("PHASE")) return commit_point("XA COMMIT ONE PHASE");
  MessageClass c = escaping("XA COMMIT/ROLLBACK of a named xid");
  c.transaction_control = true;
  return c;
}

class DmlProof {
 public:
  DmlProof(const ClassContext& ctx) : catalog_(ctx.usable_catalog()) {}

  MessageClass run(const StatementPart& p, const Statement* s, bool may_write, const std::string& command) {
    for (const auto& f : p.functions) {
      if (!f.schema.empty()) doubt("calls the stored function " + f.schema + "." + f.name);
      else if (!mysql_listed_function(f.name)) doubt("calls " + f.name + "(), not on the side-effect-free list");
    }
    if (!s) doubt("statement tokens not matched to the analysis");
    else if (s->has_op(":=")) doubt("assigns a user variable (:=)");
    else if (!may_write && s->has_word("INTO")) doubt("SELECT ... INTO");
    const bool locks = p.locks_rows;
    bool writes = locks;
    for (const auto& t : p.tables) {
      const std::string shown = t.schema + "." + t.name;
      const RelationFacts* f = catalog_ ? catalog_->find(t.schema, t.name) : nullptr;
      if (!catalog_) { doubt("table " + shown + " without a loaded catalog"); break; }
      if (!f) { doubt("table " + shown + " is not in the catalog"); continue; }
      switch (t.op) {
        case TableOp::Select:
          if (!(f->kind == RelationKind::Table || f->kind == RelationKind::View) || !f->read_only_ok)
            doubt("reading " + shown + " is not proven free of effects");
          else if (locks && !(f->kind == RelationKind::Table && f->transactional))
            doubt("row locks on " + shown + ", not a transactional table");
          break;
        case TableOp::Insert:
        case TableOp::Update:
        case TableOp::Delete:
          if (!may_write) doubt("writes " + shown);
          else if (f->kind != RelationKind::Table || !f->transactional)
            doubt("writes " + shown + ", not a transactional table");
          else if (!f->hooks_listed_only) doubt("writing " + shown + " runs unlisted code (trigger or default)");
          writes = true;
          break;
        default: doubt(std::string(sql::table_op_name(t.op)) + " on " + shown); break;
      }
    }
    if (!doubt_.empty()) return escaping(command + ": " + doubt_);
    return writes ? contained(command) : read_only(command);
  }

 private:
  void doubt(std::string r) {
    if (doubt_.empty()) doubt_ = std::move(r);
  }
  const WalCatalog* catalog_;
  std::string doubt_;
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

MessageClass part_class(const StatementPart& p, const Statement* s, const ClassContext& ctx) {
  if (s && s->word(0, "XA")) return xa_class(*s);
  const std::string& cmd = p.command;
  switch (p.klass) {
    case StatementClass::Forbidden:
    case StatementClass::Unknown: return escaping("refused: " + cmd);
    case StatementClass::Transaction:
      if (cmd == "COMMIT") return commit_point("COMMIT", true);
      if (cmd == "BEGIN" || cmd == "START TRANSACTION") return commit_point(cmd + " commits implicitly", true);
      return transaction_control(cmd);  // ROLLBACK [TO SAVEPOINT], SAVEPOINT, RELEASE SAVEPOINT
    case StatementClass::Ddl: return commit_point(cmd + " commits implicitly (before it runs: also when it fails)");
    case StatementClass::Procedural: return commit_point("CALL may commit inside the procedure");
    case StatementClass::AnonymousCode: return commit_point(cmd + " runs code the proxy cannot inspect");
    case StatementClass::SessionSafe:
      if (starts_with(cmd, "SHOW") || cmd == "GET DIAGNOSTICS") return read_only(cmd);
      if (!s || s->mentions_autocommit()) return commit_point("SET autocommit commits implicitly", true);
      return escaping(cmd + " changes the session");
    case StatementClass::Admin:
      if (starts_with(cmd, "SHOW") || cmd == "EXPLAIN FOR CONNECTION") return read_only(cmd);
      if (cmd == "KILL QUERY" || cmd == "kill" || cmd == "HANDLER") return escaping(cmd);
      return commit_point(cmd + " commits implicitly");
    case StatementClass::Explain:
      if (cmd == "ANALYZE" || !s || s->has_word("ANALYZE")) {
        MessageClass c = DmlProof(ctx).run(p, s, true, "ANALYZE");
        c.reason = "EXPLAIN ANALYZE runs " + c.reason;
        return c;
      }
      {
        // The optimizer evaluates constant expressions (stored functions too): read-only
        // when the statement's code is all proven (its own writes do not happen).
        const MessageClass c = DmlProof(ctx).run(p, s, true, "EXPLAIN");
        if (c.klass == WriteClass::Escaping) return escaping("EXPLAIN plans " + c.reason);
        return read_only("EXPLAIN");
      }
    case StatementClass::Prepare:
      if (cmd == "PREPARE" || cmd == "DEALLOCATE PREPARE") return read_only(cmd);
      if (cmd == "EXECUTE" && ctx.prepared) {
        const auto it = ctx.prepared->find(p.prepared_name);
        if (it != ctx.prepared->end()) return it->second;
      }
      return escaping(cmd + " of a statement whose class is not known");
    case StatementClass::Dml:
      if (cmd == "LOCK TABLES" || cmd == "UNLOCK TABLES" || cmd == "TRUNCATE")
        return commit_point(cmd + " commits implicitly");
      if (cmd == "SET") return escaping("SET of user variables changes the session");
      if (starts_with(cmd, "SHOW") || cmd == "DESCRIBE") return read_only(cmd);
      if (cmd == "SELECT" || cmd == "TABLE" || cmd == "VALUES" || cmd == "DO")
        return DmlProof(ctx).run(p, s, false, cmd);
      if (cmd == "INSERT" || cmd == "REPLACE" || cmd == "UPDATE" || cmd == "DELETE")
        return DmlProof(ctx).run(p, s, true, cmd);
      return escaping(cmd + " is not proven read-only or contained");
    default: return escaping(cmd + " is not proven read-only or contained");
  }
}

}  // namespace

MysqlWriteClasses mysql_write_classes(const sql::StatementInfo& info, const sql::MysqlText& text,
                                      const ClassContext& ctx) {
  MysqlWriteClasses out;
  if (!info.parse_ok) return out;
  std::vector<Statement> stmts;
  if (const auto* tokens = text.tokens()) stmts = split(*tokens);
  // A part is matched to its tokens only when the counts agree (else every token-based
  // check doubts).
  const bool matched = stmts.size() == info.statements.size();
  out.message = MessageClass::empty();
  for (std::size_t i = 0; i < info.statements.size(); ++i) {
    MessageClass c = part_class(info.statements[i], matched ? &stmts[i] : nullptr, ctx);
    out.message.add(c);
    out.statements.push_back(std::move(c));
  }
  return out;
}

MysqlWriteClasses mysql_write_classes(const sql::StatementInfo& info, std::string_view sql,
                                      const sql::MysqlClassifierOptions& opts, const ClassContext& ctx) {
  if (!info.parse_ok) return MysqlWriteClasses{};
  const sql::MysqlText text(sql, opts);
  return mysql_write_classes(info, text, ctx);
}

MysqlWriteClasses mysql_write_classes(std::string_view sql, const sql::MysqlClassifierOptions& opts,
                                      const ClassContext& ctx) {
  const sql::MysqlText text(sql, opts);
  return mysql_write_classes(text.classify(), text, ctx);
}

}  // namespace segproxy::authz::wal
