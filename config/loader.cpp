// Config loading entry points: read the file, parse YAML (syntax errors with their
// line), then run the parse and validate passes, collecting every error.
#include "config/loader.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "config/detail.hpp"

namespace segproxy::config {

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

namespace {

// Counts document starts and notes the line of the second document's first node;
// ignores everything else.
class DocumentStarts final : public YAML::EventHandler {
 public:
  int count = 0;
  int second_line = 0;
  void OnDocumentStart(const YAML::Mark&) override { ++count; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { note(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { note(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { note(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(m);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& m) {
    if (count == 2 && second_line == 0 && !m.is_null()) second_line = m.line + 1;
  }
};

}  // namespace

LoadResult load_config_string(std::string_view yaml, const std::string& filename,
                              const std::string& base_dir, const LoadOptions& options) {
  detail::Diagnostics diag(filename);
  LoadResult result;
  YAML::Node doc;
  DocumentStarts starts;
  try {
    const std::string text(yaml);
    doc = YAML::Load(text);
    // A second document is an error. Counted by a parser that stops after two:
    // YAML::LoadAll never returns on some malformed input (yaml-cpp 0.7 keeps producing
    // empty documents for a stray ',' at the top level until memory runs out).
    std::istringstream in(text);
    YAML::Parser parser(in);
    if (parser.HandleNextDocument(starts)) parser.HandleNextDocument(starts);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    diag.error(line, "", "YAML syntax error: " + e.msg);
    result.errors = diag.take();
    return result;
  }
  if (starts.count > 1) diag.error(starts.second_line, "", "multiple YAML documents; a config file holds exactly one");
  Config cfg;
  cfg.source_path = filename;
  cfg.zoneinfo_dir = options.zoneinfo_dir;
  detail::Reader reader(diag);
  detail::parse_config(reader, doc, base_dir, cfg);
  detail::validate_config(diag, cfg);
  result.errors = diag.take();
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

LoadResult load_config_file(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  const int open_errno = errno;
  std::error_code ec;
  if (!in || std::filesystem::is_directory(path, ec)) {
    LoadResult r;
    const std::string why = in ? "is a directory" : std::strerror(open_errno);
    r.errors.push_back(ConfigError{path, 0, "", "cannot read config file: " + why});
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    LoadResult r;
    r.errors.push_back(ConfigError{path, 0, "", "cannot read config file"});
    return r;
  }
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const std::string base_dir = std::filesystem::absolute(dir, ec).lexically_normal().string();
  return load_config_string(text.str(), path, ec ? dir.string() : base_dir, options);
}

}  // namespace segproxy::config
