// A leaf's sealed commitment parts as one value (schema 6), instead of one
// row per part: a tracing leaf has 8 parts, and 8 rows with their primary
// key and fact index were most of the rows a message wrote.
//
// The encoding is this store's own, written and read only here:
//   byte 0: kPartsFormat; then per part, five fields, each a LEB128 length
//   and that many bytes: salt, metadata, tracing request id (empty, or the
//   16-byte message id), requested country, fact.
#include "sqlite_store.hpp"

namespace fpx::broker::sqlite {

namespace {

constexpr std::uint8_t kPartsFormat = 1;
// A part's field is at most a salt, a metadata line or a fact: far below
// this. A longer length can only come from a damaged file, and reading it
// must not allocate what the damage says.
constexpr std::uint64_t kMaxFieldBytes = 1 << 20;

void put_field(Bytes& out, ByteView field) {
  std::uint64_t size = field.size();
  do {
    std::uint8_t byte = size & 0x7f;
    size >>= 7;
    if (size != 0) byte |= 0x80;
    out.push_back(byte);
  } while (size != 0);
  out.insert(out.end(), field.begin(), field.end());
}

ByteView bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

class FieldReader {
 public:
  explicit FieldReader(ByteView data) : data_(data) {}
  bool at_end() const { return offset_ == data_.size(); }
  std::optional<ByteView> next() {
    std::uint64_t size = 0;
    for (int shift = 0;; shift += 7) {
      if (offset_ >= data_.size() || shift > 56) return std::nullopt;
      const std::uint8_t byte = data_[offset_++];
      size |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    if (size > kMaxFieldBytes || size > data_.size() - offset_) return std::nullopt;
    ByteView field = data_.subspan(offset_, size);
    offset_ += size;
    return field;
  }

 private:
  ByteView data_;
  std::size_t offset_ = 0;
};

}  // namespace

Bytes encode_commitment_parts(std::span<const CommitmentPart> parts) {
  Bytes out;
  out.push_back(kPartsFormat);
  for (const auto& part : parts) {
    put_field(out, part.salt);
    put_field(out, bytes_of(part.metadata));
    put_field(out, part.tracing_request ? ByteView(part.tracing_request->bytes) : ByteView());
    put_field(out, bytes_of(part.requested_country.str()));
    put_field(out, bytes_of(part.fact));
  }
  return out;
}

std::optional<std::vector<CommitmentPart>> decode_commitment_parts(ByteView encoded) {
  if (encoded.empty() || encoded[0] != kPartsFormat) return std::nullopt;
  FieldReader reader(encoded.subspan(1));
  std::vector<CommitmentPart> parts;
  while (!reader.at_end()) {
    std::array<std::optional<ByteView>, 5> fields;
    for (auto& field : fields) {
      field = reader.next();
      if (!field) return std::nullopt;
    }
    CommitmentPart part;
    part.salt.assign(fields[0]->begin(), fields[0]->end());
    part.metadata.assign(fields[1]->begin(), fields[1]->end());
    if (!fields[2]->empty()) {
      part.tracing_request = MessageId::from_bytes(*fields[2]);
      if (!part.tracing_request) return std::nullopt;
    }
    part.requested_country = CountryCode(std::string(fields[3]->begin(), fields[3]->end()));
    part.fact.assign(fields[4]->begin(), fields[4]->end());
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace fpx::broker::sqlite
