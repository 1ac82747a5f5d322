#pragma once
// The decision records a session appended, in order, numbered locally 1, 2, ... (issue
// 14, docs/audit.md "The guarantee"). The forwarding rule (authz/wal/forwarding.hpp)
// compares record numbers with a watermark; the sink's seqs cannot serve as those numbers
// because a failed write ends the sink's epoch and its seqs are then reused. A local
// number never goes back: the ledger's watermark (`settled`) is the highest local number
// up to which every record is durable, or failed for a message that never went out (a
// refused statement needs no record). A failed record of a message that did go out
// breaks the session's guarantee: `advance` says so, and the session either replaces the
// answers it cannot vouch for (pg_wal_replace.cpp: `replacing`, then `replaced` settles
// those records) or fails closed.
#include <cstdint>
#include <vector>

#include "audit/sink.hpp"

namespace segproxy::proxy {

class PgWalLedger {
 public:
  // Appended: its local number.
  std::uint64_t add(const audit::AuditTicket& t) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) % slots_.size()] = Rec{t, 0, false, false};
    ++size_;
    return ++last_;
  }
  // The message of record `local` was written to the backend, after `requests_before`
  // requests answered by ReadyForQuery (its own request is number requests_before,
  // counting from 0).
  void forwarded(std::uint64_t local, std::uint64_t requests_before) {
    if (local > settled_ && local <= last_) {
      at(local).forwarded = true;
      at(local).requests_before = requests_before;
    }
  }
  // The ticket of an unsettled record (nullptr: settled or unknown).
  const audit::AuditTicket* ticket(std::uint64_t local) const {
    if (local <= settled_ || local > last_) return nullptr;
    return &slots_[(head_ + (local - settled_ - 1)) % slots_.size()].t;
  }
  // Settles records from the oldest on. false: a record failed although its message was
  // forwarded (an answer or effect without a durable record); it stays unsettled and
  // *requests_before (when given) is its message's request number. A record marked by
  // `replacing` stops the advance silently: it is settled only by `replaced`.
  bool advance(const audit::AuditSink& sink, std::uint64_t* requests_before = nullptr) {
    while (size_ > 0) {
      const Rec& r = slots_[head_];
      if (r.replacing) return true;
      const audit::DurableState st = sink.state(r.t);
      if (st == audit::DurableState::pending) return true;
      if (st == audit::DurableState::failed && r.forwarded) {
        if (requests_before != nullptr) *requests_before = r.requests_before;
        return false;
      }
      pop();
    }
    return true;
  }
  // The answers of every failed forwarded record held now are being replaced: marks them
  // (advance stops at the first without reporting it again).
  void replacing(const audit::AuditSink& sink) {
    for (std::size_t i = 0; i < size_; ++i) {
      Rec& r = slots_[(head_ + i) % slots_.size()];
      if (r.forwarded && sink.state(r.t) == audit::DurableState::failed) r.replacing = true;
    }
  }
  // Their answers were replaced: settles the marked records with the durable ones and the
  // failed unforwarded ones around them, from the oldest on. A failed forwarded record
  // that was not marked (a later failure) stops it, for advance to report.
  void replaced(const audit::AuditSink& sink) {
    while (size_ > 0) {
      const Rec& r = slots_[head_];
      if (!r.replacing) {
        const audit::DurableState st = sink.state(r.t);
        if (st == audit::DurableState::pending) return;
        if (st == audit::DurableState::failed && r.forwarded) return;
      }
      pop();
    }
  }
  std::uint64_t settled() const { return settled_; }
  std::uint64_t last() const { return last_; }

 private:
  struct Rec {
    audit::AuditTicket t;
    std::uint64_t requests_before = 0;
    bool forwarded = false;
    bool replacing = false;
  };
  void pop() {
    head_ = (head_ + 1) % slots_.size();
    --size_;
    ++settled_;
  }
  Rec& at(std::uint64_t local) { return slots_[(head_ + (local - settled_ - 1)) % slots_.size()]; }
  // A ring that grows but never shrinks: no allocation per record in the steady state.
  void grow() {
    std::vector<Rec> next(slots_.empty() ? 16 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) next[i] = slots_[(head_ + i) % slots_.size()];
    slots_ = std::move(next);
    head_ = 0;
  }
  std::vector<Rec> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::uint64_t settled_ = 0;
  std::uint64_t last_ = 0;
};

}  // namespace segproxy::proxy
