// Rows that wait for the loop's next transaction: audit rows of refusals
// decided outside a batch (ZAP, handshakes, observers, enrolment, refusal
// summaries) and the marks of deliveries sent. They are kept until the
// transaction that wrote them commits: a rolled-back one must not lose them.
// Private to broker/.
#pragma once

#include <cstdint>
#include <vector>

#include "fpx/broker/store.hpp"

namespace fpx::broker {

class PendingWrites {
 public:
  struct Rows {
    std::vector<std::uint64_t> delivered;  // delivery ids sent
    std::vector<AuditEntry> audit;
  };

  void audit(AuditEntry entry) { rows_.audit.push_back(std::move(entry)); }
  void delivered(std::uint64_t delivery_id) { rows_.delivered.push_back(delivery_id); }
  bool empty() const { return rows_.audit.empty() && rows_.delivered.empty(); }
  std::size_t audit_rows() const { return rows_.audit.size(); }

  // Takes every row out, to be written into the open transaction by write().
  Rows take() {
    Rows taken = std::move(rows_);
    rows_ = {};
    return taken;
  }
  // After a rollback: the rows lead the next transaction, in their order.
  void give_back(Rows rows) {
    rows.delivered.insert(rows.delivered.end(), rows_.delivered.begin(), rows_.delivered.end());
    rows.audit.insert(rows.audit.end(), rows_.audit.begin(), rows_.audit.end());
    rows_ = std::move(rows);
  }
  // Into the open transaction. A row the store refuses is skipped: these
  // are bookkeeping rows, and the batch behind them must not fail for one.
  static void write(Store& store, const Rows& rows, std::int64_t now_ms) {
    for (const auto& marked : rows.delivered) (void)store.mark_delivered(marked, now_ms);
    for (const auto& entry : rows.audit) (void)store.append_audit(entry);
  }

 private:
  Rows rows_;
};

}  // namespace fpx::broker
