#pragma once
// Metric primitives and their Prometheus text exposition (format 0.0.4).
//
// A MetricsRegistry owns every metric family; there are no globals. A family has a
// fixed list of label NAMES; `family.with({"billing", "select", "allow"})` returns a
// series whose address stays valid for the registry's lifetime, so hot paths resolve a
// series once, keep the pointer, and afterwards only do relaxed atomic operations (no
// lock, no allocation). Label lookups take the family's shared_mutex.
//
// Labels stay bounded: a family holds at most `max_series` distinct label tuples;
// lookups of further tuples are routed to one overflow series whose label values are
// all "__overflow__", and `segproxy_metrics_label_overflow_total{family="<name>"}`
// counts those redirected lookups.
//
// Histogram::observe is lock-free: per-bucket atomic<uint64_t> counters (non-cumulative
// in memory, made cumulative when rendered) and the sum as std::atomic<double> updated
// with C++20 fetch_add (a compare-exchange loop inside libstdc++). _count is rendered
// as the total of the bucket counts read, so it always equals the le="+Inf" bucket.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace segproxy::proxy {

// Monotonic counter. Integer increments are exact; fractional amounts (add) are kept
// in a separate double. Rendered as an integer while no fraction was ever added.
class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { ints_.fetch_add(n, std::memory_order_relaxed); }
  // Ignores negative, NaN and infinite amounts (a counter never goes down).
  void add(double v) noexcept;
  double value() const noexcept;
  std::uint64_t integer_part() const noexcept { return ints_.load(std::memory_order_relaxed); }
  double fractional_part() const noexcept { return frac_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> ints_{0};
  std::atomic<double> frac_{0.0};
};

// Value that goes up and down. Integer values are exact up to 2^53.
class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void inc(double d = 1.0) noexcept { v_.fetch_add(d, std::memory_order_relaxed); }
  void dec(double d = 1.0) noexcept { v_.fetch_sub(d, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

// Distribution over fixed upper bounds (seconds for every histogram in this project).
class Histogram {
 public:
  // `bounds` is owned by the family and outlives the series.
  explicit Histogram(const std::vector<double>& bounds);
  // NaN is dropped; values above the last bound land in +Inf only.
  void observe(double v) noexcept;
  template <class Rep, class Period>
  void observe(std::chrono::duration<Rep, Period> d) noexcept {
    observe(std::chrono::duration<double>(d).count());
  }

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    std::uint64_t count = 0;                // == cumulative.back()
    double sum = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

// Measures a span of steady time into a histogram when destroyed (or on stop()).
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram& h) : h_(&h), start_(std::chrono::steady_clock::now()) {}
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;
  ~ScopedTimer() { stop(); }
  void stop() noexcept {
    if (h_) h_->observe(std::chrono::steady_clock::now() - start_);
    h_ = nullptr;
  }

 private:
  Histogram* h_;
  std::chrono::steady_clock::time_point start_;
};

enum class MetricType { Counter, Gauge, Histogram };

struct FamilyOptions {
  std::size_t max_series = 2000;  // distinct label tuples before lookups overflow
};

inline constexpr std::string_view kOverflowLabelValue = "__overflow__";

// Base of every family: identity plus rendering.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  MetricType type() const noexcept { return type_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }
  // Appends "# HELP", "# TYPE" and every sample of this family.
  virtual void render(std::string& out) const = 0;

 protected:
  void render_header(std::string& out) const;

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
};

// Orders label tuples; transparent so lookups by string_view allocate nothing.
struct LabelTupleLess {
  using is_transparent = void;
  bool operator()(std::span<const std::string> a, std::span<const std::string> b) const noexcept;
  bool operator()(std::span<const std::string> a, std::span<const std::string_view> b) const noexcept;
  bool operator()(std::span<const std::string_view> a, std::span<const std::string> b) const noexcept;
};

template <class Series>
class Family final : public FamilyBase {
 public:
  // Internal: created through MetricsRegistry. `overflow_counter` may be null.
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names, FamilyOptions opts,
         std::vector<double> bounds, Counter* overflow_counter);

  // The series for these label values (in label-name order). The reference stays valid
  // for the registry's lifetime. Throws std::invalid_argument if the number of values
  // differs from the number of label names (a programming error, not an input error).
  Series& with(std::initializer_list<std::string_view> values) {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }
  Series& with(std::span<const std::string_view> values);
  // The only series of a family without labels.
  Series& get() { return with(std::span<const std::string_view>()); }

  std::size_t series_count() const;  // excluding the overflow series
  void render(std::string& out) const override;

 private:
  Series& overflow_series();
  std::unique_ptr<Series> make_series() const;

  FamilyOptions opts_;
  std::vector<double> bounds_;  // histograms only
  Counter* overflow_counter_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>, LabelTupleLess> series_;
  std::unique_ptr<Series> overflow_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// A gauge read at render time, e.g. a queue depth owned by another component. The
// function runs on the rendering thread while this gauge's lock is held: it must not
// call back into the registry. Unset (or cleared) -> the family renders no sample.
// Clear it before the object it reads is destroyed.
class CallbackGauge final : public FamilyBase {
 public:
  CallbackGauge(std::string name, std::string help);
  void set(std::function<double()> fn);
  void clear() { set(nullptr); }
  void render(std::string& out) const override;

 private:
  mutable std::mutex mu_;
  std::function<double()> fn_;
};

// The labelled form of CallbackGauge: one label, and `fn` returns every sample (label
// value, value) at render time, e.g. per-listener values owned by the current Runtime.
// Same rules as CallbackGauge; label values come from the configuration, never input.
class CallbackGaugeFamily final : public FamilyBase {
 public:
  using Samples = std::vector<std::pair<std::string, double>>;
  CallbackGaugeFamily(std::string name, std::string help, std::string label_name);
  void set(std::function<Samples()> fn);
  void clear() { set(nullptr); }
  void render(std::string& out) const override;

 private:
  mutable std::mutex mu_;
  std::function<Samples()> fn_;
};

class MetricsRegistry {
 public:
  static constexpr std::string_view kOverflowCounterName = "segproxy_metrics_label_overflow_total";

  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registration validates names (metric: [a-zA-Z_:][a-zA-Z0-9_:]*, label:
  // [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix, no "le" on histograms, no duplicates) and
  // throws std::invalid_argument on a violation: metrics are declared by code, not input.
  // Counter names get a "_total" suffix if they lack one.
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {},
                         FamilyOptions opts = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {},
                     FamilyOptions opts = {});
  // `bounds`: strictly increasing finite upper bounds; +Inf is implicit.
  HistogramFamily& histogram(std::string name, std::string help, std::vector<double> bounds,
                             std::vector<std::string> label_names = {}, FamilyOptions opts = {});
  CallbackGauge& callback_gauge(std::string name, std::string help, std::function<double()> fn = nullptr);
  CallbackGaugeFamily& callback_gauge_family(std::string name, std::string help, std::string label_name);

  // Every family sorted by name, in text exposition format 0.0.4.
  std::string render() const;

 private:
  void add(std::unique_ptr<FamilyBase> f);
  Counter* overflow_counter_for(const std::string& family_name, bool labelled);

  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_;
  CounterFamily* overflow_ = nullptr;
};

// Helpers for the exposition format (exposed for tests and other renderers).
namespace prom {
std::string format_double(double v);                 // "0.005", "1e-06", "+Inf", "-Inf", "NaN"
std::string escape_label_value(std::string_view v);  // \\, \", \n; invalid UTF-8 -> U+FFFD
std::string escape_help(std::string_view v);         // \\, \n; invalid UTF-8 -> U+FFFD
bool valid_metric_name(std::string_view n);
bool valid_label_name(std::string_view n);
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);
}  // namespace prom

}  // namespace segproxy::proxy
