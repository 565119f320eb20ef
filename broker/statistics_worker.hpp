// The statistics thread: secondary suppression (secondary_suppression.hpp,
// seconds to minutes of linear programs for a large exchange) runs here,
// never on the loop thread, so that receipts and deliveries do not wait for
// the end of a period. The loop reads a period's facts from the store, hands
// the tables over (one period at a time: a later period waits for the one
// before it), polls for the result at its statistics check, and writes the
// feed record and the period's run in a later turn, in its own transaction.
// Nothing here touches the store, a socket or the loop's state: the thread
// gets values and gives values back. Private to broker/.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fpx/disclosure_control.hpp"
#include "fpx/result.hpp"

namespace fpx::broker {

// A published period of the grid that a year's tables sum.
struct LinkedPeriod {
  std::int64_t start_ms = 0;
  std::uint64_t feed_sequence = 0;
};

enum class JobKind { period, year };

// One period's tables on their way to suppression, or a year's tables linked
// to its published periods (disclosure::link_year).
struct SuppressionJob {
  std::string period;  // the grid's name (config `oversight.statistics_period`)
  std::int64_t start_ms = 0;
  disclosure::PeriodTables tables;
  // Civil society's early warnings of the period (fpx/warning_statistics.hpp):
  // a table of its own, protected with the same threshold and audit.
  disclosure::PeriodTables warnings;
  std::int64_t threshold = 0;
  std::int64_t protection = 0;
  // The instant the tracings were read: what had happened by then is counted.
  std::int64_t counted_at_ms = 0;
  JobKind kind = JobKind::period;
  // A year's: where it ends, its own tables (`tables` holds them linked: its
  // first year_tables.cells.size() cells are the year's), and the period
  // records they sum.
  std::int64_t end_ms = 0;
  disclosure::PeriodTables year_tables;
  std::vector<LinkedPeriod> linked;
};

// The same job with its tables suppressed, or why they could not be.
struct SuppressionResult {
  SuppressionJob job;
  Result<std::size_t> secondary;  // cells suppressed beyond the primary ones
  double seconds = 0;             // wall time on the statistics thread, for the log
};

class StatisticsWorker {
 public:
  StatisticsWorker();
  // Asks the thread to stop between two linear programs and joins it: a
  // broker that stops waits for one program, not for a period's audit.
  ~StatisticsWorker();
  StatisticsWorker(const StatisticsWorker&) = delete;
  StatisticsWorker& operator=(const StatisticsWorker&) = delete;

  // A job was handed over and its result not yet taken.
  bool busy() const;
  // The result waits to be taken.
  bool result_ready() const;
  // Hands one period over; refused (false) while busy().
  bool submit(SuppressionJob job);
  // The result, once; nothing while the thread still works.
  std::optional<SuppressionResult> take_result();

 private:
  void run(std::stop_token stop);

  mutable std::mutex mutex_;  // guards job_, result_ and busy_ between the loop and the thread
  std::condition_variable_any wake_;
  std::optional<SuppressionJob> job_;
  std::optional<SuppressionResult> result_;
  bool busy_ = false;
  std::jthread thread_;  // last: started after the members above exist, joined first
};

}  // namespace fpx::broker
