// End to end: a real fpx-broker on loopback, several senders submitting
// pre-signed tracing requests through fpx_client, several focal points
// receiving (and verifying, as the library does) and confirming them.
//
//   fpx-bench [--messages N] [--rate R] [--latency-seconds S] [--senders N]
//             [--recipients N] [--broker-bin PATH] [--keep-dir]
//
// Prints one "name value" line per figure:
//   throughput_msgs_per_s            messages receipted and delivered per second, senders flat out
//   verify_per_s_one_core            raw Ed25519 verifications per second on one core, this run
//   broker_cpu_per_msg_over_verify   broker process CPU (user+system, all threads) per receipted
//                                    message in the throughput phase, over one raw verify
//   p50_ms, p99_ms                   submit -> delivery at a fixed total rate (--rate)
// Extra figures go to stderr as "# name value" lines.
//
// Broker and clients share the machine (2 cores here), so throughput is the
// whole system's, while the broker CPU ratio is the broker's own cost. These
// VMs are noisy: compare ratios from one run, not absolutes across runs.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>
#include <capnp/message.h>
#include <openssl/x509.h>

#include "bench_support.hpp"
#include "fpx/client.hpp"
#include "fpx/envelope.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using fpx::bench::fail;
using fpx::bench::must;

constexpr std::size_t kBodyTargetBytes = 1024;
constexpr std::size_t kRawVerifyBytes = 1024;  // as fpx-bench-envelope, so the two compare
constexpr int kRawVerifyCount = 4000;
constexpr int kWarmupPerSender = 25;  // sessions up, chains cached, SQLite pages warm
constexpr auto kPollWait = std::chrono::milliseconds(50);
constexpr auto kPhaseTimeout = std::chrono::seconds(300);
// Confirms still in flight when the last delivery arrives are part of the
// per-message cost: let the broker take them before reading its CPU time.
constexpr auto kSettle = std::chrono::milliseconds(50);
// A paced send that starts this much after its slot is counted as late.
constexpr auto kLateSend = std::chrono::milliseconds(1);

// Up to eight of each; agencies in West Africa ask focal points elsewhere.
constexpr const char* kSenderCountries[] = {"SN", "ML", "NE", "BF", "GH", "CI", "TG", "BJ"};
constexpr const char* kRecipientCountries[] = {"BE", "NG", "FR", "DE", "IT", "ES", "RU", "CN"};
constexpr int kMaxParties = 8;

struct Options {
  int messages = 20000;
  double rate = 1000;
  double latency_seconds = 10;
  int senders = 4;
  int recipients = 4;
  std::string broker_bin;
  bool keep_dir = false;
};

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string sender_id(int index) { return lower(kSenderCountries[index]) + ".police"; }
std::string recipient_id(int index) { return lower(kRecipientCountries[index]) + ".focal-point"; }

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A realistic tracing request from `sender_country` to `to_country`; the
// justification is padded so the canonical body is about kBodyTargetBytes.
void fill_request(fpx::wire::Body::Builder body, const std::string& sender_country, const std::string& agency,
                  const std::string& to_country, int serial, std::size_t padding) {
  auto request = body.initTracingRequest();
  request.setRequestingCountry(sender_country);
  request.setRequestingAgency(agency);
  const std::string case_reference = sender_country + "-2024-" + std::to_string(100000 + serial);
  request.setNationalCaseReference(case_reference);
  const char* other_state = to_country == "BE" ? "NG" : "BE";
  auto states = request.initRequestedStates(2);
  states[0].setCountry(to_country);
  states[0].setRole(fpx::wire::RequestedStateRole::COUNTRY_OF_MANUFACTURE);
  states[1].setCountry(other_state);
  states[1].setRole(fpx::wire::RequestedStateRole::COUNTRY_OF_LAST_IMPORT);
  auto firearms = request.initFirearms(2);
  for (unsigned i = 0; i < firearms.size(); ++i) {
    auto firearm = firearms[i];
    firearm.setSerialNumber("FN" + std::to_string(serial) + "-" + std::to_string(i));
    firearm.setManufacturer("FN Herstal");
    firearm.setCountryOfManufacture("BE");
    firearm.setPlaceOfManufacture("Herstal");
    firearm.setModel("FAL 50.00");
    firearm.setType(fpx::wire::FirearmType::RIFLE_CARBINE);
    firearm.setCalibre("7.62x51mm NATO");
    auto import_marking = firearm.initImportMarking();
    import_marking.setCountry("NG");
    import_marking.setYear(1998);
    firearm.setYearOfManufacture(static_cast<std::uint16_t>(1975 + i));
    firearm.setOtherMarkings("crest of the armed forces on the receiver; rack number 17");
  }
  request.initIllicitBasis(1).set(0, fpx::wire::IllicitBasis::ILLICIT_UNDER_NATIONAL_LAW);
  request.setLegalJustification("Seized by customs during an inspection of a lorry declared as carrying "
                                "agricultural equipment; possession without licence is an offence under national "
                                "law (case " + case_reference + ")." + std::string(padding, '.'));
  auto recovery = request.initRecovery();
  auto date = recovery.initDate();
  date.setYear(2024);
  date.setMonth(3);
  date.setDay(14);
  recovery.setAdministrativeArea("Saint-Louis");
  recovery.setCircumstance(fpx::wire::RecoveryCircumstance::SEIZED);
  recovery.setCrimeCategory("trafficking");
  request.setIntendedUse("criminal investigation and prosecution");
  request.initInformationSought(1).set(0, fpx::wire::InformationSought::CHAIN_OF_CUSTODY);
}

struct Sealed {
  fpx::Bytes envelope;
  fpx::MessageId id;
};

class Sealer {
 public:
  Sealer(const fpx::Identity& signer, std::string country, std::string agency)
      : signer_(signer), country_(std::move(country)), agency_(std::move(agency)) {
    // Padding that brings the canonical body to the target size.
    capnp::MallocMessageBuilder message;
    auto body = message.initRoot<fpx::wire::Body>();
    fill_request(body, country_, agency_, "BE", 0, 0);
    const std::size_t base = capnp::canonicalize(body.asReader()).size() * sizeof(capnp::word);
    padding_ = base < kBodyTargetBytes ? kBodyTargetBytes - base : 0;
  }

  Sealed seal(const std::string& to_country, int serial) {
    capnp::MallocMessageBuilder body_message;
    auto body = body_message.initRoot<fpx::wire::Body>();
    fill_request(body, country_, agency_, to_country, serial, padding_);
    capnp::MallocMessageBuilder header_message;
    auto header = header_message.initRoot<fpx::wire::Header>();
    const fpx::MessageId id = fpx::MessageId::random();
    header.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
    header.initRecipients(1)[0].setCountry(to_country);
    header.setClassification(fpx::wire::Classification::RESTRICTED);
    header.initHandlingCodes(1).set(0, fpx::wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
    header.setCaseReference(country_ + "-2024-" + std::to_string(100000 + serial));
    last_body_bytes_ = capnp::canonicalize(body.asReader()).size() * sizeof(capnp::word);
    return Sealed{must(fpx::seal_envelope(signer_, header, body.asReader()), "seal"), id};
  }

  std::size_t last_body_bytes() const { return last_body_bytes_; }

 private:
  const fpx::Identity& signer_;
  std::string country_;
  std::string agency_;
  std::size_t padding_ = 0;
  std::size_t last_body_bytes_ = 0;
};

std::string id_key(const fpx::MessageId& id) { return std::string(id.bytes.begin(), id.bytes.end()); }

// Every message of the run, sealed before any timing, and when each was
// submitted and delivered (steady clock, ns). Indices are fixed before the
// threads start, so the id -> index map is only read concurrently.
class Ledger {
 public:
  explicit Ledger(std::size_t capacity) : sent_ns_(capacity), delivered_ns_(capacity) {}

  std::size_t add(const fpx::MessageId& id) {
    const std::size_t index = index_.size();
    index_.emplace(id_key(id), index);
    return index;
  }
  // Returns false for a message this run did not send (or a second delivery).
  bool mark_delivered(const fpx::MessageId& id, std::int64_t at_ns) {
    auto found = index_.find(id_key(id));
    if (found == index_.end()) return false;
    std::int64_t expected = 0;
    if (!delivered_ns_[found->second].compare_exchange_strong(expected, at_ns)) return false;
    delivered_.fetch_add(1);
    return true;
  }
  void mark_sent(std::size_t index, std::int64_t at_ns) { sent_ns_[index].store(at_ns); }
  std::int64_t sent_ns(std::size_t index) const { return sent_ns_[index].load(); }
  std::int64_t delivered_ns(std::size_t index) const { return delivered_ns_[index].load(); }
  std::int64_t delivered() const { return delivered_.load(); }

 private:
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<std::atomic<std::int64_t>> sent_ns_;
  std::vector<std::atomic<std::int64_t>> delivered_ns_;
  std::atomic<std::int64_t> delivered_{0};
};

// One sender's pre-signed envelopes per phase, as ledger indices.
struct SenderWork {
  std::vector<std::size_t> warmup;
  std::vector<std::size_t> throughput;
  std::vector<std::size_t> latency;
};

struct Tally {
  std::atomic<std::int64_t> receipted{0};
  std::atomic<std::int64_t> refused{0};
  std::atomic<std::int64_t> late_sends{0};
  std::mutex first_error_mutex;
  std::string first_error;

  void refuse(const fpx::Error& error) {
    if (refused.fetch_add(1) == 0) {
      std::lock_guard lock(first_error_mutex);
      first_error = error.describe();
    }
  }
};

// Pacing: send i of the whole schedule goes at start + i / rate. Absolute
// slots, so a slow submit does not shift every later one (no sleep drift).
struct Pace {
  Clock::time_point start;
  double rate = 0;
  int senders = 1;
};

void run_sender(fpx::client::Client& client, const std::vector<fpx::Bytes>& envelopes, Ledger& ledger,
                const std::vector<std::size_t>& work, Tally& tally, const Pace* pace, int sender_index) {
  for (std::size_t n = 0; n < work.size(); ++n) {
    const std::size_t index = work[n];
    if (pace != nullptr) {
      const double slot = static_cast<double>(n) * pace->senders + sender_index;
      const auto at = pace->start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(slot / pace->rate));
      std::this_thread::sleep_until(at);
      if (Clock::now() - at > kLateSend) tally.late_sends.fetch_add(1);
      // The slot, not the (possibly later) actual start: a sender that falls
      // behind shows up as latency instead of hiding it.
      ledger.mark_sent(index, std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count());
    } else {
      ledger.mark_sent(index, now_ns());
    }
    auto receipt = client.submit(envelopes[index]);
    if (receipt) {
      tally.receipted.fetch_add(1);
    } else {
      tally.refuse(receipt.error());
    }
  }
}

void run_senders(std::vector<std::unique_ptr<fpx::client::Client>>& clients, const std::vector<fpx::Bytes>& envelopes,
                 Ledger& ledger, const std::vector<SenderWork>& work,
                 std::vector<std::size_t> SenderWork::*phase, Tally& tally, const Pace* pace) {
  std::vector<std::thread> threads;
  for (std::size_t s = 0; s < clients.size(); ++s) {
    threads.emplace_back([&, s] {
      run_sender(*clients[s], envelopes, ledger, work[s].*phase, tally, pace, static_cast<int>(s));
    });
  }
  for (auto& thread : threads) thread.join();
}

// Recipients poll, verify (inside Client), stamp and confirm until stopped.
struct Receivers {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> unknown{0};
  std::atomic<std::int64_t> rejected{0};
  std::vector<std::thread> threads;

  void start(std::vector<std::unique_ptr<fpx::client::Client>>& clients, Ledger& ledger) {
    for (auto& client : clients) {
      threads.emplace_back([this, &client, &ledger] {
        while (!stop.load()) {
          auto deliveries = client->poll(kPollWait);
          const std::int64_t at = now_ns();
          if (!deliveries) fail("poll: " + deliveries.error().describe());
          for (const auto& delivery : *deliveries) {
            if (!ledger.mark_delivered(delivery.opened.message_id, at)) unknown.fetch_add(1);
            if (auto confirmed = client->confirm(delivery); !confirmed) {
              fail("confirm: " + confirmed.error().describe());
            }
          }
          rejected.fetch_add(static_cast<std::int64_t>(client->take_rejected_deliveries().size()));
        }
      });
    }
  }
  void join() {
    stop = true;
    for (auto& thread : threads) thread.join();
  }
};

void wait_for_deliveries(const Ledger& ledger, std::int64_t target, const Tally& tally) {
  const auto deadline = Clock::now() + kPhaseTimeout;
  while (ledger.delivered() < target) {
    if (Clock::now() > deadline) {
      fail("only " + std::to_string(ledger.delivered()) + " of " + std::to_string(target) +
           " deliveries arrived; refused " + std::to_string(tally.refused.load()) + ": " + tally.first_error);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

double percentile(std::vector<double> samples, double fraction) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[index];
}

// Raw Ed25519 verifications of distinct messages with a participant's
// parsed key, as open() verifies; microseconds per verification.
double raw_verify_us(const fpx::Identity& signer) {
  std::vector<fpx::Bytes> messages(kRawVerifyCount, fpx::Bytes(kRawVerifyBytes, 0x5a));
  std::vector<fpx::Ed25519Signature> signatures(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::memcpy(messages[i].data(), &i, sizeof i);
    signatures[i] = signer.signing_key().sign(messages[i]);
  }
  EVP_PKEY* public_key = X509_get0_pubkey(signer.chain().front().get());
  const auto start = Clock::now();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!fpx::ed25519_verify(public_key, messages[i], signatures[i])) fail("a raw signature did not verify");
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / kRawVerifyCount;
}

std::string default_broker_bin() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string("fpx-broker") : (self.parent_path() / "fpx-broker").string();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.broker_bin = default_broker_bin();
  CLI::App app{"fpx-bench: a real broker on loopback, senders and recipients through fpx_client"};
  app.add_option("--messages", options.messages, "messages in the throughput phase")->check(CLI::PositiveNumber);
  app.add_option("--rate", options.rate, "total messages per second in the latency phase")->check(CLI::PositiveNumber);
  app.add_option("--latency-seconds", options.latency_seconds, "length of the latency phase")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--senders", options.senders, "sending agencies, one thread each")->check(CLI::Range(1, kMaxParties));
  app.add_option("--recipients", options.recipients, "receiving focal points, one thread each")
      ->check(CLI::Range(1, kMaxParties));
  app.add_option("--broker-bin", options.broker_bin, "the fpx-broker binary (default: next to fpx-bench)");
  app.add_flag("--keep-dir", options.keep_dir, "keep the PKI, broker config, log and database");
  CLI11_PARSE(app, argc, argv);

  fpx::bench::TempDir dir(options.keep_dir ? fpx::bench::KeepDir::keep : fpx::bench::KeepDir::remove);
  fpx::bench::BenchPki pki(dir.path());
  std::vector<std::string> participants;
  for (int s = 0; s < options.senders; ++s) {
    pki.issue(sender_id(s), kSenderCountries[s], fpx::Role::agency);
    participants.push_back(sender_id(s));
  }
  for (int r = 0; r < options.recipients; ++r) {
    pki.issue(recipient_id(r), kRecipientCountries[r], fpx::Role::focal_point);
    participants.push_back(recipient_id(r));
  }

  // Seal everything first: the senders' signing is not what is measured.
  const auto senders = static_cast<std::size_t>(options.senders);
  const auto latency_messages = static_cast<std::size_t>(options.rate * options.latency_seconds);
  const std::size_t total = senders * kWarmupPerSender + static_cast<std::size_t>(options.messages) + latency_messages;
  std::vector<fpx::Bytes> envelopes;
  envelopes.reserve(total);
  Ledger ledger(total);
  std::vector<SenderWork> work(senders);
  std::vector<fpx::Identity> sender_identities;
  for (std::size_t s = 0; s < senders; ++s) sender_identities.push_back(pki.identity(sender_id(static_cast<int>(s))));
  std::vector<Sealer> sealers;
  for (std::size_t s = 0; s < senders; ++s) {
    sealers.emplace_back(sender_identities[s], kSenderCountries[s], sender_id(static_cast<int>(s)));
  }
  int serial = 0;
  auto seal_into = [&](std::vector<std::size_t> SenderWork::*phase, std::size_t count) {
    for (std::size_t n = 0; n < count; ++n, ++serial) {
      const std::size_t s = n % senders;
      // Each sender spreads its messages over every recipient.
      const auto to = (n / senders + s) % static_cast<std::size_t>(options.recipients);
      Sealed sealed = sealers[s].seal(kRecipientCountries[to], serial);
      (work[s].*phase).push_back(ledger.add(sealed.id));
      envelopes.push_back(std::move(sealed.envelope));
    }
  };
  const auto seal_start = Clock::now();
  seal_into(&SenderWork::warmup, senders * kWarmupPerSender);
  seal_into(&SenderWork::throughput, static_cast<std::size_t>(options.messages));
  seal_into(&SenderWork::latency, latency_messages);
  std::fprintf(stderr, "# sealed %zu envelopes of %zu bytes (body %zu bytes) in %.1f s\n", total,
               envelopes.front().size(), sealers.front().last_body_bytes(),
               std::chrono::duration<double>(Clock::now() - seal_start).count());

  fpx::bench::BrokerSettings settings;
  settings.binary = options.broker_bin;
  fpx::bench::BrokerProcess broker(pki, participants, settings);

  auto connect = [&](const std::string& id) {
    fpx::client::ClientOptions client_options;
    client_options.endpoint = broker.endpoint();
    client_options.broker_curve_key = broker.curve_public_key();
    client_options.state_db = dir.path() / (id + ".client.sqlite");
    client_options.root_ca = pki.root_pem();
    client_options.crl_dir = pki.crl_dir();
    return must(fpx::client::Client::connect(pki.identity(id), client_options), "connect");
  };
  std::vector<std::unique_ptr<fpx::client::Client>> sender_clients;
  std::vector<std::unique_ptr<fpx::client::Client>> recipient_clients;
  for (int s = 0; s < options.senders; ++s) sender_clients.push_back(connect(sender_id(s)));
  for (int r = 0; r < options.recipients; ++r) recipient_clients.push_back(connect(recipient_id(r)));

  Receivers receivers;
  receivers.start(recipient_clients, ledger);
  Tally tally;

  // Warm-up: sessions, the broker's chain cache, SQLite's pages.
  run_senders(sender_clients, envelopes, ledger, work, &SenderWork::warmup, tally, nullptr);
  if (tally.refused.load() > 0) fail("the broker refused a warm-up message: " + tally.first_error);
  std::int64_t expected = static_cast<std::int64_t>(senders) * kWarmupPerSender;
  wait_for_deliveries(ledger, expected, tally);

  const double verify_us = raw_verify_us(sender_identities.front());

  // Throughput: every sender flat out; done when the last delivery arrives.
  tally.receipted = 0;
  const double broker_cpu_start = broker.cpu_seconds();
  const double bench_cpu_start = process_cpu_seconds();
  const auto throughput_start = Clock::now();
  run_senders(sender_clients, envelopes, ledger, work, &SenderWork::throughput, tally, nullptr);
  const std::int64_t receipted = tally.receipted.load();
  expected += options.messages;
  wait_for_deliveries(ledger, expected, tally);
  const double throughput_seconds = std::chrono::duration<double>(Clock::now() - throughput_start).count();
  std::this_thread::sleep_for(kSettle);
  const double broker_cpu = broker.cpu_seconds() - broker_cpu_start;
  const double bench_cpu = process_cpu_seconds() - bench_cpu_start;
  if (tally.refused.load() > 0) fail("the broker refused messages: " + tally.first_error);

  // Latency: a fixed total rate, the slots spread over the senders.
  tally.receipted = 0;
  const double broker_cpu_latency_start = broker.cpu_seconds();
  Pace pace{Clock::now() + std::chrono::milliseconds(100), options.rate, options.senders};
  run_senders(sender_clients, envelopes, ledger, work, &SenderWork::latency, tally, &pace);
  expected += static_cast<std::int64_t>(latency_messages);
  wait_for_deliveries(ledger, expected, tally);
  std::this_thread::sleep_for(kSettle);
  const double broker_cpu_latency = broker.cpu_seconds() - broker_cpu_latency_start;
  const std::int64_t latency_receipted = tally.receipted.load();
  receivers.join();
  if (tally.refused.load() > 0) fail("the broker refused messages: " + tally.first_error);

  std::vector<double> latencies_ms;
  for (const auto& sender : work) {
    for (std::size_t index : sender.latency) {
      latencies_ms.push_back(static_cast<double>(ledger.delivered_ns(index) - ledger.sent_ns(index)) / 1e6);
    }
  }

  const double broker_us_per_msg = broker_cpu * 1e6 / static_cast<double>(std::max<std::int64_t>(receipted, 1));
  std::fprintf(stderr, "# %d senders, %d recipients, %d messages, %zu paced at %.0f/s\n", options.senders,
               options.recipients, options.messages, latency_messages, options.rate);
  std::fprintf(stderr, "# raw_verify_us %.2f\n", verify_us);
  std::fprintf(stderr, "# broker_cpu_us_per_msg %.1f\n", broker_us_per_msg);
  std::fprintf(stderr, "# broker_cpu_share_of_wall %.2f\n", broker_cpu / throughput_seconds);
  std::fprintf(stderr, "# bench_clients_cpu_us_per_msg %.1f\n",
               bench_cpu * 1e6 / static_cast<double>(std::max<std::int64_t>(receipted, 1)));
  if (latency_receipted > 0) {
    std::fprintf(stderr, "# broker_cpu_us_per_msg_paced %.1f\n",
                 broker_cpu_latency * 1e6 / static_cast<double>(latency_receipted));
  }
  std::fprintf(stderr, "# latency_max_ms %.2f\n", percentile(latencies_ms, 1.0));
  std::fprintf(stderr, "# late_sends %lld\n", static_cast<long long>(tally.late_sends.load()));
  std::fprintf(stderr, "# unexpected_deliveries %lld, rejected_deliveries %lld\n",
               static_cast<long long>(receivers.unknown.load()), static_cast<long long>(receivers.rejected.load()));

  std::printf("throughput_msgs_per_s %.0f\n", static_cast<double>(options.messages) / throughput_seconds);
  std::printf("verify_per_s_one_core %.0f\n", 1e6 / verify_us);
  std::printf("broker_cpu_per_msg_over_verify %.2f\n", broker_us_per_msg / verify_us);
  std::printf("p50_ms %.2f\n", percentile(latencies_ms, 0.50));
  std::printf("p99_ms %.2f\n", percentile(latencies_ms, 0.99));
  std::fflush(stdout);

  for (auto& client : sender_clients) client.reset();
  for (auto& client : recipient_clients) client.reset();
  if (const int status = broker.stop(); status != 0) {
    std::fprintf(stderr, "# fpx-broker exited with status %d (log: %s)\n", status, broker.log_path().c_str());
  }
  return 0;
}
