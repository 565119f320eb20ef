// Hand-made hostile Cap'n Proto: open() answers with a typed error, never a
// crash or an exception.
#include <cstring>

#include <capnp/serialize.h>
#include <catch2/catch.hpp>

#include "fpx/envelope.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;

namespace {

// Cap'n Proto pointer encodings (encoding spec, "Pointers").
std::uint64_t struct_pointer(std::int32_t offset_words, std::uint16_t data_words, std::uint16_t pointer_count) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(offset_words) << 2)) |
         (static_cast<std::uint64_t>(data_words) << 32) | (static_cast<std::uint64_t>(pointer_count) << 48);
}
std::uint64_t list_pointer(std::int32_t offset_words, std::uint8_t element_size, std::uint32_t count) {
  return 1 | (static_cast<std::uint64_t>(static_cast<std::uint32_t>(offset_words) << 2)) |
         (static_cast<std::uint64_t>(element_size) << 32) | (static_cast<std::uint64_t>(count) << 35);
}

Bytes words_to_bytes(const std::vector<std::uint64_t>& words) {
  Bytes bytes(words.size() * 8);
  std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

// A one-segment message: segment table then the words.
Bytes framed(const std::vector<std::uint64_t>& segment) {
  std::vector<std::uint64_t> words;
  words.push_back(static_cast<std::uint64_t>(segment.size()) << 32);  // 1 segment (count-1 = 0), its size
  words.insert(words.end(), segment.begin(), segment.end());
  return words_to_bytes(words);
}

// A well-formed envelope whose header field holds `header_bytes`.
Bytes envelope_with_header(const Bytes& header_bytes) {
  capnp::MallocMessageBuilder message;
  auto envelope = message.initRoot<wire::Envelope>();
  envelope.setHeader(kj::arrayPtr(header_bytes.data(), header_bytes.size()));
  envelope.setBody(kj::arrayPtr(header_bytes.data(), 0));
  envelope.setSignature(kj::arrayPtr(header_bytes.data(), 0));
  auto flat = capnp::messageToFlatArray(message);
  return Bytes(flat.asBytes().begin(), flat.asBytes().end());
}

struct Fixture {
  test::TestPki pki;
  TrustStore trust = pki.trust_store();
  EnvelopeOpener opener{trust};

  ErrorCode code_of(const Bytes& bytes) {
    auto opened = opener.open(bytes);
    return opened ? ErrorCode::none : opened.error().code;
  }
};

}  // namespace

TEST_CASE("empty, odd-sized and truncated envelopes are malformed") {
  Fixture fixture;
  auto agency = fixture.pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  Bytes sealed = test::seal_sample(agency, wire::MessageType::TRACING_REQUEST);
  CHECK(fixture.code_of({}) == ErrorCode::malformed);
  CHECK(fixture.code_of(Bytes(sealed.begin(), sealed.begin() + 13)) == ErrorCode::malformed);
  for (std::size_t length = 8; length < sealed.size(); length += 8) {
    INFO("truncated to " << length << " bytes");
    CHECK(fixture.code_of(Bytes(sealed.begin(), sealed.begin() + static_cast<long>(length))) == ErrorCode::malformed);
  }
  Bytes padded = sealed;
  padded.resize(sealed.size() + 8);
  CHECK(fixture.code_of(padded) == ErrorCode::malformed);
}

TEST_CASE("an envelope over the size limit is refused as too large before decoding") {
  Fixture fixture;
  CHECK(fixture.code_of(Bytes(kMaxEnvelopeBytes + 8, 0)) == ErrorCode::too_large);
}

TEST_CASE("a list claiming more elements than the message holds is malformed") {
  Fixture fixture;
  // Root Envelope struct with 4 pointers; header = a byte list of 2^29-1 bytes.
  Bytes bytes = framed({struct_pointer(0, 0, 4), list_pointer(3, 2, (1u << 29) - 1), 0, 0, 0});
  CHECK(fixture.code_of(bytes) == ErrorCode::malformed);
}

TEST_CASE("a segment table claiming billions of segments is malformed") {
  Fixture fixture;
  Bytes bytes = words_to_bytes({0x7fffffffULL | (1ULL << 32), 0, 0, 0});
  CHECK(fixture.code_of(bytes) == ErrorCode::malformed);
}

TEST_CASE("a field of the wrong type is malformed") {
  Fixture fixture;
  // Envelope.header (pointer 0) is a struct pointer instead of Data.
  Bytes bytes = framed({struct_pointer(0, 0, 4), struct_pointer(3, 1, 0), 0, 0, 0, 0});
  CHECK(fixture.code_of(bytes) == ErrorCode::malformed);
}

TEST_CASE("a header with a pointer loop is refused without looping") {
  Fixture fixture;
  // Root -> struct with one pointer that points back at itself.
  Bytes header = words_to_bytes({struct_pointer(0, 0, 1), struct_pointer(-1, 0, 1)});
  ErrorCode code = fixture.code_of(envelope_with_header(header));
  CHECK((code == ErrorCode::malformed || code == ErrorCode::not_canonical));
}

TEST_CASE("a header nested deeper than the limit is malformed") {
  Fixture fixture;
  // A chain of 200 structs, each holding one pointer to the next: canonical
  // in layout, but deeper than any real header and than the nesting limit.
  std::vector<std::uint64_t> words;
  for (int depth = 0; depth < 200; ++depth) words.push_back(struct_pointer(0, 0, 1));
  words.push_back(0);
  CHECK(fixture.code_of(envelope_with_header(words_to_bytes(words))) == ErrorCode::malformed);
}

TEST_CASE("a header that is not in canonical form is refused as not canonical") {
  Fixture fixture;
  auto agency = fixture.pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  // The same header, encoded with an unused word of padding after the root:
  // a reader would accept it, a canonical check does not.
  capnp::MallocMessageBuilder header_message, body_message;
  auto header = header_message.initRoot<wire::Header>();
  auto body = body_message.initRoot<wire::Body>();
  test::fill_sample(wire::MessageType::TRACING_REQUEST, header, body);
  header.setSchemaVersion(kSchemaVersion);
  header.setMessageId(kj::heapArray<kj::byte>(16));
  auto canonical = capnp::canonicalize(header.asReader());
  std::vector<std::uint64_t> words(canonical.size());
  std::memcpy(words.data(), canonical.begin(), canonical.size() * 8);
  // Point the root one word further and insert a zero word before the struct.
  std::uint64_t root = words[0];
  std::int32_t offset = static_cast<std::int32_t>(static_cast<std::uint32_t>(root) >> 2);
  words[0] = (root & ~0xfffffffcULL) | (static_cast<std::uint64_t>(static_cast<std::uint32_t>(offset + 1)) << 2);
  words.insert(words.begin() + 1, 0);
  // Every pointer inside the struct keeps pointing at the same target words
  // relative to itself, so the message still decodes.
  CHECK(fixture.code_of(envelope_with_header(words_to_bytes(words))) == ErrorCode::not_canonical);
}

TEST_CASE("a header of an unsupported schema version is refused as such") {
  Fixture fixture;
  capnp::MallocMessageBuilder header_message;
  auto header = header_message.initRoot<wire::Header>();
  header.setSchemaVersion(2);
  auto canonical = capnp::canonicalize(header.asReader());
  Bytes bytes(canonical.asBytes().begin(), canonical.asBytes().end());
  CHECK(fixture.code_of(envelope_with_header(bytes)) == ErrorCode::unsupported_version);
}
