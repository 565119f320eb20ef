#include "fpx/process_statistics.hpp"

#include <algorithm>

namespace fpx::stats {

Sha256Digest commitment_part_hash(ByteView salt, std::string_view metadata) {
  return sha256(concat({salt, ByteView(reinterpret_cast<const std::uint8_t*>(metadata.data()), metadata.size())}));
}

Bytes leaf_data_of_parts(std::span<const Sha256Digest> part_hashes) {
  if (part_hashes.size() == 1) return Bytes(part_hashes[0].begin(), part_hashes[0].end());
  // Sized once and filled in place: g++ 12 -O2 warns falsely on insert() after construction.
  Bytes input(kLeafPartsLabel.size() + part_hashes.size() * sizeof(Sha256Digest));
  auto out = std::copy(kLeafPartsLabel.begin(), kLeafPartsLabel.end(), input.begin());
  for (const auto& part : part_hashes) out = std::copy(part.begin(), part.end(), out);
  Sha256Digest digest = sha256(input);
  return Bytes(digest.begin(), digest.end());
}

}  // namespace fpx::stats
