// seal -> open for every message type, and tampering with any byte.
#include <algorithm>
#include <cstring>
#include <set>

#include <capnp/serialize.h>
#include <catch2/catch.hpp>

#include "fpx/envelope.hpp"
#include "fpx/time_ordered_id.hpp"
#include "fpx/validate.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using fpx::test::TestPki;

namespace {

struct EnvelopeParts {
  Bytes header, body, signature;
  std::vector<Bytes> chain;
};

EnvelopeParts split(const Bytes& envelope_bytes) {
  auto message = AlignedMessage::open(envelope_bytes, Framing::flat, "envelope");
  REQUIRE(message.ok());
  auto envelope = message->root<wire::Envelope>();
  EnvelopeParts parts;
  auto copy = [](capnp::Data::Reader data) { return Bytes(data.begin(), data.end()); };
  parts.header = copy(envelope.getHeader());
  parts.body = copy(envelope.getBody());
  parts.signature = copy(envelope.getSignature());
  for (auto cert : envelope.getSignerChain()) parts.chain.push_back(copy(cert));
  return parts;
}

Bytes join(const EnvelopeParts& parts) {
  capnp::MallocMessageBuilder message;
  auto envelope = message.initRoot<wire::Envelope>();
  envelope.setHeader(kj::arrayPtr(parts.header.data(), parts.header.size()));
  envelope.setBody(kj::arrayPtr(parts.body.data(), parts.body.size()));
  envelope.setSignature(kj::arrayPtr(parts.signature.data(), parts.signature.size()));
  auto chain = envelope.initSignerChain(static_cast<unsigned>(parts.chain.size()));
  for (unsigned i = 0; i < chain.size(); ++i) chain.set(i, kj::arrayPtr(parts.chain[i].data(), parts.chain[i].size()));
  auto flat = capnp::messageToFlatArray(message);
  auto bytes = flat.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

ErrorCode open_error(EnvelopeOpener& opener, const Bytes& bytes) {
  auto opened = opener.open(bytes);
  return opened ? ErrorCode::none : opened.error().code;
}

}  // namespace

TEST_CASE("every message type seals and opens with its sender, type and id intact") {
  TestPki pki({"SN", "NE"});
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  std::vector<Identity> signers;
  signers.push_back(pki.issue_identity("sn.focal-point", "SN", Role::focal_point));
  signers.push_back(pki.issue_identity("sn.police-judiciaire", "SN", Role::agency));
  signers.push_back(pki.issue_identity("fpx.broker", "SN", Role::broker, {.via_intermediate = false}));

  int opened_count = 0;
  for (const auto& signer : signers) {
    for (auto type : test::types_signable_by(signer.participant().role)) {
      INFO(message_type_name(type) << " signed by " << signer.participant().id.str());
      Bytes sealed = test::seal_sample(signer, type);
      auto opened = opener.open(sealed);
      REQUIRE(opened.ok());
      CHECK(opened->type == type);
      CHECK(opened->signer.participant.id == signer.participant().id);
      CHECK(opened->signer.revocation == RevocationStatus::checked);
      CHECK(opened->message.header().getSenderCountry() == signer.participant().country.str().c_str());
      CHECK(message_type_of(opened->message.body()) == type);
      // The bytes as signed are the canonical form of what was decoded (the
      // broker hashes them for its duplicate check instead of encoding again).
      auto header_words = capnp::canonicalize(opened->message.header());
      auto body_words = capnp::canonicalize(opened->message.body());
      CHECK(Bytes(opened->message.header_bytes().begin(), opened->message.header_bytes().end()) ==
            Bytes(header_words.asBytes().begin(), header_words.asBytes().end()));
      CHECK(Bytes(opened->message.body_bytes().begin(), opened->message.body_bytes().end()) ==
            Bytes(body_words.asBytes().begin(), body_words.asBytes().end()));
      auto problems = validate_message(opened->message.header(), opened->message.body(), {now_ms()});
      for (const auto& problem : problems) UNSCOPED_INFO(problem.path << ": " << problem.message);
      CHECK(problems.empty());
      ++opened_count;
    }
  }
  // focal point 9 types, agency 4, broker 4 (DOMAIN.md roles).
  CHECK(opened_count == 17);
}

TEST_CASE("flipping any byte of header, body, signature or certificate is caught with the right error") {
  TestPki pki;
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  Bytes sealed = test::seal_sample(agency, wire::MessageType::TRACING_REQUEST);
  REQUIRE(opener.open(sealed).ok());
  const EnvelopeParts original = split(sealed);

  SECTION("header") {
    for (std::size_t i = 0; i < original.header.size(); ++i) {
      EnvelopeParts parts = original;
      parts.header[i] ^= 0x01;
      ErrorCode code = open_error(opener, join(parts));
      INFO("header byte " << i << " -> " << error_code_name(code));
      // Structural bytes (pointers, padding, terminators) fail as encoding
      // errors before the signature is checked; everything else as a signature.
      CHECK((code == ErrorCode::bad_signature || code == ErrorCode::not_canonical || code == ErrorCode::malformed ||
             code == ErrorCode::body_hash_mismatch || code == ErrorCode::unsupported_version));
    }
    // A changed value (the case reference's text) is a bad signature.
    const std::string reference = "SN-ZIG-2026-0142";
    auto found = std::search(original.header.begin(), original.header.end(), reference.begin(), reference.end());
    REQUIRE(found != original.header.end());
    for (std::size_t k = 0; k < reference.size(); ++k) {
      EnvelopeParts parts = original;
      parts.header[static_cast<std::size_t>(found - original.header.begin()) + k] ^= 0x01;
      CHECK(open_error(opener, join(parts)) == ErrorCode::bad_signature);
    }
  }
  SECTION("body") {
    for (std::size_t i = 0; i < original.body.size(); ++i) {
      EnvelopeParts parts = original;
      parts.body[i] ^= 0x01;
      INFO("body byte " << i);
      CHECK(open_error(opener, join(parts)) == ErrorCode::body_hash_mismatch);
    }
  }
  SECTION("signature") {
    for (std::size_t i = 0; i < original.signature.size(); ++i) {
      EnvelopeParts parts = original;
      parts.signature[i] ^= 0x01;
      INFO("signature byte " << i);
      CHECK(open_error(opener, join(parts)) == ErrorCode::bad_signature);
    }
  }
  SECTION("certificates") {
    REQUIRE(original.chain.size() == 2);  // leaf and SN intermediate
    for (std::size_t c = 0; c < original.chain.size(); ++c) {
      for (std::size_t i = 0; i < original.chain[c].size(); ++i) {
        EnvelopeParts parts = original;
        parts.chain[c][i] ^= 0x01;
        INFO("certificate " << c << " byte " << i);
        CHECK(open_error(opener, join(parts)) == ErrorCode::untrusted_chain);
      }
    }
  }
}

TEST_CASE("the signed sender must be the certificate holder") {
  TestPki pki;
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto other = pki.issue_identity("sn.douanes", "SN", Role::agency);
  // Re-sign sn.douanes's header naming sn.police-judiciaire: the signature is
  // valid, the claim is not.
  EnvelopeParts parts = split(test::seal_sample(other, wire::MessageType::TRACING_REQUEST));
  auto original = AlignedMessage::open(parts.header, Framing::canonical, "header");
  REQUIRE(original.ok());
  capnp::MallocMessageBuilder builder;
  builder.setRoot(original->root<wire::Header>());
  auto header = builder.getRoot<wire::Header>();
  header.setSenderParticipant("sn.police-judiciaire");
  auto canonical = capnp::canonicalize(header.asReader());
  parts.header.assign(canonical.asBytes().begin(), canonical.asBytes().end());
  Bytes to_sign(kSignatureContext.begin(), kSignatureContext.end());
  to_sign.insert(to_sign.end(), parts.header.begin(), parts.header.end());
  auto signature = other.signing_key().sign(to_sign);
  parts.signature.assign(signature.begin(), signature.end());
  CHECK(open_error(opener, join(parts)) == ErrorCode::signer_mismatch);
}

TEST_CASE("a role may only sign the message types DOMAIN.md gives it") {
  CHECK(role_may_sign(Role::agency, wire::MessageType::TRACING_REQUEST));
  CHECK_FALSE(role_may_sign(Role::agency, wire::MessageType::ALERT));
  CHECK_FALSE(role_may_sign(Role::agency, wire::MessageType::TRACING_RESPONSE));
  CHECK(role_may_sign(Role::focal_point, wire::MessageType::TRACING_RESPONSE));
  CHECK_FALSE(role_may_sign(Role::focal_point, wire::MessageType::REMINDER));
  CHECK(role_may_sign(Role::broker, wire::MessageType::REMINDER));
  for (int value = 0; value <= static_cast<int>(wire::MessageType::DEAD_LETTER_NOTICE); ++value) {
    CHECK_FALSE(role_may_sign(Role::observer, static_cast<wire::MessageType>(value)));
  }

  TestPki pki;
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto observer = pki.issue_identity("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
  capnp::MallocMessageBuilder header_message, body_message;
  auto header = header_message.initRoot<wire::Header>();
  auto body = body_message.initRoot<wire::Body>();
  test::fill_sample(wire::MessageType::TRACING_REQUEST, header, body);
  auto sealed = seal_envelope(observer, header, body.asReader());
  REQUIRE(sealed.ok());
  auto opened = opener.open(*sealed);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::wrong_role);
}

TEST_CASE("a header whose type disagrees with the body is malformed") {
  TestPki pki;
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto focal = pki.issue_identity("sn.focal-point", "SN", Role::focal_point);
  EnvelopeParts parts = split(test::seal_sample(focal, wire::MessageType::ALERT));
  // Re-seal a header claiming "tracing response" over the alert body.
  auto original = AlignedMessage::open(parts.header, Framing::canonical, "header");
  REQUIRE(original.ok());
  capnp::MallocMessageBuilder builder;
  builder.setRoot(original->root<wire::Header>());
  auto header = builder.getRoot<wire::Header>();
  header.setType(wire::MessageType::TRACING_RESPONSE);
  auto canonical = capnp::canonicalize(header.asReader());
  parts.header.assign(canonical.asBytes().begin(), canonical.asBytes().end());
  Bytes to_sign(kSignatureContext.begin(), kSignatureContext.end());
  to_sign.insert(to_sign.end(), parts.header.begin(), parts.header.end());
  auto signature = focal.signing_key().sign(to_sign);
  parts.signature.assign(signature.begin(), signature.end());
  auto opened = opener.open(join(parts));
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::malformed);
}

TEST_CASE("an envelope opened again after sealing keeps exactly the received bytes verifiable") {
  TestPki pki;
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  Bytes sealed = test::seal_sample(agency, wire::MessageType::TRACING_REQUEST);
  auto first = opener.open(sealed);
  auto second = opener.open(sealed);  // from the chain cache
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->message_id == second->message_id);
  CHECK(first->envelope_sha256 == second->envelope_sha256);
  CHECK(first->envelope_sha256 == sha256(sealed));
}

TEST_CASE("the sealer draws a time-ordered id whose timestamp is the signed createdAt") {
  TestPki pki({"SN"});
  auto trust = pki.trust_store();
  EnvelopeOpener opener(trust);
  auto signer = pki.issue_identity("sn.focal-point", "SN", Role::focal_point);
  const std::int64_t earlier_ms = now_ms() - 1000;  // within the fresh certificate's validity
  auto first = opener.open(test::seal_sample(signer, wire::MessageType::TRACING_REQUEST, earlier_ms));
  auto second = opener.open(test::seal_sample(signer, wire::MessageType::TRACING_REQUEST, earlier_ms + 1));
  auto same_ms = opener.open(test::seal_sample(signer, wire::MessageType::TRACING_REQUEST, earlier_ms));
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  REQUIRE(same_ms.ok());
  const auto& id = first->message_id.bytes;
  std::int64_t stamped = 0;
  for (int i = 0; i < 6; ++i) stamped = stamped << 8 | id[static_cast<std::size_t>(i)];
  CHECK(stamped == earlier_ms);
  CHECK((id[6] >> 4) == 7);       // RFC 9562 version 7
  CHECK((id[8] >> 6) == 0b10);    // RFC 9562 variant
  // A later createdAt sorts after; the same millisecond still gives a new id.
  CHECK(first->message_id < second->message_id);
  CHECK(first->message_id != same_ms->message_id);
}

TEST_CASE("time-ordered ids keep 74 random bits") {
  std::set<MessageId> drawn;
  for (int i = 0; i < 1000; ++i) drawn.insert(time_ordered_message_id(1'765'000'000'000));
  CHECK(drawn.size() == 1000);
  const MessageId a = time_ordered_message_id(0);
  CHECK(a.bytes[0] == 0);
  CHECK(time_ordered_message_id(-5).bytes[5] == 0);
}
