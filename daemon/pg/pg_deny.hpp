#pragma once
// What the proxy sends the backend *instead of* a refused statement: a DO block that
// raises the refusal as a server error. The backend then reports it in order with every
// pipelined request before it, and applies PostgreSQL's own transaction semantics: an
// explicit transaction block fails (25P02 until ROLLBACK, COMMIT rolls back), and an
// implicit extended-protocol transaction is rolled back, so no transaction that had a
// statement refused can commit part of its work.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::proxy {

// `DO $sp<random>$ BEGIN RAISE EXCEPTION USING ERRCODE = '<sqlstate>', MESSAGE = E'..',
// DETAIL = E'..'; END $sp<random>$`. Text is escaped for E'' literals (lexed the same
// whatever standard_conforming_strings is), NUL bytes are dropped, and the dollar-quote
// tag never occurs in the body. An invalid SQLSTATE becomes 42501.
std::string pg_raise_statement(std::string_view sqlstate, std::string_view message, std::string_view detail);

// The frames standing in for a client's Sync: Parse (unnamed) of `statement`, Bind
// (unnamed portal), Execute, Sync. A batch the backend already failed skips all but the
// Sync (a simple Query would be skipped too, and no ReadyForQuery would come); otherwise
// the statement raises and the Sync answers. Its ParseComplete / BindComplete are the
// proxy's, not the client's (the session drops them: daemon/pg/pg_reply_trim.cpp).
std::vector<std::uint8_t> pg_raise_at_sync(std::string_view statement);

}  // namespace segproxy::proxy
