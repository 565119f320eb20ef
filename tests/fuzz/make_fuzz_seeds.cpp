// Writes the structured seeds of corpus/client_frame, corpus/observer_request
// and the fixed-PKI seeds of corpus/certificate, and the statistics records
// of corpus/public_record. Built on demand only:
//   ninja -C build make_fuzz_seeds
//   build/bin/make_fuzz_seeds tests/fuzz/corpus
// Its output is committed; rerun it when a schema changes. (The
// certificate corpus also holds Debian's cryptography vectors, copied by
// hand: see README.md.)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fpx/disclosure_control.hpp"
#include "fpx/frames.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/public_records.hpp"
#include "fpx/warning_statistics.hpp"
#include "fpx/wire/observer.capnp.h"
#include "fpx/wire/transport.capnp.h"
#include "fuzz_pki.hpp"

namespace {

namespace fs = std::filesystem;

void write_seed(const fs::path& dir, const std::string& name, const void* data, std::size_t size) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.good()) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
  std::printf("%-48s %6zu bytes\n", (dir.filename() / name).c_str(), size);
}

void write_seed(const fs::path& dir, const std::string& name, const fpx::Bytes& bytes) {
  write_seed(dir, name, bytes.data(), bytes.size());
}

void write_seed(const fs::path& dir, const std::string& name, const std::string& text) {
  write_seed(dir, name, text.data(), text.size());
}

fpx::Bytes flat(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  return fpx::Bytes(words.asBytes().begin(), words.asBytes().end());
}

// The same message with a union discriminant no v1 schema has: the data
// word after requestId holds it (bytes 8-9 of the root struct's data).
fpx::Bytes with_discriminant(fpx::Bytes bytes, std::uint16_t which) {
  // Segment table (8 bytes), root pointer (8), requestId (8), then the discriminant.
  bytes[24] = static_cast<std::uint8_t>(which);
  bytes[25] = static_cast<std::uint8_t>(which >> 8);
  return bytes;
}

void client_frames(const fs::path& dir) {
  {
    capnp::MallocMessageBuilder message;
    auto frame = message.initRoot<fpx::wire::ClientFrame>();
    frame.setRequestId(1);
    frame.setPing();
    const fpx::Bytes ping = flat(message);
    write_seed(dir, "ping", ping);
    write_seed(dir, "unknown_kind", with_discriminant(ping, 9));
    fpx::Bytes trailing = ping;
    trailing.resize(trailing.size() + 8, 0);
    write_seed(dir, "trailing_word", trailing);
  }
  {
    capnp::MallocMessageBuilder message;
    auto frame = message.initRoot<fpx::wire::ClientFrame>();
    frame.setRequestId(2);
    const std::string envelope = "not an envelope, but the broker only opens it later";
    frame.setSubmit(kj::arrayPtr(reinterpret_cast<const kj::byte*>(envelope.data()), envelope.size()));
    const fpx::Bytes submit = flat(message);
    write_seed(dir, "submit", submit);
    write_seed(dir, "submit_truncated", fpx::Bytes(submit.begin(), submit.begin() + 32));
  }
  for (unsigned count : {3u, 4097u}) {
    capnp::MallocMessageBuilder message;
    auto frame = message.initRoot<fpx::wire::ClientFrame>();
    frame.setRequestId(3);
    auto ids = frame.initConfirm().initDeliveryIds(count);
    for (unsigned i = 0; i < count; ++i) ids.set(i, 1000 + i);
    write_seed(dir, "confirm_" + std::to_string(count), flat(message));
  }
  for (unsigned length : {16u, 15u}) {
    capnp::MallocMessageBuilder message;
    auto frame = message.initRoot<fpx::wire::ClientFrame>();
    frame.setRequestId(4);
    std::vector<kj::byte> id(length, 0xA5);
    frame.initStatus().setMessageId(kj::arrayPtr(id.data(), id.size()));
    write_seed(dir, "status_id_" + std::to_string(length) + "_bytes", flat(message));
  }
  // Root pointer to itself, and a segment table claiming 2^32-1 words.
  const fpx::Bytes loop = {0, 0, 0, 0, 1, 0, 0, 0, 0xFC, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0};
  write_seed(dir, "pointer_loop_root", loop);
  const fpx::Bytes huge = {0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0};
  write_seed(dir, "huge_segment_claim", huge);
}

void observer_requests(const fs::path& dir) {
  capnp::MallocMessageBuilder follow_message;
  auto follow = follow_message.initRoot<fpx::wire::ObserverRequest>();
  follow.setRequestId(7);
  follow.initFollow().setFromSequence(1);
  follow.getFollow().setMaxRecords(100);
  const fpx::Bytes follow_bytes = flat(follow_message);
  write_seed(dir, "follow", follow_bytes);
  write_seed(dir, "unknown_kind", with_discriminant(follow_bytes, 12));
  fpx::Bytes trailing = follow_bytes;
  trailing.resize(trailing.size() + 8, 0);
  write_seed(dir, "trailing_word", trailing);
  fpx::Bytes oversized = follow_bytes;
  oversized.resize(4104, 0);
  write_seed(dir, "oversized", oversized);

  capnp::MallocMessageBuilder latest_message;
  auto latest = latest_message.initRoot<fpx::wire::ObserverRequest>();
  latest.setRequestId(8);
  latest.setLatestCheckpoint();
  write_seed(dir, "latest_checkpoint", flat(latest_message));

  capnp::MallocMessageBuilder inclusion_message;
  auto inclusion = inclusion_message.initRoot<fpx::wire::ObserverRequest>().initInclusionProof();
  inclusion.setLeafIndex(5);
  inclusion.setTreeSize(UINT64_MAX);
  write_seed(dir, "inclusion_proof", flat(inclusion_message));

  capnp::MallocMessageBuilder consistency_message;
  auto consistency = consistency_message.initRoot<fpx::wire::ObserverRequest>().initConsistencyProof();
  consistency.setFirstTreeSize(3);
  consistency.setSecondTreeSize(2);
  write_seed(dir, "consistency_proof", flat(consistency_message));
}

// Broker frames as the client library reads them: one of each kind from the
// codec the broker uses, and the damaged shapes a fuzzer should start from.
void broker_frames(const fs::path& dir) {
  const fpx::Bytes pong = fpx::encode_pong(1);
  write_seed(dir, "pong", pong);
  write_seed(dir, "unknown_kind", with_discriminant(pong, 9));
  fpx::Bytes trailing = pong;
  trailing.resize(trailing.size() + 8, 0);
  write_seed(dir, "trailing_word", trailing);

  capnp::MallocMessageBuilder receipt_message;
  auto receipt = receipt_message.initRoot<fpx::wire::SignedReceipt>();
  const fpx::Bytes inner(32, 0x5A);
  receipt.setReceipt(kj::arrayPtr(inner.data(), inner.size()));
  const fpx::Bytes signature(64, 0x11);
  receipt.setSignature(kj::arrayPtr(signature.data(), signature.size()));
  const fpx::Bytes der(48, 0x30);
  receipt.initBrokerChain(1).set(0, kj::arrayPtr(der.data(), der.size()));
  write_seed(dir, "receipt", fpx::encode_receipt(2, flat(receipt_message)));

  fpx::Error error = fpx::make_error(fpx::ErrorCode::schema_violation, "the calibre is missing");
  error.field_errors.push_back(fpx::FieldError{"body.tracingRequest.firearms[0].calibre", "required"});
  fpx::MessageId about;
  about.bytes.fill(0xA5);
  write_seed(dir, "error", fpx::encode_error(3, error, about, 250));
  const fpx::Bytes delivery = fpx::encode_delivery(4, fpx::Bytes(100, 0x42));
  write_seed(dir, "delivery", delivery);
  write_seed(dir, "delivery_truncated", fpx::Bytes(delivery.begin(), delivery.begin() + 32));
  write_seed(dir, "status", fpx::encode_status(5, about, {{"sn.focal-point", "delivered", 1234, "acknowledged", ""}}));
  write_seed(dir, "session_closed", fpx::encode_session_closed("a newer session is connected"));
}

void observer_replies(const fs::path& dir) {
  const fpx::Bytes checkpoint = fpx::encode_checkpoint_reply(1, "fpx.exchange/log\n4\nroot\n");
  write_seed(dir, "checkpoint", checkpoint);
  write_seed(dir, "unknown_kind", with_discriminant(checkpoint, 9));
  write_seed(dir, "page", fpx::encode_feed_page(2, {{1, "statistics", "{}", fpx::Bytes(64, 1)}}, 2));
  write_seed(dir, "proof", fpx::encode_proof_reply(3, std::vector<fpx::Sha256Digest>(3)));
  write_seed(dir, "proof_129_hashes", fpx::encode_proof_reply(4, std::vector<fpx::Sha256Digest>(129)));
  write_seed(dir, "error", fpx::encode_observer_error(5, fpx::make_error(fpx::ErrorCode::rate_limited, "wait"), 500));
}

std::string der_of_pem_crl(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (crl == nullptr) {
    std::fprintf(stderr, "cannot re-read our own CRL\n");
    std::exit(1);
  }
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(crl, &der);
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  X509_CRL_free(crl);
  return out;
}

void certificates(const fs::path& dir) {
  const fpx::fuzz::FuzzChainPki pki = fpx::fuzz::make_fuzz_chain_pki();
  write_seed(dir, "fpx-root.pem", pki.root.certificate().pem());
  write_seed(dir, "fpx-intermediate.der", pki.intermediate.certificate().der());
  write_seed(dir, "fpx-leaf-via-intermediate.der", pki.leaf_via_intermediate.der());
  write_seed(dir, "fpx-leaf.der", pki.direct_leaf.der());
  write_seed(dir, "fpx-chain.pem", pki.leaf_via_intermediate.pem() + pki.intermediate.certificate().pem());

  const std::int64_t now = fpx::now_ms();
  const std::int64_t year = 365LL * 24 * 3600 * 1000;
  // The root's CRL revoking the direct leaf an hour ago; the intermediate's
  // CRL revoking the other leaf; an empty CRL past its nextUpdate.
  const std::string revoking = fpx::fuzz::must(
      pki.root.make_crl_pem({{pki.direct_leaf.serial_hex(), now - 3600'000}}, now - 60'000, now + year, 2), "CRL");
  write_seed(dir, "fpx-root-crl-revoking-leaf.pem", revoking);
  write_seed(dir, "fpx-root-crl-revoking-leaf.der", der_of_pem_crl(revoking));
  write_seed(dir, "fpx-sn-crl-revoking-leaf.pem",
             fpx::fuzz::must(pki.intermediate.make_crl_pem({{pki.leaf_via_intermediate.serial_hex(), now - 3600'000}},
                                                           now - 60'000, now + year, 2),
                             "CRL"));
  write_seed(dir, "fpx-root-crl-stale.pem",
             fpx::fuzz::must(pki.root.make_crl_pem({}, now - 2 * year, now - year, 1), "CRL"));
}

}  // namespace

// Issue 15: statistics records as the broker encodes them (the other kinds'
// seeds are small JSON files written by hand beside them).
void public_records(const fs::path& dir) {
  std::vector<fpx::stats::TracingFacts> facts(7);
  for (std::size_t i = 0; i < facts.size(); ++i) {
    facts[i].requester = "SN";
    facts[i].requested = i < 5 ? "NE" : "ML";
    facts[i].acknowledged_hours = 3;
    facts[i].acknowledged_within_clock = true;
  }
  fpx::records::StatisticsRecord record;
  record.sequence = 12;
  record.log_index = 40;
  record.period = "month";
  record.period_start = "2026-03-01T00:00:00Z";
  record.period_end = "2026-04-01T00:00:00Z";
  record.as_of = "2026-04-08T00:00:01Z";
  record.method = std::string(fpx::disclosure::kMethod);
  record.threshold = 5;
  record.protection_range = 2;
  record.answered_band_hours = fpx::disclosure::kAnsweredBandHours;
  record.clocks_hours = {24.0, 168.0, 72.0, 720.0, 48.0};
  record.counted_at_ms = 1775606400123;
  record.tables = fpx::disclosure::build_tables(facts, {{"sahel", {"NE", "ML"}}});
  fpx::disclosure::suppress_primary(record.tables, record.threshold);
  const std::vector<fpx::stats::WarningFacts> warnings{{"NE", true}, {"NE", false}, {"ML", true}};
  record.warnings = fpx::disclosure::build_warning_tables(warnings);
  write_seed(dir, "statistics-month.json", fpx::records::encode_record(record));
  record.period = "year";
  record.counted_at_ms.reset();
  record.grid = "month";
  record.periods = {{"2026-03-01T00:00:00Z", 12}, {"2026-04-01T00:00:00Z", 15}};
  record.warnings = {};
  write_seed(dir, "statistics-year.json", fpx::records::encode_record(record));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus root: tests/fuzz/corpus>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  client_frames(root / "client_frame");
  observer_requests(root / "observer_request");
  broker_frames(root / "broker_frame");
  observer_replies(root / "observer_reply");
  certificates(root / "certificate");
  public_records(root / "public_record");
  return 0;
}
