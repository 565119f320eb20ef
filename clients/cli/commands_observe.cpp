// fpx observe / fpx log verify: the observer's side of public oversight.
// observe fetches the broker-signed feed, keeps every verified record in the
// profile (feed/) and remembers where it stopped; log verify checks that the
// log behind the feed was never rewritten and that every kept record of an
// accepted message is in it, naming exactly what broke if not.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <thread>

#include "feed_store.hpp"
#include "fpx/public_records.hpp"
#include "fpx/public_statistics.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

using Clock = std::chrono::steady_clock;

// How often --follow asks for new records once caught up: the feed changes
// at the pace of human messages and checkpoint cadence, not faster.
constexpr auto kFollowPollInterval = std::chrono::milliseconds(1000);
constexpr std::size_t kMaxSummaryChars = 100;
// A record may wait for its checkpoint the exchange's checkpoint interval
// plus this: the broker's timer turn, a slow commit and the trip here. A
// broker that signs records it never logs gets no more than that.
constexpr std::int64_t kCheckpointSlackMs = 60'000;
// The broker's oversight.checkpoint_every_ms is at most a day.
constexpr double kMaxCheckpointIntervalSeconds = 86400;
// Fields every record has, or that are shown otherwise: not repeated in a summary.
constexpr std::string_view kUnsummarized[] = {"sequence", "kind", "logIndex", "leafHash", "note", "messageLogIndex",
                                             "messageLeafHash"};

// Set by SIGINT/SIGTERM while following; read between requests.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) { g_interrupted = 1; }

std::string shorten(std::string text, std::size_t limit) {
  if (text.size() <= limit) return text;
  text.resize(limit - 3);
  text.append("...");
  return text;
}

// One line for people: what the record says, by kind.
std::string summary_of(const client::FeedRecord& record) {
  // Every record through the one codec of the feed's records
  // (protocol/fpx/public_records.hpp): a record it refuses is shown refused,
  // as fpx report refuses it; checkpoints and statistics by what they say;
  // any other record (a kind newer than this fpx, a statistics record of
  // another scheme) by its fields, read by the same codec.
  auto decoded = records::decode_record(record.signed_record);
  if (!decoded && decoded.error().code != ErrorCode::unsupported_version) {
    return "(unreadable: " + decoded.error().message + ")";
  }
  if (decoded && decoded->record) {
    auto checkpoint_summary = [](std::uint64_t tree_size, const Sha256Digest& root) {
      return "tree size " + std::to_string(tree_size) + ", root " + to_hex(root).substr(0, 16) + "...";
    };
    if (const auto* checkpoint = std::get_if<records::CheckpointRecord>(&*decoded->record)) {
      return checkpoint_summary(checkpoint->tree_size, checkpoint->root_hash);
    }
    if (const auto* cosigned = std::get_if<records::CosignedCheckpointRecord>(&*decoded->record)) {
      // As the broker lists them; a profile's witnesses are checked on the head (fpx log verify).
      return checkpoint_summary(cosigned->tree_size, cosigned->root_hash) + ", cosigned by [" +
             std::to_string(cosigned->witnesses.size()) + " items]";
    }
    if (const auto* statistics = std::get_if<records::StatisticsRecord>(&*decoded->record)) {
      return statistics->period + " from " + statistics->period_start +
             (statistics->final ? " (final)" : " (as of " + statistics->as_of + ")");
    }
  }
  auto fields = records::record_fields(record.signed_record);
  if (!fields) return "(unreadable: " + fields.error().message + ")";
  std::string summary;
  for (const auto& field : *fields) {
    if (std::find(std::begin(kUnsummarized), std::end(kUnsummarized), field.name) != std::end(kUnsummarized)) continue;
    if (!summary.empty()) summary.append(", ");
    summary.append(field.name).append("=").append(field.display);
  }
  summary = shorten(summary.empty() ? std::string("-") : summary, kMaxSummaryChars);
  if (record.log_index) summary.append(" [log index ").append(std::to_string(*record.log_index)).append("]");
  return summary;
}

// JSON lines must be one line each: a newline outside a JSON string is mere
// whitespace (and inside one it is not valid JSON), so it becomes a space.
std::string one_line(std::string json) {
  std::replace(json.begin(), json.end(), '\n', ' ');
  std::replace(json.begin(), json.end(), '\r', ' ');
  return json;
}

void print_records(const GlobalOptions& global, const std::vector<client::FeedRecord>& records,
                   const text::Catalogue& text) {
  if (records.empty()) return;
  if (global.json) {
    for (const auto& record : records) std::cout << one_line(record.signed_record) << "\n";
    std::cout.flush();
    return;
  }
  Table table({std::string(text.tr(N_("seq"))), std::string(text.tr(N_("kind"))), std::string(text.tr(N_("summary")))});
  for (const auto& record : records) table.add({std::to_string(record.sequence), record.kind, summary_of(record)});
  std::cout << table.str() << std::flush;
}

Result<std::unique_ptr<client::ObserverClient>> connect_observer(const Profile& profile) {
  auto options = profile.observer_options();
  if (!options) return std::move(options).take_error();
  auto identity = load_identity(profile);
  if (!identity) return std::move(identity).take_error();
  return client::ObserverClient::connect(std::move(identity).value(), *options);
}

// A checkpoint the feed published earlier: its note must verify and say what
// the record says, and the log must have grown from it to the head now.
void check_checkpoint_record(client::ObserverClient& observer, const Profile& profile,
                             const client::FeedRecord& record, const Checkpoint& now,
                             std::vector<std::string>& failures) {
  const std::string name = "checkpoint record " + std::to_string(record.sequence);
  // Through the one codec of the feed's records (protocol/fpx/public_records.hpp).
  auto decoded = records::decode_record(record.signed_record);
  const auto* checkpoint = decoded && decoded->record ? std::get_if<records::CheckpointRecord>(&*decoded->record)
                                                      : nullptr;
  if (checkpoint == nullptr) {
    failures.push_back(name + " lacks its note, treeSize or rootHash" +
                       (decoded ? std::string() : " (" + decoded.error().message + ")"));
    return;
  }
  auto published = client::verify_checkpoint_note(checkpoint->note, profile.log_origin, observer.broker_key());
  if (!published) {
    failures.push_back(name + ": its note does not verify: " + published.error().message);
    return;
  }
  const Checkpoint& old = published->checkpoint;
  if (old.size != checkpoint->tree_size || old.root != checkpoint->root_hash) {
    failures.push_back(name + " says tree size " + std::to_string(checkpoint->tree_size) + " and root " +
                       to_hex(checkpoint->root_hash) + " but its signed note says " + std::to_string(old.size) +
                       " and " + to_hex(old.root));
    return;
  }
  if (old.size > now.size) {
    failures.push_back(name + " has tree size " + std::to_string(old.size) + ", more than the latest checkpoint's " +
                       std::to_string(now.size) + ": the log was rewritten");
    return;
  }
  Result<std::vector<Sha256Digest>> proof = std::vector<Sha256Digest>{};
  if (old.size != 0 && old.size != now.size) proof = observer.consistency_proof(old.size, now.size);
  const std::string span = "from tree size " + std::to_string(old.size) + " to " + std::to_string(now.size);
  if (!proof) {
    failures.push_back("no consistency proof " + span + " (" + name + "): " + proof.error().describe());
  } else if (!verify_consistency(old.size, now.size, old.root, now.root, *proof)) {
    failures.push_back("consistency proof " + span + " (" + name + ") does not verify: the log was rewritten");
  }
}

struct StatisticsSummary {
  std::size_t statistics = 0;  // statistics records checked
  std::size_t cells = 0;       // shown cells
  std::size_t relations = 0;   // relations whose every cell is shown, each verified
};

// Each statistics record kept is consistent in itself: shown counts keep the
// threshold and every fully shown relation between its tables holds. (Its
// inclusion in the log is checked above like any record's.)
StatisticsSummary check_statistics(const std::vector<FeedStore::SavedRecord>& saved, std::vector<std::string>& failures) {
  StatisticsSummary summary;
  for (const auto& record : saved) {
    if (record.kind != "statistics") continue;
    const std::string name = "statistics record " + std::to_string(record.sequence);
    auto check = client::check_published_statistics(record.signed_record);
    if (!check) {
      failures.push_back(name + ": " + check.error().message);
      continue;
    }
    for (const auto& failure : check->failures) failures.push_back(name + ": " + failure);
    ++summary.statistics;
    summary.cells += check->cells_shown;
    summary.relations += check->relations_checked;
  }
  return summary;
}

}  // namespace

int run_observe(const GlobalOptions& global, const ObserveOptions& options) {
  const text::Catalogue text(language_for_errors(global));
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  if (options.wait_seconds && (*options.wait_seconds < 0 || *options.wait_seconds > 86400)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, "--wait must be between 0 and 86400 seconds"),
                          N_("give --wait a number of seconds from 0 to 86400"));
  }
  if (options.from && *options.from == 0) {
    return report_failure(global, kExitUsage, make_error(ErrorCode::invalid_argument, "--from counts from 1"),
                          N_("give --from 1 or more (the first record is 1)"));
  }
  FeedStore store(profile->feed_dir());
  auto saved_next = store.next_sequence();
  if (!saved_next) return report_failure(global, kExitUsage, saved_next.error());
  auto observer = connect_observer(*profile);
  if (!observer) {
    const int code = observer.error().code == ErrorCode::invalid_argument ? kExitUsage : kExitRefused;
    return report_failure(global, code, observer.error(), N_("nothing was fetched"));
  }

  const bool following = options.follow || options.wait_seconds.has_value();
  std::optional<Clock::time_point> deadline;
  if (options.wait_seconds) {
    deadline = Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(*options.wait_seconds * 1000));
  }
  if (following) {
    g_interrupted = 0;
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
  }

  std::uint64_t next = options.from.value_or(*saved_next);
  std::uint64_t kept_until = *saved_next;  // records below this are already in feed/
  std::size_t fetched = 0;
  for (;;) {
    auto page = (*observer)->follow(next, client::kMaxFeedRecordsPerPage);
    if (!page) {
      return report_failure(global, kExitRefused, page.error(),
                            fill_values(text.tr(N_("nothing from record {1} on was kept; records before it are in {2}")),
                                        {std::to_string(next), store.records_file().string()}));
    }
    std::vector<client::FeedRecord> fresh;
    for (const auto& record : page->records) {
      if (record.sequence >= kept_until) fresh.push_back(record);
    }
    const std::int64_t fetched_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count();
    if (auto kept = store.append(fresh, fetched_at_ms); !kept) return report_failure(global, kExitRefused, kept.error());
    if (page->next_sequence > kept_until) {
      kept_until = page->next_sequence;
      if (auto saved = store.set_next_sequence(kept_until); !saved) {
        return report_failure(global, kExitRefused, saved.error());
      }
    }
    print_records(global, page->records, text);
    fetched += page->records.size();
    next = page->next_sequence;

    if (page->records.size() == client::kMaxFeedRecordsPerPage) continue;  // more is waiting
    if (!following) break;
    // Caught up: wait for news in short slices, so that an interrupt or the
    // --wait bound ends the run promptly.
    const auto wake = Clock::now() + kFollowPollInterval;
    while (g_interrupted == 0 && Clock::now() < wake && (!deadline || Clock::now() < *deadline)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (g_interrupted != 0 || (deadline && Clock::now() >= *deadline)) break;
  }
  if (following) {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  }
  if (!global.json) {
    std::cout << (fetched == 0 ? std::string(text.tr(N_("no new records")))
                               : fill_values(text.tr(N_("{1} record(s) verified")), {std::to_string(fetched)}))
              << fill_values(text.tr(N_("; next is {1}, kept in {2}")), {std::to_string(next), store.records_file().string()})
              << "\n";
  }
  return kExitOk;
}

int run_log_verify(const GlobalOptions& global, const LogVerifyOptions& options) {
  const text::Catalogue text(language_for_errors(global));
  if (options.checkpoint_interval_seconds <= 0 || options.checkpoint_interval_seconds > kMaxCheckpointIntervalSeconds) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     "--checkpoint-interval must be between 1 and 86400 seconds: the exchange's "
                                     "oversight.checkpoint_every_ms, in seconds"));
  }
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  FeedStore store(profile->feed_dir());
  auto saved_note = store.saved_checkpoint();
  if (!saved_note) return report_failure(global, kExitUsage, saved_note.error());
  auto saved_records = store.saved_records();
  if (!saved_records) {
    return report_failure(global, kExitRefused, saved_records.error(), N_("the local copy of the feed is damaged"));
  }
  auto observer = connect_observer(*profile);
  if (!observer) {
    const int code = observer.error().code == ErrorCode::invalid_argument ? kExitUsage : kExitRefused;
    return report_failure(global, code, observer.error(), N_("nothing was verified"));
  }
  const auto& broker_key = (*observer)->broker_key();

  // 1. The latest head, signed by the broker's key under our origin.
  auto head = (*observer)->latest_checkpoint();
  if (!head) {
    Error error = std::move(head).take_error();
    // not_found: the broker has signed no checkpoint yet (an empty log), which breaks nothing.
    const std::string what(error.code == ErrorCode::not_found ? text.tr(N_("no checkpoint to verify yet: "))
                                                              : text.tr(N_("the latest checkpoint does not verify: ")));
    error.message.insert(0, what);
    return report_failure(global, kExitRefused, error);
  }
  const Checkpoint& now = head->checkpoint;
  std::vector<std::string> failures;

  // 2. Consistency with the head accepted last time: the log only grew.
  std::optional<std::uint64_t> previous_size;
  if (*saved_note) {
    auto previous = client::verify_checkpoint_note(**saved_note, profile->log_origin, broker_key);
    if (!previous) {
      failures.push_back("the saved checkpoint " + store.checkpoint_file().string() +
                         " does not verify: " + previous.error().message);
    } else {
      const Checkpoint& old = previous->checkpoint;
      previous_size = old.size;
      const std::string span = "from tree size " + std::to_string(old.size) + " to " + std::to_string(now.size);
      if (old.size > now.size) {
        failures.push_back("the log shrank " + span + ": the log was rewritten");
      } else {
        // Sizes 0 and equal need no proof (verify_consistency then compares roots).
        Result<std::vector<Sha256Digest>> proof = std::vector<Sha256Digest>{};
        if (old.size != 0 && old.size != now.size) proof = (*observer)->consistency_proof(old.size, now.size);
        if (!proof) {
          failures.push_back("no consistency proof " + span + ": " + proof.error().describe());
        } else if (!verify_consistency(old.size, now.size, old.root, now.root, *proof)) {
          failures.push_back("consistency proof " + span + " does not verify: the log was rewritten");
        }
      }
    }
  }

  // 3. Every kept record: its signature again (the local copy may have been
  // altered), then its cover (each leaf it names is below the next
  // checkpoint after it in the feed), then the inclusion of every leaf it
  // names in the new head. A record that is its own leaf (bound) is proven
  // by the leaf hash computed from its signed bytes.
  client::FeedCover cover;
  std::size_t included = 0;
  std::size_t bound = 0;
  auto prove = [&](const std::string& name, std::uint64_t index, const Sha256Digest& hash) {
    if (index >= now.size) return false;  // the cover says whether it may still wait
    auto proof = (*observer)->inclusion_proof(index, now.size);
    if (!proof) {
      failures.push_back("no inclusion proof for " + name + " in tree size " + std::to_string(now.size) + ": " +
                         proof.error().describe());
      return false;
    }
    if (!verify_inclusion(hash, index, now.size, *proof, now.root)) {
      failures.push_back(name + " is not included in tree size " + std::to_string(now.size) +
                         ": the leaf computed from what the record shows is not the log's leaf " + std::to_string(index));
      return false;
    }
    return true;
  };
  for (const auto& saved : *saved_records) {
    auto record = client::verify_feed_record(broker_key, saved.sequence, saved.kind, saved.signed_record, saved.signature);
    if (!record) {
      failures.push_back("saved record " + std::to_string(saved.sequence) + " (" + store.records_file().string() +
                         " line " + std::to_string(saved.line) + ") does not verify: " + record.error().message);
      continue;
    }
    if (record->kind == "checkpoint") check_checkpoint_record(**observer, *profile, *record, now, failures);
    // The first failure of the cover is the evidence; later records are still proven.
    if (!cover.failure()) {
      if (auto covered = cover.add(*record, saved.fetched_at_ms); !covered) failures.push_back(covered.error().message);
    }
    if (!record->log_index) continue;
    const std::string name = "record " + std::to_string(record->sequence) + " (" + record->kind + ", log index " +
                             std::to_string(*record->log_index) + ")";
    bool proven = prove(name, *record->log_index, *record->leaf_hash);
    if (record->message_log_index) {
      proven = prove(name + ": its message's leaf " + std::to_string(*record->message_log_index),
                     *record->message_log_index, *record->message_leaf_hash) && proven;
    }
    if (proven) {
      ++included;
      if (record->bound) ++bound;
    }
  }
  if (!cover.failure()) {
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    const std::int64_t grace_ms = static_cast<std::int64_t>(options.checkpoint_interval_seconds * 1000) + kCheckpointSlackMs;
    if (auto late = cover.finish(now.size, now_ms, grace_ms)) failures.push_back(late->describe());
  }
  const std::size_t pending = cover.failure() ? 0 : cover.pending();

  // 4. Every statistics record is consistent in itself (no microdata needed).
  StatisticsSummary statistics = check_statistics(*saved_records, failures);

  const bool ok = failures.empty();
  if (ok) {
    if (auto saved = store.save_checkpoint(head->note); !saved) return report_failure(global, kExitRefused, saved.error());
  }
  if (global.json) {
    std::vector<std::string> failure_json;
    for (const auto& failure : failures) failure_json.push_back(json_quote(failure));
    JsonObject out;
    out.boolean("ok", ok).text("origin", now.origin).unsigned_number("treeSize", now.size).text("rootHash", to_hex(now.root));
    if (previous_size) out.unsigned_number("previousTreeSize", *previous_size);
    if (head->cosignatures) {
      std::vector<std::string> signed_by;
      for (const auto& valid : head->cosignatures->valid) signed_by.push_back(json_quote(valid.witness));
      out.raw("witnessesSigned", json_array(signed_by)).text("witnesses", head->cosignatures->describe());
    }
    out.unsigned_number("recordsIncluded", included).unsigned_number("recordsPending", pending);
    out.unsigned_number("recordsBound", bound).unsigned_number("recordsNotBound", cover.unbound());
    if (cover.failure()) out.text("coverFailure", std::string(client::cover_failure_name(cover.failure()->failure)));
    out.unsigned_number("statisticsChecked", statistics.statistics)
        .unsigned_number("cellsShown", statistics.cells)
        .unsigned_number("relationsVerified", statistics.relations);
    out.raw("failures", json_array(failure_json));
    std::cout << out.str() << "\n";
  } else {
    std::cout << fill_values(text.tr(N_("checkpoint: {1}, tree size {2}, root {3} (signature verified)")),
                             {now.origin, std::to_string(now.size), to_hex(now.root)})
              << "\n";
    if (head->cosignatures) std::cout << text.tr(N_("witnesses:")) << " " << head->cosignatures->describe() << "\n";
    if (previous_size && ok) {
      std::cout << fill_values(text.tr(N_("consistency: tree size {1} -> {2} verified (the log only grew)")),
                               {std::to_string(*previous_size), std::to_string(now.size)})
                << "\n";
    } else if (!previous_size && ok) {
      std::cout << text.tr(N_("consistency: no saved checkpoint yet; this one is kept for the next run")) << "\n";
    }
    std::cout << fill_values(text.tr(N_("inclusion: {1} record(s) verified in tree size {2}")),
                             {std::to_string(included), std::to_string(now.size)});
    if (pending > 0) {
      std::cout << fill_values(text.tr(N_(", {1} not yet covered by a checkpoint (run again later)")),
                               {std::to_string(pending)});
    }
    std::cout << "\n";
    std::cout << fill_values(text.tr(N_("binding: {1} record(s) are their own leaf (the content shown is the content "
                                        "logged)")),
                             {std::to_string(bound)});
    if (cover.unbound() > 0) {
      std::cout << fill_values(text.tr(N_("; {1} public record(s) published before content binding are not bound "
                                          "(only their message's salted leaf is proven, not the figures shown)")),
                               {std::to_string(cover.unbound())});
    }
    std::cout << "\n";
    if (statistics.statistics > 0) {
      std::cout << fill_values(text.tr(N_("statistics: {1} record(s), {2} shown figure(s), {3} relation(s) between "
                                          "tables verified (sums and bounds hold)")),
                               {std::to_string(statistics.statistics), std::to_string(statistics.cells),
                                std::to_string(statistics.relations)})
                << "\n";
    }
  }
  for (const auto& failure : failures) std::cerr << "fpx: " << text.tr(N_("FAILED:")) << " " << failure << "\n";
  if (!ok) {
    std::cerr << "fpx: " << text.tr(N_("the transparency log did not verify; the saved checkpoint was left as it was"))
              << "\n";
    return kExitRefused;
  }
  if (!global.json) {
    std::cout << fill_values(text.tr(N_("log verified; checkpoint at tree size {1} saved")), {std::to_string(now.size)})
              << "\n";
  }
  return kExitOk;
}

}  // namespace fpx::cli
