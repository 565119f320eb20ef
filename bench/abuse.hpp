// fpx-bench --abuse: what one participant's flood costs the broker (issue 14
// item 4). For each amplification kind, a live broker on loopback, a victim
// agency working through fpx_client, and one flooding participant on a raw
// CURVE DEALER; prints, per kind K, abuse_K_rss_growth_mb,
// abuse_K_store_growth_mb_per_min, abuse_K_audit_rows and
// abuse_K_victim_p99_ratio (bench/README.md says what each means).
#pragma once

#include <string>
#include <vector>

#include "modes.hpp"

namespace fpx::bench {

// Every kind, in the order a run without --abuse-kinds measures them.
const std::vector<std::string>& abuse_kind_names();

// Runs the kinds of options.abuse_kinds (all when empty); returns the
// process exit code (1 when a flood could not be run as described).
int run_abuse(const BenchOptions& options);

}  // namespace fpx::bench
