#pragma once
// The rows `same_as` repeats name, read back from the central store on demand (verify
// checks each target; export joins the target's statement fields back in). A bounded
// cache keyed by seq: repeats mostly name a few recent records (the writer's
// de-duplication table holds recent ones), so when it is full the oldest seq goes.
#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::audit::store {

class SameAsTargets {
 public:
  static constexpr std::size_t kDefaultCapacity = 4096;

  SameAsTargets(PGconn* c, std::string instance, std::size_t capacity = kDefaultCapacity)
      : c_(c), instance_(std::move(instance)), capacity_(capacity == 0 ? 1 : capacity) {}

  // The stored line of record `seq` of this instance (valid until the next call);
  // nullopt when the row does not exist or the store cannot be read.
  std::optional<std::string_view> line(std::uint64_t seq);

  std::uint64_t fetched() const { return fetched_; }  // store round trips (tests)

 private:
  PGconn* c_;
  std::string instance_;
  std::size_t capacity_;
  std::map<std::uint64_t, std::string> lines_;
  std::uint64_t fetched_ = 0;
};

}  // namespace segproxy::audit::store
