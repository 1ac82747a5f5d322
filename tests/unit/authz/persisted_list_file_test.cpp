// authz/persisted_list read_list_file (review finding, issue 13): the buffer is sized
// from the file (fstat), not the 16 MiB cap; the cap still refuses a larger file; a
// missing file reads as empty.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "authz/persisted_list.hpp"

namespace segproxy::authz {
namespace {

namespace fs = std::filesystem;

class ListDir {
 public:
  ListDir() {
    std::string tmpl = (fs::temp_directory_path() / "segproxy-listfile-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~ListDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ListDir(const ListDir&) = delete;
  ListDir& operator=(const ListDir&) = delete;
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  fs::path operator/(const std::string& s) const { return path_ / s; }

 private:
  fs::path path_;
};

TEST(ReadListFile, ASmallFileIsReadIntoABufferOfItsOwnSizeNotTheCap) {
  const ListDir dir;
  const std::string text = "{\"kind\":\"spiffe\",\"value\":\"spiffe://example.org/a\"}\n";
  std::string error;
  const auto read = read_list_file(dir.write("list.jsonl", text), error);
  ASSERT_TRUE(read.has_value()) << error;
  EXPECT_EQ(*read, text);
  // The old reader allocated kMaxListFileBytes + 1 and shrank the size only.
  EXPECT_LT(read->capacity(), 64u * 1024) << "a " << text.size() << "-byte file kept a " << read->capacity()
                                          << "-byte buffer";
}

TEST(ReadListFile, AMissingFileReadsAsEmptyAndAFileOverTheCapIsRefused) {
  const ListDir dir;
  std::string error;
  const auto missing = read_list_file(dir / "absent.jsonl", error);
  ASSERT_TRUE(missing.has_value()) << error;
  EXPECT_TRUE(missing->empty());
  const auto empty = read_list_file(dir.write("empty.jsonl", ""), error);
  ASSERT_TRUE(empty.has_value()) << error;
  EXPECT_TRUE(empty->empty());
  const fs::path big = dir.write("big.jsonl", std::string(kMaxListFileBytes + 1, 'x'));
  error.clear();
  EXPECT_FALSE(read_list_file(big, error).has_value());
  EXPECT_NE(error.find("larger than"), std::string::npos) << error;
  const auto at_cap = read_list_file(dir.write("cap.jsonl", std::string(kMaxListFileBytes, 'y')), error);
  ASSERT_TRUE(at_cap.has_value()) << error;
  EXPECT_EQ(at_cap->size(), kMaxListFileBytes);
}

}  // namespace
}  // namespace segproxy::authz
