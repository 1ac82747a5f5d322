#include "daemon/log.hpp"

#include "audit/record_codec.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace segproxy::proxy {
namespace {

LogLevel parse_level(const std::string& s) {
  if (s == "debug") return LogLevel::Debug;
  if (s == "warn") return LogLevel::Warn;
  if (s == "error") return LogLevel::Error;
  return LogLevel::Info;
}

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}


bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s)
    if (c <= ' ' || c == '"' || c == '=' || c >= 0x7f) return true;
  return false;
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(us));
  return buf;
}

}  // namespace

Logger::Logger(const config::LogConfig& cfg) : level_(parse_level(cfg.level)), format_(cfg.format) {}

void Logger::write(LogLevel l, std::string_view event, std::initializer_list<LogField> fields) {
  if (!enabled(l)) return;
  std::string line;
  line.reserve(160);
  if (format_ == config::LogFormat::Json) {
    line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + level_name(l) + "\",\"event\":";
    audit::append_json_string(line, event);
    for (const auto& [k, v] : fields) {
      line.push_back(',');
      audit::append_json_string(line, k);
      line.push_back(':');
      audit::append_json_string(line, v);
    }
    line += "}\n";
  } else {
    line += timestamp();
    line += ' ';
    line += level_name(l);
    line += ' ';
    line += event;
    for (const auto& [k, v] : fields) {
      line.push_back(' ');
      line += k;
      line.push_back('=');
      if (needs_quotes(v)) {
        audit::append_json_string(line, v);
      } else {
        line += v;
      }
    }
    line.push_back('\n');
  }
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace segproxy::proxy
