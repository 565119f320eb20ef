#include "fpx_load.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include <capnp/message.h>
#include <openssl/x509.h>

#include "bench_support.hpp"
#include "fpx/crypto.hpp"
#include "fpx/time_ordered_id.hpp"

namespace fpx::bench {

namespace {

constexpr std::size_t kRawVerifyBytes = 1024;  // as fpx-bench-envelope, so the two compare
constexpr int kRawVerifyCount = 4000;
constexpr auto kPollWait = std::chrono::milliseconds(50);
constexpr auto kPhaseTimeout = std::chrono::seconds(300);
// A paced send that starts this much after its slot is counted as late.
constexpr auto kLateSend = std::chrono::milliseconds(1);

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A realistic tracing request from `sender_country` to `to_country`; the
// justification is padded so the canonical body is about kBodyTargetBytes.
// One requested state, so each message has exactly one recipient.
void fill_request(wire::Body::Builder body, const std::string& sender_country, const std::string& agency,
                  const std::string& to_country, int serial, std::size_t padding) {
  auto request = body.initTracingRequest();
  request.setRequestingCountry(sender_country);
  request.setRequestingAgency(agency);
  const std::string case_reference = sender_country + "-2024-" + std::to_string(100000 + serial);
  request.setNationalCaseReference(case_reference);
  auto states = request.initRequestedStates(1);
  states[0].setCountry(to_country);
  states[0].setRole(wire::RequestedStateRole::COUNTRY_OF_MANUFACTURE);
  auto firearms = request.initFirearms(2);
  for (unsigned i = 0; i < firearms.size(); ++i) {
    auto firearm = firearms[i];
    firearm.setSerialNumber("FN" + std::to_string(serial) + "-" + std::to_string(i));
    firearm.setManufacturer("FN Herstal");
    firearm.setCountryOfManufacture("BE");
    firearm.setPlaceOfManufacture("Herstal");
    firearm.setModel("FAL 50.00");
    firearm.setType(wire::FirearmType::RIFLE_CARBINE);
    firearm.setCalibre("7.62x51mm NATO");
    auto import_marking = firearm.initImportMarking();
    import_marking.setCountry("NG");
    import_marking.setYear(1998);
    firearm.setYearOfManufacture(static_cast<std::uint16_t>(1975 + i));
    firearm.setOtherMarkings("crest of the armed forces on the receiver; rack number 17");
  }
  request.initIllicitBasis(1).set(0, wire::IllicitBasis::ILLICIT_UNDER_NATIONAL_LAW);
  request.setLegalJustification("Seized by customs during an inspection of a lorry declared as carrying "
                                "agricultural equipment; possession without licence is an offence under national "
                                "law (case " + case_reference + ")." + std::string(padding, '.'));
  auto recovery = request.initRecovery();
  auto date = recovery.initDate();
  date.setYear(2024);
  date.setMonth(3);
  date.setDay(14);
  recovery.setAdministrativeArea("Saint-Louis");
  recovery.setCircumstance(wire::RecoveryCircumstance::SEIZED);
  recovery.setCrimeCategory("trafficking");
  request.setIntendedUse("criminal investigation and prosecution");
  request.initInformationSought(1).set(0, wire::InformationSought::CHAIN_OF_CUSTODY);
}

std::string id_key(const MessageId& id) { return std::string(id.bytes.begin(), id.bytes.end()); }

}  // namespace

std::string sender_id(int index) { return lower(kSenderCountries[index]) + ".police"; }
std::string recipient_id(int index) { return lower(kRecipientCountries[index]) + ".focal-point"; }

std::vector<std::string> issue_senders_and_recipients(BenchPki& pki, int senders, int recipients) {
  std::vector<std::string> participants;
  for (int s = 0; s < senders; ++s) {
    pki.issue(sender_id(s), kSenderCountries[s], Role::agency);
    participants.push_back(sender_id(s));
  }
  for (int r = 0; r < recipients; ++r) {
    pki.issue(recipient_id(r), kRecipientCountries[r], Role::focal_point);
    participants.push_back(recipient_id(r));
  }
  return participants;
}

std::int64_t to_ns(Clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}
std::int64_t now_ns() { return to_ns(Clock::now()); }

double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double percentile(std::vector<double> samples, double fraction) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[index];
}

Sealer::Sealer(const Identity& signer, std::string country, std::string agency)
    : signer_(signer), country_(std::move(country)), agency_(std::move(agency)) {
  // Padding that brings the canonical body to the target size.
  capnp::MallocMessageBuilder message;
  auto body = message.initRoot<wire::Body>();
  fill_request(body, country_, agency_, "BE", 0, 0);
  const std::size_t base = capnp::canonicalize(body.asReader()).size() * sizeof(capnp::word);
  padding_ = base < kBodyTargetBytes ? kBodyTargetBytes - base : 0;
}

Sealed Sealer::seal(const std::string& to_country, int serial) {
  capnp::MallocMessageBuilder body_message;
  auto body = body_message.initRoot<wire::Body>();
  fill_request(body, country_, agency_, to_country, serial, padding_);
  capnp::MallocMessageBuilder header_message;
  auto header = header_message.initRoot<wire::Header>();
  // As the reference sealer draws it: time-ordered from the signed createdAt.
  const std::int64_t created_at_ms = now_ms();
  header.setCreatedAtMs(created_at_ms);
  const MessageId id = time_ordered_message_id(created_at_ms);
  header.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
  header.initRecipients(1)[0].setCountry(to_country);
  header.setClassification(wire::Classification::RESTRICTED);
  header.initHandlingCodes(1).set(0, wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
  header.setCaseReference(country_ + "-2024-" + std::to_string(100000 + serial));
  last_body_bytes_ = capnp::canonicalize(body.asReader()).size() * sizeof(capnp::word);
  return Sealed{must(seal_envelope(signer_, header, body.asReader()), "seal"), id};
}

std::size_t Ledger::add(const MessageId& id) {
  const std::size_t index = index_.size();
  index_.emplace(id_key(id), index);
  return index;
}

bool Ledger::mark_delivered(const MessageId& id, std::int64_t at_ns) {
  auto found = index_.find(id_key(id));
  if (found == index_.end()) return false;
  std::int64_t expected = 0;
  if (!delivered_ns_[found->second].compare_exchange_strong(expected, at_ns)) return false;
  delivered_.fetch_add(1);
  return true;
}

void Tally::refuse(const Error& error) {
  if (refused.fetch_add(1) == 0) {
    std::lock_guard lock(first_error_mutex);
    first_error = error.describe();
  }
}

void run_sender(client::Client& client, const std::vector<Bytes>& envelopes, Ledger& ledger,
                const std::vector<std::size_t>& work, Tally& tally, const Pace* pace, int sender_index,
                std::vector<double>* receipt_ms) {
  for (std::size_t n = 0; n < work.size(); ++n) {
    const std::size_t index = work[n];
    std::int64_t sent = 0;
    if (pace != nullptr) {
      const double slot = static_cast<double>(n) * pace->senders + sender_index;
      const auto at = pace->start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(slot / pace->rate));
      std::this_thread::sleep_until(at);
      if (Clock::now() - at > kLateSend) tally.late_sends.fetch_add(1);
      // The slot, not the (possibly later) actual start: a sender that falls
      // behind shows up as latency instead of hiding it.
      sent = to_ns(at);
    } else {
      sent = now_ns();
    }
    ledger.mark_sent(index, sent);
    auto receipt = client.submit(envelopes[index]);
    if (receipt_ms != nullptr) receipt_ms->push_back(static_cast<double>(now_ns() - sent) / 1e6);
    if (receipt) {
      tally.receipted.fetch_add(1);
    } else {
      tally.refuse(receipt.error());
    }
  }
}

void Receivers::start(std::vector<std::unique_ptr<client::Client>>& clients, Ledger& ledger) {
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

void Receivers::join() {
  stop = true;
  for (auto& thread : threads) thread.join();
  threads.clear();
}

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

double raw_verify_us(const Identity& signer) {
  std::vector<Bytes> messages(kRawVerifyCount, Bytes(kRawVerifyBytes, 0x5a));
  std::vector<Ed25519Signature> signatures(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::memcpy(messages[i].data(), &i, sizeof i);
    signatures[i] = signer.signing_key().sign(messages[i]);
  }
  EVP_PKEY* public_key = X509_get0_pubkey(signer.chain().front().get());
  // This thread's CPU time, not the wall clock: the broker's cost it is
  // divided into is CPU time too, and on a shared machine the wall clock
  // also counts the time other programs held the core.
  auto thread_cpu_us = [] {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
  };
  const double start = thread_cpu_us();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!ed25519_verify(public_key, messages[i], signatures[i])) fail("a raw signature did not verify");
  }
  return (thread_cpu_us() - start) / kRawVerifyCount;
}

}  // namespace fpx::bench
