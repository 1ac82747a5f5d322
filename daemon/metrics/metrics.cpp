#include "daemon/metrics/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace segproxy::proxy {

// --- exposition helpers ------------------------------------------------------------

namespace prom {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr unsigned kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

std::string escape(std::string_view v, bool quote) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size();) {
    const char c = v[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      const std::size_t n = utf8_sequence_length(v, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD: the exposition format is UTF-8
        ++i;
        continue;
      }
      out.append(v.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
  return out;
}

}  // namespace

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {  // integral: no exponent ("1700000000", not "1.7e+09")
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
    if (ec == std::errc()) return std::string(buf, end);
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string escape_label_value(std::string_view v) { return escape(v, true); }
std::string escape_help(std::string_view v) { return escape(v, false); }

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(std::string_view n) {
  if (n.empty() || n.starts_with("__")) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  std::vector<double> out;
  double v = start;
  for (std::size_t i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

}  // namespace prom

namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

// `name{a="x",b="y"<extra>} value\n`; `extra` is an already formatted label (le=...).
void append_sample_prefix(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
                          std::span<const std::string> values, std::string_view extra = {}) {
  out += name;
  if (label_names.empty() && extra.empty()) {
    out += ' ';
    return;
  }
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += label_names[i];
    out += "=\"";
    out += prom::escape_label_value(values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!first) out += ',';
    out += extra;
  }
  out += "} ";
}

void render_series(std::string& out, const FamilyBase& f, std::span<const std::string> values, const Counter& c) {
  append_sample_prefix(out, f.name(), f.label_names(), values);
  const double frac = c.fractional_part();
  if (frac == 0.0) {
    append_uint(out, c.integer_part());
  } else {
    out += prom::format_double(static_cast<double>(c.integer_part()) + frac);
  }
  out += '\n';
}

void render_series(std::string& out, const FamilyBase& f, std::span<const std::string> values, const Gauge& g) {
  append_sample_prefix(out, f.name(), f.label_names(), values);
  out += prom::format_double(g.value());
  out += '\n';
}

void render_series(std::string& out, const FamilyBase& f, std::span<const std::string> values, const Histogram& h) {
  const Histogram::Snapshot s = h.snapshot();
  const std::string bucket = f.name() + "_bucket";
  const auto& bounds = h.bounds();
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    const std::string le = "le=\"" + (i < bounds.size() ? prom::format_double(bounds[i]) : std::string("+Inf")) + "\"";
    append_sample_prefix(out, bucket, f.label_names(), values, le);
    append_uint(out, s.cumulative[i]);
    out += '\n';
  }
  append_sample_prefix(out, f.name() + "_sum", f.label_names(), values);
  out += prom::format_double(s.sum);
  out += '\n';
  append_sample_prefix(out, f.name() + "_count", f.label_names(), values);
  append_uint(out, s.count);
  out += '\n';
}

bool ordered_finite(const std::vector<double>& b) {
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i])) return false;
    if (i > 0 && !(b[i - 1] < b[i])) return false;
  }
  return true;
}

}  // namespace

// --- primitives ----------------------------------------------------------------------

void Counter::add(double v) noexcept {
  if (!(v > 0) || !std::isfinite(v)) return;
  frac_.fetch_add(v, std::memory_order_relaxed);
}

double Counter::value() const noexcept { return static_cast<double>(integer_part()) + fractional_part(); }

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) noexcept {
  if (std::isnan(v)) return;
  // First bound >= v: "le" is inclusive. Past the last bound: the +Inf slot.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  const auto idx = static_cast<std::size_t>(it - bounds_.begin());
  buckets_[idx].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  s.count = acc;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// --- families ------------------------------------------------------------------------

namespace {
template <class A, class B>
bool tuple_less(A a, B b) noexcept {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return std::string_view(x) < std::string_view(y);
  });
}
}  // namespace

bool LabelTupleLess::operator()(std::span<const std::string> a, std::span<const std::string> b) const noexcept {
  return tuple_less(a, b);
}
bool LabelTupleLess::operator()(std::span<const std::string> a, std::span<const std::string_view> b) const noexcept {
  return tuple_less(a, b);
}
bool LabelTupleLess::operator()(std::span<const std::string_view> a, std::span<const std::string> b) const noexcept {
  return tuple_less(a, b);
}

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}

void FamilyBase::render_header(std::string& out) const {
  static constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram"};
  out += "# HELP ";
  out += name_;
  out += ' ';
  out += prom::escape_help(help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += kTypes[static_cast<int>(type_)];
  out += '\n';
}

template <class Series>
Family<Series>::Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                       FamilyOptions opts, std::vector<double> bounds, Counter* overflow_counter)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
      opts_(opts),
      bounds_(std::move(bounds)),
      overflow_counter_(overflow_counter) {}

template <class Series>
std::unique_ptr<Series> Family<Series>::make_series() const {
  if constexpr (std::is_same_v<Series, Histogram>) {
    return std::make_unique<Histogram>(bounds_);
  } else {
    return std::make_unique<Series>();
  }
}

template <class Series>
Series& Family<Series>::with(std::span<const std::string_view> values) {
  if (values.size() != label_names().size())
    throw std::invalid_argument("metric " + name() + ": expected " + std::to_string(label_names().size()) +
                                " label values, got " + std::to_string(values.size()));
  {
    std::shared_lock lock(mu_);
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  if (series_.size() >= opts_.max_series) {
    if (overflow_counter_) overflow_counter_->inc();
    return overflow_series();
  }
  std::vector<std::string> key(values.begin(), values.end());
  auto [pos, inserted] = series_.emplace(std::move(key), make_series());
  (void)inserted;
  return *pos->second;
}

// Called with mu_ held exclusively.
template <class Series>
Series& Family<Series>::overflow_series() {
  if (!overflow_) overflow_ = make_series();
  return *overflow_;
}

template <class Series>
std::size_t Family<Series>::series_count() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

template <class Series>
void Family<Series>::render(std::string& out) const {
  render_header(out);
  std::shared_lock lock(mu_);
  for (const auto& [values, series] : series_) render_series(out, *this, values, *series);
  if (overflow_) {
    const std::vector<std::string> values(label_names().size(), std::string(kOverflowLabelValue));
    render_series(out, *this, values, *overflow_);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

CallbackGauge::CallbackGauge(std::string name, std::string help)
    : FamilyBase(std::move(name), std::move(help), MetricType::Gauge, {}) {}

void CallbackGauge::set(std::function<double()> fn) {
  std::lock_guard lock(mu_);
  fn_ = std::move(fn);
}

void CallbackGauge::render(std::string& out) const {
  render_header(out);
  std::lock_guard lock(mu_);
  if (!fn_) return;
  out += name();
  out += ' ';
  out += prom::format_double(fn_());
  out += '\n';
}

CallbackGaugeFamily::CallbackGaugeFamily(std::string name, std::string help, std::string label_name)
    : FamilyBase(std::move(name), std::move(help), MetricType::Gauge, {std::move(label_name)}) {}

void CallbackGaugeFamily::set(std::function<Samples()> fn) {
  std::lock_guard lock(mu_);
  fn_ = std::move(fn);
}

void CallbackGaugeFamily::render(std::string& out) const {
  render_header(out);
  std::lock_guard lock(mu_);
  if (!fn_) return;
  for (const auto& [label, value] : fn_()) {
    const std::string values[] = {label};
    append_sample_prefix(out, name(), label_names(), values);
    out += prom::format_double(value);
    out += '\n';
  }
}

// --- registry ------------------------------------------------------------------------

namespace {

void validate(const std::string& name, const std::vector<std::string>& labels, bool histogram) {
  if (!prom::valid_metric_name(name)) throw std::invalid_argument("invalid metric name: " + name);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!prom::valid_label_name(labels[i]) || (histogram && labels[i] == "le"))
      throw std::invalid_argument("metric " + name + ": invalid label name: " + labels[i]);
    for (std::size_t j = 0; j < i; ++j)
      if (labels[j] == labels[i]) throw std::invalid_argument("metric " + name + ": duplicate label " + labels[i]);
  }
}

}  // namespace

MetricsRegistry::MetricsRegistry() {
  auto f = std::make_unique<CounterFamily>(
      std::string(kOverflowCounterName),
      "Label lookups redirected to a family's __overflow__ series because it reached its series cap.",
      MetricType::Counter, std::vector<std::string>{"family"}, FamilyOptions{100000}, std::vector<double>{}, nullptr);
  overflow_ = f.get();
  add(std::move(f));
}

void MetricsRegistry::add(std::unique_ptr<FamilyBase> f) {
  std::unique_lock lock(mu_);
  const std::string key = f->name();
  auto [it, inserted] = families_.emplace(key, std::move(f));
  (void)it;
  if (!inserted) throw std::invalid_argument("metric registered twice: " + key);
}

Counter* MetricsRegistry::overflow_counter_for(const std::string& family_name, bool labelled) {
  {
    std::shared_lock lock(mu_);
    if (families_.contains(family_name)) throw std::invalid_argument("metric registered twice: " + family_name);
  }
  return labelled ? &overflow_->with({family_name}) : nullptr;  // no labels: nothing can overflow
}

CounterFamily& MetricsRegistry::counter(std::string name, std::string help, std::vector<std::string> label_names,
                                        FamilyOptions opts) {
  if (!name.ends_with("_total")) name += "_total";
  validate(name, label_names, false);
  Counter* overflow = overflow_counter_for(name, !label_names.empty());
  auto f = std::make_unique<CounterFamily>(std::move(name), std::move(help), MetricType::Counter,
                                           std::move(label_names), opts, std::vector<double>{}, overflow);
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

GaugeFamily& MetricsRegistry::gauge(std::string name, std::string help, std::vector<std::string> label_names,
                                    FamilyOptions opts) {
  validate(name, label_names, false);
  Counter* overflow = overflow_counter_for(name, !label_names.empty());
  auto f = std::make_unique<GaugeFamily>(std::move(name), std::move(help), MetricType::Gauge, std::move(label_names),
                                         opts, std::vector<double>{}, overflow);
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

HistogramFamily& MetricsRegistry::histogram(std::string name, std::string help, std::vector<double> bounds,
                                            std::vector<std::string> label_names, FamilyOptions opts) {
  validate(name, label_names, true);
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();  // +Inf is implicit
  if (!ordered_finite(bounds))
    throw std::invalid_argument("metric " + name + ": bucket bounds must be finite and strictly increasing");
  Counter* overflow = overflow_counter_for(name, !label_names.empty());
  auto f = std::make_unique<HistogramFamily>(std::move(name), std::move(help), MetricType::Histogram,
                                             std::move(label_names), opts, std::move(bounds), overflow);
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

CallbackGauge& MetricsRegistry::callback_gauge(std::string name, std::string help, std::function<double()> fn) {
  validate(name, {}, false);
  auto f = std::make_unique<CallbackGauge>(std::move(name), std::move(help));
  f->set(std::move(fn));
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

CallbackGaugeFamily& MetricsRegistry::callback_gauge_family(std::string name, std::string help, std::string label_name) {
  validate(name, {label_name}, false);
  auto f = std::make_unique<CallbackGaugeFamily>(std::move(name), std::move(help), std::move(label_name));
  auto& ref = *f;
  add(std::move(f));
  return ref;
}

std::string MetricsRegistry::render() const {
  std::string out;
  out.reserve(16 * 1024);
  std::shared_lock lock(mu_);
  for (const auto& [name, family] : families_) family->render(out);
  return out;
}

}  // namespace segproxy::proxy
