// Writes the structured seeds of corpus/open_envelope. Built on demand only:
//   ninja -C build make_open_envelope_seeds
//   build/bin/make_open_envelope_seeds tests/fuzz/corpus/open_envelope
// Its output is committed; rerun it when the wire format changes. The seed
// envelope's certificates expire after a year, which is fine: the fuzzer
// needs the shape of a valid envelope, not one that still opens.
//
// Cap'n Proto pointers are written by hand where the point is a message no
// builder would produce (loops, deep nesting, impossible sizes).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "fpx/envelope.hpp"
#include "fuzz_pki.hpp"

namespace {

using Words = std::vector<std::uint64_t>;

// Pointer encodings (Cap'n Proto encoding spec, "Pointers").
constexpr std::uint64_t kListOfBytes = 2;
constexpr std::uint64_t kListOfPointers = 6;

std::uint64_t struct_pointer(std::int32_t offset_words, std::uint16_t data_words, std::uint16_t pointers) {
  // The offset is a signed 30-bit field: shift in 32 bits so a negative
  // offset does not spill into the size bits.
  return static_cast<std::uint64_t>(static_cast<std::uint32_t>(offset_words) << 2) |
         (static_cast<std::uint64_t>(data_words) << 32) | (static_cast<std::uint64_t>(pointers) << 48);
}

std::uint64_t list_pointer(std::int32_t offset_words, std::uint64_t element_size, std::uint32_t count) {
  return 1 | static_cast<std::uint64_t>(static_cast<std::uint32_t>(offset_words) << 2) | (element_size << 32) |
         (static_cast<std::uint64_t>(count) << 35);
}

fpx::Bytes to_bytes(const Words& words) {
  fpx::Bytes bytes;
  for (std::uint64_t word : words) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(word >> (8 * i)));
  }
  return bytes;
}

// A one-segment flat message (segment table first), as open() receives it.
fpx::Bytes framed(const Words& segment) {
  Words message{static_cast<std::uint64_t>(segment.size()) << 32};  // 0 = one segment, then its size
  message.insert(message.end(), segment.begin(), segment.end());
  return to_bytes(message);
}

void write_seed(const std::filesystem::path& dir, const std::string& name, const fpx::Bytes& bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
  std::printf("%-32s %6zu bytes\n", name.c_str(), bytes.size());
}

fpx::Bytes seal_request(const fpx::Identity& identity) {
  capnp::MallocMessageBuilder body_message;
  auto request = body_message.initRoot<fpx::wire::Body>().initTracingRequest();
  request.setRequestingCountry("SN");
  request.setRequestingAgency(fpx::fuzz::kFuzzParticipant);
  request.setNationalCaseReference("SN-DK-2024-000117");
  auto states = request.initRequestedStates(1);
  states[0].setCountry("BE");
  states[0].setRole(fpx::wire::RequestedStateRole::COUNTRY_OF_MANUFACTURE);
  auto firearm = request.initFirearms(1)[0];
  firearm.setSerialNumber("AB123456");
  firearm.setManufacturer("FN Herstal");
  firearm.setCountryOfManufacture("BE");
  firearm.setModel("FAL");
  firearm.setType(fpx::wire::FirearmType::RIFLE_CARBINE);
  firearm.setCalibre("7.62x51mm");
  request.initIllicitBasis(1).set(0, fpx::wire::IllicitBasis::ILLICIT_UNDER_NATIONAL_LAW);
  request.setLegalJustification("Seized during a customs inspection; tracing under ITI paragraph 16.");
  request.setIntendedUse("criminal investigation");

  capnp::MallocMessageBuilder header_message;
  auto header = header_message.initRoot<fpx::wire::Header>();
  header.initRecipients(1)[0].setCountry("BE");
  header.setCaseReference("SN-DK-2024-000117");
  header.setClassification(fpx::wire::Classification::RESTRICTED);
  return fpx::fuzz::must(
      fpx::seal_envelope(identity, header, body_message.getRoot<fpx::wire::Body>().asReader()), "seal");
}

// The valid envelope with its header field replaced by `header_words`
// (a canonical-style message: no segment table).
fpx::Bytes with_header(const fpx::Bytes& valid, const Words& header_words) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(valid.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), valid.data(), valid.size());
  capnp::FlatArrayMessageReader reader(words);
  auto original = reader.getRoot<fpx::wire::Envelope>();

  capnp::MallocMessageBuilder message;
  message.setRoot(original);
  const fpx::Bytes header = to_bytes(header_words);
  message.getRoot<fpx::wire::Envelope>().setHeader(kj::arrayPtr(header.data(), header.size()));
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(message);
  auto bytes = flat.asBytes();
  return fpx::Bytes(bytes.begin(), bytes.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const fpx::fuzz::FuzzPki pki = fpx::fuzz::make_fuzz_pki();

  write_seed(dir, "empty", {});

  // Fixed seed: the corpus must not change each time the generator runs.
  std::mt19937 random(20240117);
  fpx::Bytes noise(512);
  for (auto& byte : noise) byte = static_cast<std::uint8_t>(random());
  write_seed(dir, "random_512", noise);

  const fpx::Bytes valid = seal_request(pki.identity);
  write_seed(dir, "valid_tracing_request", valid);

  // Cut at a word boundary, so decoding (not the length check) refuses it.
  fpx::Bytes truncated(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(valid.size() / 16 * 8));
  write_seed(dir, "truncated_envelope", truncated);

  {
    // Same envelope, one bit changed: in the header (schemaVersion) and in
    // the signature.
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(valid.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), valid.data(), valid.size());
    capnp::FlatArrayMessageReader reader(words);
    auto envelope = reader.getRoot<fpx::wire::Envelope>();
    const auto offset_of = [&](capnp::Data::Reader field) {
      return static_cast<std::size_t>(field.begin() - words.asBytes().begin());
    };
    fpx::Bytes flipped = valid;
    flipped[offset_of(envelope.getHeader()) + 8] ^= 0x01;  // first data word of the header's root struct
    write_seed(dir, "flipped_header_byte", flipped);
    flipped = valid;
    flipped[offset_of(envelope.getSignature()) + 5] ^= 0x80;
    write_seed(dir, "flipped_signature_byte", flipped);
  }

  // Root struct whose only pointer is the root pointer itself.
  write_seed(dir, "pointer_loop_root", framed({struct_pointer(-1, 0, 1)}));

  // Header whose root struct's pointer points back at that struct.
  write_seed(dir, "pointer_loop_header", with_header(valid, {struct_pointer(0, 0, 1), struct_pointer(-1, 0, 1)}));

  {
    // A list of one pointer, holding a list of one pointer, ... 200 deep:
    // canonical in layout, so only the nesting limit stops the recursion.
    Words deep;
    for (int i = 0; i < 200; ++i) deep.push_back(list_pointer(0, kListOfPointers, 1));
    deep.push_back(0);
    write_seed(dir, "deep_nested_list_header", with_header(valid, deep));
  }

  {
    // Envelope whose signerChain claims 2^29-1 certificates and whose header
    // claims 2^29-1 bytes, in a message of a few words.
    Words segment{struct_pointer(0, 0, 4),
                  list_pointer(3, kListOfBytes, 0x1FFFFFFF),  // header
                  0,                                          // body
                  0,                                          // signature
                  list_pointer(0, kListOfPointers, 0x1FFFFFFF),
                  0};
    write_seed(dir, "huge_list_claim", framed(segment));
  }

  // Segment table claiming 2^32-1 words in one segment, with one word present.
  write_seed(dir, "huge_segment_claim", to_bytes({0xFFFFFFFF00000000ULL, struct_pointer(0, 0, 0)}));

  // Seeds for the seal-and-open half of the target (lengths not a multiple of 8).
  const std::string text = "SN-DK-2024-000117 / AB123456";
  write_seed(dir, "seal_text", fpx::Bytes(text.begin(), text.end() - 1));
  write_seed(dir, "seal_text_nul_and_invalid_utf8", fpx::Bytes{'A', 0, 'B', 0xFF, 0xC3, 0x28, 'C'});
  return 0;
}
