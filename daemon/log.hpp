#pragma once
// Structured log lines to stderr ("text": `ts level event k=v ...`, "json": one object
// per line). Thread-safe. Never pass secrets as fields.
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.hpp"

namespace segproxy::proxy {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

using LogField = std::pair<std::string_view, std::string_view>;

class Logger {
 public:
  explicit Logger(const config::LogConfig& cfg);
  Logger(LogLevel level, config::LogFormat format) : level_(level), format_(format) {}

  bool enabled(LogLevel l) const { return l >= level_; }
  void write(LogLevel l, std::string_view event, std::initializer_list<LogField> fields = {});
  void debug(std::string_view e, std::initializer_list<LogField> f = {}) { write(LogLevel::Debug, e, f); }
  void info(std::string_view e, std::initializer_list<LogField> f = {}) { write(LogLevel::Info, e, f); }
  void warn(std::string_view e, std::initializer_list<LogField> f = {}) { write(LogLevel::Warn, e, f); }
  void error(std::string_view e, std::initializer_list<LogField> f = {}) { write(LogLevel::Error, e, f); }

 private:
  LogLevel level_ = LogLevel::Info;
  config::LogFormat format_ = config::LogFormat::Text;
  std::mutex mu_;
};

}  // namespace segproxy::proxy
