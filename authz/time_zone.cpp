// TZif (RFC 8536) reader and POSIX TZ rule evaluation.
#include "authz/time_zone.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace segproxy::authz {
namespace {

using namespace std::chrono;

constexpr std::int64_t kDay = 86400;

std::int64_t days_of(year_month_day ymd) { return sys_days{ymd}.time_since_epoch().count(); }

int year_of(std::int64_t t) {
  const auto d = floor<days>(sys_seconds{seconds{t}});
  return static_cast<int>(year_month_day{d}.year());
}

// Day number (since the epoch) a rule names in `y`.
std::int64_t rule_day(const PosixTz::Rule& r, int y) {
  const year yy{y};
  const std::int64_t jan1 = days_of(yy / January / 1);
  switch (r.kind) {
    case PosixTz::Rule::Kind::JulianNoLeap:
      return jan1 + (r.day - 1) + ((yy.is_leap() && r.day >= 60) ? 1 : 0);
    case PosixTz::Rule::Kind::ZeroBased:
      return jan1 + r.day;
    case PosixTz::Rule::Kind::MonthWeekDay:
      break;
  }
  const month m{static_cast<unsigned>(r.month)};
  const weekday wd{static_cast<unsigned>(r.weekday)};
  if (r.week >= 5) return sys_days{yy / m / wd[last]}.time_since_epoch().count();
  return sys_days{year_month_weekday{yy / m / wd[static_cast<unsigned>(r.week)]}}
      .time_since_epoch()
      .count();
}

class PosixParser {
 public:
  explicit PosixParser(std::string_view s) : s_(s) {}

  PosixTz parse() {
    PosixTz tz;
    name();
    tz.std_offset = -offset(24);
    if (done()) return tz;
    tz.has_dst = true;
    name();
    tz.dst_offset = tz.std_offset + 3600;
    if (!done() && s_[i_] != ',') tz.dst_offset = -offset(24);
    if (done()) fail("DST without transition rules is not supported");
    expect(',');
    tz.start = rule();
    expect(',');
    tz.end = rule();
    if (!done()) fail("trailing characters");
    return tz;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("POSIX TZ string \"" + std::string(s_) + "\": " + why);
  }
  bool done() const { return i_ >= s_.size(); }
  void expect(char c) {
    if (done() || s_[i_] != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  void name() {
    if (!done() && s_[i_] == '<') {
      const auto close = s_.find('>', i_);
      if (close == std::string_view::npos || close == i_ + 1) fail("unterminated <name>");
      i_ = close + 1;
      return;
    }
    const std::size_t start = i_;
    while (!done() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ - start < 3) fail("zone abbreviation too short");
  }
  int number(int max_digits) {
    const std::size_t start = i_;
    int v = 0;
    while (!done() && std::isdigit(static_cast<unsigned char>(s_[i_])) &&
           i_ - start < static_cast<std::size_t>(max_digits)) {
      v = v * 10 + (s_[i_++] - '0');
    }
    if (i_ == start) fail("expected a number");
    return v;
  }
  // [+-]h[hh][:mm[:ss]] -> seconds (sign as written).
  std::int32_t offset(int max_hours) {
    int sign = 1;
    if (!done() && (s_[i_] == '+' || s_[i_] == '-')) sign = s_[i_++] == '-' ? -1 : 1;
    const int h = number(3);
    int m = 0, sec = 0;
    if (!done() && s_[i_] == ':') {
      ++i_;
      m = number(2);
      if (!done() && s_[i_] == ':') {
        ++i_;
        sec = number(2);
      }
    }
    if (h > max_hours || m > 59 || sec > 59) fail("offset out of range");
    return sign * (h * 3600 + m * 60 + sec);
  }
  PosixTz::Rule rule() {
    PosixTz::Rule r;
    if (!done() && s_[i_] == 'M') {
      ++i_;
      r.kind = PosixTz::Rule::Kind::MonthWeekDay;
      r.month = number(2);
      expect('.');
      r.week = number(1);
      expect('.');
      r.weekday = number(1);
      if (r.month < 1 || r.month > 12 || r.week < 1 || r.week > 5 || r.weekday > 6) {
        fail("bad Mm.w.d rule");
      }
    } else if (!done() && s_[i_] == 'J') {
      ++i_;
      r.kind = PosixTz::Rule::Kind::JulianNoLeap;
      r.day = number(3);
      if (r.day < 1 || r.day > 365) fail("bad Jn rule");
    } else {
      r.kind = PosixTz::Rule::Kind::ZeroBased;
      r.day = number(3);
      if (r.day > 365) fail("bad n rule");
    }
    if (!done() && s_[i_] == '/') {
      ++i_;
      r.time = offset(167);  // RFC 8536 extension: -167..167 hours
    }
    return r;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// Big-endian cursor over the TZif bytes.
class Cursor {
 public:
  explicit Cursor(std::string_view b) : b_(b) {}
  void need(std::size_t n) const {
    if (b_.size() - pos_ < n) throw std::invalid_argument("truncated TZif data");
  }
  std::uint64_t be(std::size_t n) {
    need(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b_[pos_ + i]);
    pos_ += n;
    return v;
  }
  std::string_view take(std::size_t n) {
    need(n);
    const auto v = b_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  void skip(std::size_t n) { take(n); }
  std::string_view rest() const { return b_.substr(pos_); }

 private:
  std::string_view b_;
  std::size_t pos_ = 0;
};

struct Header {
  char version = 0;
  std::uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

Header read_header(Cursor& c) {
  if (c.take(4) != "TZif") throw std::invalid_argument("not a TZif file (bad magic)");
  Header h{};
  h.version = c.take(1)[0];
  c.skip(15);
  h.isutcnt = static_cast<std::uint32_t>(c.be(4));
  h.isstdcnt = static_cast<std::uint32_t>(c.be(4));
  h.leapcnt = static_cast<std::uint32_t>(c.be(4));
  h.timecnt = static_cast<std::uint32_t>(c.be(4));
  h.typecnt = static_cast<std::uint32_t>(c.be(4));
  h.charcnt = static_cast<std::uint32_t>(c.be(4));
  // RFC 8536 3.1 limits; also keeps the size arithmetic below far from overflow.
  if (h.typecnt == 0 || h.typecnt > 256 || h.charcnt == 0 || h.timecnt > 1'000'000 ||
      h.leapcnt > 100'000 || (h.isutcnt != 0 && h.isutcnt != h.typecnt) ||
      (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) {
    throw std::invalid_argument("invalid TZif header counts");
  }
  return h;
}

}  // namespace

PosixTz PosixTz::parse(std::string_view s) { return PosixParser(s).parse(); }

std::pair<std::int64_t, std::int64_t> PosixTz::transitions_in_year(int y) const {
  const std::int64_t s = rule_day(start, y) * kDay + start.time - std_offset;
  const std::int64_t e = rule_day(end, y) * kDay + end.time - dst_offset;
  return {s, e};
}

std::int32_t PosixTz::offset_at(std::int64_t t) const {
  if (!has_dst) return std_offset;
  const auto [s, e] = transitions_in_year(year_of(t + std_offset));
  const bool dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
  return dst ? dst_offset : std_offset;
}

std::optional<std::int64_t> PosixTz::next_transition(std::int64_t t) const {
  if (!has_dst) return std::nullopt;
  std::optional<std::int64_t> best;
  const int y = year_of(t);
  for (int yy = y - 1; yy <= y + 1; ++yy) {
    const auto [s, e] = transitions_in_year(yy);
    for (const std::int64_t c : {s, e}) {
      if (c > t && (!best || c < *best)) best = c;
    }
  }
  return best;
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  auto z = std::make_shared<TimeZone>();
  z->name_ = "UTC";
  z->offsets_.push_back(0);
  return z;
}

std::shared_ptr<const TimeZone> TimeZone::from_tzif(std::string name, std::string_view bytes) {
  Cursor c(bytes);
  const Header v1 = read_header(c);
  if (v1.version < '2') throw std::invalid_argument("TZif version 1 is not supported (need v2+)");
  c.skip(std::size_t{v1.timecnt} * 5 + std::size_t{v1.typecnt} * 6 + v1.charcnt +
         std::size_t{v1.leapcnt} * 8 + v1.isstdcnt + v1.isutcnt);
  const Header h = read_header(c);
  if (h.leapcnt != 0) throw std::invalid_argument("TZif files with leap seconds are not supported");
  auto z = std::make_shared<TimeZone>();
  z->name_ = std::move(name);
  z->times_.reserve(h.timecnt);
  for (std::uint32_t i = 0; i < h.timecnt; ++i) {
    const auto t = static_cast<std::int64_t>(c.be(8));
    if (!z->times_.empty() && t <= z->times_.back()) {
      throw std::invalid_argument("TZif transition times are not ascending");
    }
    z->times_.push_back(t);
  }
  for (std::uint32_t i = 0; i < h.timecnt; ++i) {
    const auto idx = static_cast<std::uint8_t>(c.be(1));
    if (idx >= h.typecnt) throw std::invalid_argument("TZif transition type out of range");
    z->type_index_.push_back(idx);
  }
  for (std::uint32_t i = 0; i < h.typecnt; ++i) {
    const auto off = static_cast<std::int32_t>(static_cast<std::uint32_t>(c.be(4)));
    c.skip(2);  // isdst, desigidx
    if (off <= -89999 || off >= 93600) throw std::invalid_argument("TZif UTC offset out of range");
    z->offsets_.push_back(off);
  }
  c.skip(h.charcnt + h.isstdcnt + h.isutcnt);
  // Footer: "\n" TZ-string "\n" (empty string = no rule).
  const std::string_view rest = c.rest();
  if (rest.size() < 2 || rest.front() != '\n') throw std::invalid_argument("TZif footer missing");
  const auto nl = rest.find('\n', 1);
  if (nl == std::string_view::npos) throw std::invalid_argument("TZif footer unterminated");
  const std::string_view footer = rest.substr(1, nl - 1);
  if (!footer.empty()) z->footer_ = PosixTz::parse(footer);
  return z;
}

std::int32_t TimeZone::offset_at(std::int64_t t) const {
  if (times_.empty()) return footer_ ? footer_->offset_at(t) : offsets_.front();
  if (t < times_.front()) return offsets_.front();  // RFC 8536: time type 0
  if (t >= times_.back() && footer_) return footer_->offset_at(t);
  const auto it = std::upper_bound(times_.begin(), times_.end(), t);
  return offsets_[type_index_[static_cast<std::size_t>(it - times_.begin()) - 1]];
}

std::optional<std::int64_t> TimeZone::next_transition(std::int64_t t) const {
  const auto it = std::upper_bound(times_.begin(), times_.end(), t);
  if (it != times_.end()) return *it;
  if (!footer_) return std::nullopt;
  return footer_->next_transition(times_.empty() ? t : std::max(t, times_.back()));
}

std::shared_ptr<const TimeZone> ZoneCache::get(const std::string& name) {
  if (auto it = zones_.find(name); it != zones_.end()) return it->second;
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) {
    throw std::runtime_error("time zone \"" + name + "\": not a zoneinfo name");
  }
  std::shared_ptr<const TimeZone> zone;
  const std::string path = dir_ + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (name != "UTC") throw std::runtime_error("time zone \"" + name + "\": cannot read " + path);
    zone = TimeZone::utc();
  } else {
    std::ostringstream bytes;
    bytes << in.rdbuf();
    try {
      zone = TimeZone::from_tzif(name, bytes.str());
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error("time zone \"" + name + "\" (" + path + "): " + e.what());
    }
  }
  zones_.emplace(name, zone);
  return zone;
}

}  // namespace segproxy::authz
