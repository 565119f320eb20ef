// Cost of durable commits in the SQLite store, one message per commit and
// grouped, on a temp file (WAL, synchronous=FULL, as the broker runs it).
//
//   fpx-bench-store [--singles N] [--messages N] [--tracing N] [--keep-dir] [--postgres-dsn DSN]
//   (defaults 500, 4096, 2048; --keep-dir keeps the stores for inspection;
//   --postgres-dsn also prints the commit figures of the PostgreSQL store on
//   that empty database, prefixed postgres_, in the same run)
//
// Prints one "name value" line per figure. First, the cost of one realistic
// tracing request as the broker's submit path writes it (a 2.5 KB envelope,
// 2 recipients, a leaf of 8 sealed parts, its receipt, one lifecycle row,
// the accepted audit row, a savepoint around the message), in commit groups
// of 1 and of 16:
//   sql_statements_per_msg_batch_G     statements SQLite ran (sqlite3_trace_v2), BEGIN/COMMIT included
//   sql_statements_per_insert_message  statements run inside insert_message() alone
//   rows_changed_per_msg_batch_G       rows inserted, updated or deleted (sqlite3_total_changes)
//   bytes_written_per_msg_batch_G      /proc/self/io write_bytes: what reached the block layer's
//                                      accounting (database, WAL, its fsyncs), per message
//   write_syscalls_per_msg_batch_G     /proc/self/io syscw
//   store_bytes_per_msg                database file size after a checkpoint, per message
// Then the older figures:
//   commit_single_ms_p50, commit_single_ms_p99   begin + insert + durable commit of one message
//   messages_per_s_batch_N                       N messages per commit, N in 1, 16, 64, 256
//   tracing_messages_per_s_batch_G               the tracing requests above, timed, G in 1, 16
// Messages carry a 1 KiB envelope and 2 recipients. The WAL is checkpointed
// between phases, outside the timings, as the broker does off its hot path.
// These VMs are noisy: compare ratios from one run, not absolutes across runs.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <sqlite3.h>
#include <stdlib.h>  // mkdtemp

#include <array>
#include <fstream>

#include "bench/temp_dir.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/crypto.hpp"
#include "fpx/process_statistics.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using fpx::broker::NewMessage;
using fpx::broker::Store;

constexpr int kDefaultSingles = 500;
constexpr int kDefaultMessages = 4096;
constexpr std::size_t kEnvelopeBytes = 1024;
constexpr std::size_t kLeafBytes = 64;
constexpr int kBatchSizes[] = {1, 16, 64, 256};
constexpr int kDefaultTracing = 2048;
constexpr std::size_t kTracingEnvelopeBytes = 2500;
constexpr std::size_t kTracingLeafParts = 8;  // stage_account.cpp pads a tracing leaf to 8 parts
constexpr std::size_t kGroupHeadBytes = 120;   // a canonical ReceiptGroupHead is about this size
constexpr int kTracingGroups[] = {1, 16};

// What SQLite ran, counted on every connection the store opens: the store
// keeps its handle to itself, so an auto-extension installs the trace as
// each connection opens. The callbacks carry no user data of their own,
// hence one counter per process (this bench only).
struct SqlCounter {
  std::uint64_t statements = 0;
  sqlite3* db = nullptr;  // the first connection: the store's writer
};
SqlCounter sql_counter;

int count_statement(unsigned /*type*/, void* /*context*/, void* /*statement*/, void* sql) {
  // Triggers report their sub-statements as "-- ..." comments: not counted.
  const auto* text = static_cast<const char*>(sql);
  if (text == nullptr || std::strncmp(text, "--", 2) != 0) ++sql_counter.statements;
  return 0;
}

int install_statement_counter(sqlite3* db, char** /*error*/, const sqlite3_api_routines* /*api*/) {
  if (sql_counter.db == nullptr) sql_counter.db = db;
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, count_statement, nullptr);
  return SQLITE_OK;
}

struct ProcessIo {
  std::uint64_t write_bytes = 0;
  std::uint64_t write_syscalls = 0;
};

ProcessIo read_process_io() {
  ProcessIo io;
  std::ifstream file("/proc/self/io");
  std::string name;
  std::uint64_t value = 0;
  while (file >> name >> value) {
    if (name == "write_bytes:") io.write_bytes = value;
    if (name == "syscw:") io.write_syscalls = value;
  }
  return io;
}

template <typename T>
T must(fpx::Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "fpx-bench-store: %s: %s\n", what, result.error().describe().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

void must(const fpx::Status& status, const char* what) {
  if (!status) {
    std::fprintf(stderr, "fpx-bench-store: %s: %s\n", what, status.error().describe().c_str());
    std::exit(1);
  }
}


// Distinct ids from a counter; the content does not matter to SQLite's cost.
class MessageFactory {
 public:
  NewMessage next() {
    ++counter_;
    NewMessage message;
    std::memcpy(message.id.bytes.data(), &counter_, sizeof counter_);
    message.signed_sha256.fill(0x5a);
    message.envelope.assign(kEnvelopeBytes, static_cast<std::uint8_t>(counter_));
    message.sender = fpx::ParticipantId("sn.focal-point");
    message.sender_country = fpx::CountryCode("SN");
    message.type = "tracingRequest";
    message.created_at_ms = 1'700'000'000'000;
    message.recipients = {fpx::ParticipantId("gh.focal-point"), fpx::ParticipantId("sn.police.dakar")};
    message.hold_until_ms = message.created_at_ms + 7LL * 24 * 60 * 60 * 1000;
    message.log_leaf_data.assign(kLeafBytes, static_cast<std::uint8_t>(counter_ >> 8));
    return message;
  }

 private:
  std::uint64_t counter_ = 0;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> samples, double fraction) {
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[index];
}

// One transaction holding `count` messages; returns nothing, timing is the caller's.
void commit_batch(Store& store, MessageFactory& factory, int count) {
  must(store.begin(), "begin");
  for (int i = 0; i < count; ++i) {
    const auto message = factory.next();
    must(store.insert_message(message, message.created_at_ms), "insert_message");
  }
  must(store.commit(), "commit");
}

// A tracing request as the broker stores it: the rows and statements of
// handle_submit's path for one accepted message with two requested states'
// focal points as recipients and one lifecycle row.
class TracingFactory {
 public:
  NewMessage next() {
    ++counter_;
    NewMessage message;
    fpx::random_bytes(message.id.bytes);
    message.signed_sha256.fill(0x5a);
    message.envelope.resize(kTracingEnvelopeBytes);
    fpx::random_bytes(message.envelope);  // signatures and certificates do not compress
    message.sender = fpx::ParticipantId("sn.focal-point");
    message.sender_country = fpx::CountryCode("SN");
    message.type = "tracingRequest";
    message.created_at_ms = 1'700'000'000'000 + static_cast<std::int64_t>(counter_);
    message.recipients = {fpx::ParticipantId("gh.focal-point"), fpx::ParticipantId("ne.focal-point")};
    message.hold_until_ms = message.created_at_ms + 30LL * 24 * 60 * 60 * 1000;
    std::vector<fpx::Sha256Digest> hashes;
    for (std::size_t i = 0; i < kTracingLeafParts; ++i) {
      fpx::broker::CommitmentPart part;
      part.salt.resize(16);
      fpx::random_bytes(part.salt);
      if (i == 0) part.metadata = "tracingRequest|SN|GH,NE,|19675";
      if (i == 1 || i == 2) {
        part.tracing_request = message.id;
        part.requested_country = fpx::CountryCode(i == 1 ? "GH" : "NE");
        part.fact = "submitted";
        part.metadata = "fact|submitted|routine|" + part.requested_country.str();
      }
      hashes.push_back(fpx::stats::commitment_part_hash(part.salt, part.metadata));
      message.log_parts.push_back(std::move(part));
    }
    message.log_leaf_data = fpx::stats::leaf_data_of_parts(hashes);
    return message;
  }

 private:
  std::uint64_t counter_ = 0;
};

std::uint64_t statements_in_insert = 0;

// handle_submit's store calls for one accepted tracing request.
// The batch's receipt group, written once before its commit (broker/receipt_group.cpp).
std::vector<fpx::broker::ReceiptMember> group_members;

void seal_receipt_group(Store& store) {
  fpx::broker::ReceiptGroupRow row;
  row.head = fpx::Bytes(kGroupHeadBytes, 0x33);
  row.head_signature = fpx::Bytes(64, 0x44);
  for (std::size_t i = 0; i < group_members.size(); ++i) row.leaves.push_back(fpx::Sha256Digest{});
  must(store.insert_receipt_group(row, group_members), "insert_receipt_group");
  group_members.clear();
}

void submit_tracing(Store& store, TracingFactory& factory) {
  const auto message = factory.next();
  const std::int64_t now = message.created_at_ms;
  must(store.find_message(message.id), "find_message (dedupe)");
  must(store.open_savepoint(), "open_savepoint");
  const auto before = sql_counter.statements;
  const auto inserted = must(store.insert_message(message, now), "insert_message");
  statements_in_insert += sql_counter.statements - before;
  group_members.push_back({inserted.seq, group_members.size()});
  fpx::broker::LifecycleRow row;
  row.request_id = message.id;
  row.requested_country = fpx::CountryCode("GH");
  row.requester = message.sender;
  row.requester_country = message.sender_country;
  row.priority = "routine";
  row.state = "submitted";
  row.submitted_at_ms = now;
  row.ack_due_ms = now + 7LL * 24 * 3600 * 1000;
  row.response_due_ms = now + 30LL * 24 * 3600 * 1000;
  row.updated_at_ms = now;
  must(store.insert_lifecycle(row), "insert_lifecycle");
  must(store.log_node(0, inserted.log_index), "log_node (the public record's leaf hash)");
  must(store.release_savepoint(), "release_savepoint");
  fpx::broker::AuditEntry audit;
  audit.at_ms = now;
  audit.principal = message.sender.str();
  audit.message_id = message.id;
  audit.stage = "persist";
  audit.detail = "tracingRequest accepted for 2 recipient(s)";
  must(store.append_audit(audit), "append_audit");
}

void tracing_figures(const std::filesystem::path& dir, int messages) {
  auto store = must(fpx::broker::open_sqlite_store(dir / "tracing.db"), "open store");
  TracingFactory factory;
  const int warm = std::min(64, messages);
  for (int i = 0; i < warm; ++i) {  // warm: the first pages of every table and index
    must(store->begin(), "begin");
    submit_tracing(*store, factory);
    seal_receipt_group(*store);
    must(store->commit(), "commit");
  }
  must(store->checkpoint(), "checkpoint");
  auto total = static_cast<std::uint64_t>(warm);
  for (const int group : kTracingGroups) {
    const int commits = std::max(1, messages / group);
    const auto statements = sql_counter.statements;
    const auto changes = sqlite3_total_changes64(sql_counter.db);
    statements_in_insert = 0;
    const ProcessIo io = read_process_io();
    for (int c = 0; c < commits; ++c) {
      must(store->begin(), "begin");
      for (int i = 0; i < group; ++i) submit_tracing(*store, factory);
      seal_receipt_group(*store);
      must(store->commit(), "commit");
    }
    const ProcessIo after = read_process_io();
    const double count = static_cast<double>(commits) * group;
    total += static_cast<std::uint64_t>(commits) * static_cast<std::uint64_t>(group);
    std::printf("sql_statements_per_msg_batch_%d %.2f\n", group,
                static_cast<double>(sql_counter.statements - statements) / count);
    std::printf("rows_changed_per_msg_batch_%d %.2f\n", group,
                static_cast<double>(sqlite3_total_changes64(sql_counter.db) - changes) / count);
    std::printf("bytes_written_per_msg_batch_%d %.0f\n", group,
                static_cast<double>(after.write_bytes - io.write_bytes) / count);
    std::printf("write_syscalls_per_msg_batch_%d %.2f\n", group,
                static_cast<double>(after.write_syscalls - io.write_syscalls) / count);
    if (group == kTracingGroups[0]) {
      std::printf("sql_statements_per_insert_message %.2f\n", static_cast<double>(statements_in_insert) / count);
    }
    must(store->checkpoint(), "checkpoint");
  }
  std::error_code ignored;
  const auto size = std::filesystem::file_size(dir / "tracing.db", ignored);
  std::printf("store_bytes_per_msg %.0f\n", static_cast<double>(size) / static_cast<double>(total));
  std::printf("envelope_bytes %zu\n", kTracingEnvelopeBytes);
}

// The same tracing requests timed rather than counted, on any store: what a
// group of G of handle_submit's writes costs, receipt group and commit
// included (the figures both stores print, the PostgreSQL one prefixed).
void tracing_throughput(Store& store, int messages, const char* prefix) {
  TracingFactory factory;
  for (int i = 0; i < 16; ++i) {  // warm
    must(store.begin(), "begin");
    submit_tracing(store, factory);
    seal_receipt_group(store);
    must(store.commit(), "commit");
  }
  for (const int group : kTracingGroups) {
    const int commits = std::max(1, messages / group);
    const auto start = Clock::now();
    for (int c = 0; c < commits; ++c) {
      must(store.begin(), "begin");
      for (int i = 0; i < group; ++i) submit_tracing(store, factory);
      seal_receipt_group(store);
      must(store.commit(), "commit");
    }
    const double seconds = ms_since(start) / 1000.0;
    std::printf("%stracing_messages_per_s_batch_%d %.0f\n", prefix, group,
                static_cast<double>(commits) * group / seconds);
    must(store.checkpoint(), "checkpoint");
  }
}

int parse_count(const char* text, const char* flag) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value <= 0 || value > 10'000'000) {
    std::fprintf(stderr, "fpx-bench-store: %s wants a positive count, got '%s'\n", flag, text);
    std::exit(2);
  }
  return static_cast<int>(value);
}

// One message per durable commit, then groups: the figures named with `prefix`.
void commit_figures(Store& store, int singles, int messages, const char* prefix) {
  MessageFactory factory;
  // Warm the file and the page cache so the first samples are not outliers.
  for (int i = 0; i < 20; ++i) commit_batch(store, factory, 1);
  must(store.checkpoint(), "checkpoint");

  std::vector<double> single_ms;
  single_ms.reserve(static_cast<std::size_t>(singles));
  for (int i = 0; i < singles; ++i) {
    const auto start = Clock::now();
    commit_batch(store, factory, 1);
    single_ms.push_back(ms_since(start));
  }
  must(store.checkpoint(), "checkpoint");
  std::printf("%scommit_single_ms_p50 %.3f\n", prefix, percentile(single_ms, 0.50));
  std::printf("%scommit_single_ms_p99 %.3f\n", prefix, percentile(single_ms, 0.99));

  for (const int batch : kBatchSizes) {
    const int batches = std::max(1, messages / batch);
    const auto start = Clock::now();
    for (int i = 0; i < batches; ++i) commit_batch(store, factory, batch);
    const double seconds = ms_since(start) / 1000.0;
    std::printf("%smessages_per_s_batch_%d %.0f\n", prefix, batch, static_cast<double>(batches * batch) / seconds);
    must(store.checkpoint(), "checkpoint");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int singles = kDefaultSingles;
  int messages = kDefaultMessages;
  int tracing = kDefaultTracing;
  auto keep = fpx::bench::KeepDir::remove;
  std::string postgres_dsn;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--keep-dir") {
      keep = fpx::bench::KeepDir::keep;
    } else if (arg == "--postgres-dsn" && i + 1 < argc) {
      postgres_dsn = argv[++i];
    } else if ((arg == "--singles" || arg == "--messages" || arg == "--tracing") && i + 1 < argc) {
      (arg == "--singles" ? singles : arg == "--messages" ? messages : tracing) = parse_count(argv[++i], arg.c_str());
    } else {
      std::fprintf(stderr, "usage: fpx-bench-store [--singles N] [--messages N] [--tracing N] [--keep-dir] [--postgres-dsn DSN]\n");
      return 2;
    }
  }

  fpx::bench::TempDir dir(keep);
  sqlite3_auto_extension(reinterpret_cast<void (*)()>(install_statement_counter));
  tracing_figures(dir.path(), tracing);
  {
    auto timed = must(fpx::broker::open_sqlite_store(dir.path() / "tracing-timed.db"), "open store");
    tracing_throughput(*timed, tracing, "");
  }
  auto store = must(fpx::broker::open_sqlite_store(dir.path() / "store.db"), "open store");
  commit_figures(*store, singles, messages, "");
  // The same figures on the PostgreSQL store, in the same run (an empty
  // database of a server with fsync on; the bench does not start one).
  if (!postgres_dsn.empty()) {
    auto postgres = must(fpx::broker::open_postgres_store(postgres_dsn), "open the PostgreSQL store");
    commit_figures(*postgres, singles, messages, "postgres_");
    tracing_throughput(*postgres, tracing, "postgres_");
  }
  return 0;
}
