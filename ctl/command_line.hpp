#pragma once
// segproxyctl's command line conventions (docs/admin.md "segproxyctl"), as kubectl and
// git have them: the global options --socket PATH, --json and --config FILE may come
// before the command as well as after it; `segproxyctl help CMD` and `CMD --help`
// print the help of one command; the exit codes are documented in one place.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::proxy::ctl {

inline constexpr int kCtlExitUsage = 64;

// The words that name the command: "revoke" (1 word), "policy explain", "audit verify",
// "config check" (2 words; 1 when the second is missing or is an option).
std::size_t command_word_count(const std::vector<std::string>& args);

// Moves the global options written before the command to just after the command's
// words, so each command's own parser sees them where it always did:
//   --socket S revoke --identity X  ->  revoke --socket S --identity X
//   --json --config F policy explain ...  ->  policy explain --json --config F ...
// Options after the command are left alone. nullopt + `error` when an option before the
// command is not global (e.g. --identity) or lacks its value.
std::optional<std::vector<std::string>> hoist_global_options(const std::vector<std::string>& args,
                                                             std::string& error);

// True when a word after the command asks for its help (--help or -h).
bool asks_for_help(const std::vector<std::string>& args);

// The help of one command (its usage, what it does, its options and exit codes), or
// nullopt when `command` is not a segproxyctl command.
std::optional<std::string> command_help(std::string_view command);

// The general usage: every command, the global options and the exit codes.
std::string general_usage();

}  // namespace segproxy::proxy::ctl
