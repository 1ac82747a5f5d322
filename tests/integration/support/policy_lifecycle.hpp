#pragma once
// Helpers of the policy lifecycle tests (issue 18): segproxyctl policy replay / suggest
// as a process, candidate configurations made by swapping a segment's policy text, and
// the metrics endpoint line.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/env.hpp"
#include "support/process.hpp"

namespace segproxy::it {

inline ProcResult run_policy_tool(std::vector<std::string> args) {
  std::vector<std::string> argv{env().segproxyctl_bin, "policy"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, std::chrono::seconds(120));
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// `config` with the first occurrence of `policy` (a segment's policy lines) replaced.
inline std::string swap_policy(std::string config, const std::string& policy, const std::string& replacement) {
  const auto at = config.find(policy);
  if (at == std::string::npos) {
    ADD_FAILURE() << "policy text not found in the configuration";
    return config;
  }
  return config.replace(at, policy.size(), replacement);
}

// Every line of `yaml` indented by `n` spaces (a suggestion pasted under segments.<s>:).
inline std::string indent(const std::string& yaml, int n) {
  std::string out;
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) out += std::string(static_cast<std::size_t>(n), ' ') + line + "\n";
  return out;
}

}  // namespace segproxy::it
