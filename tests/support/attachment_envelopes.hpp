// Envelopes with attachments for tests (issue 17): honest ones through
// seal_envelope, and hostile ones a real client would never seal (signed
// entries over the limits, a renamed HTML page, bytes swapped after sealing).
#pragma once

#include <string>
#include <vector>

#include "fpx/envelope.hpp"

namespace fpx::test {

// A real, decodable 1x1 PNG (one orange pixel), padded after its IEND chunk
// with zero bytes up to `size` when that is larger (decoders ignore them),
// so a test can make a genuine PNG of any size.
Bytes make_png(std::size_t size = 0);
// The smallest JPEG-looking bytes: the JPEG magic then filler (the exchange
// checks the magic, not the decoding).
Bytes make_jpeg_like(std::size_t size);

// A tracing request (or the sample of `type`) from `signer` carrying
// `files`, sealed honestly.
Bytes seal_request_with(const Identity& signer, const std::vector<AttachmentFile>& files,
                        wire::MessageType type = wire::MessageType::TRACING_REQUEST);

// One signed header entry, as a hostile sealer may write it.
struct RawAttachment {
  std::string file_name;
  wire::MediaType media_type = wire::MediaType::IMAGE_PNG;
  Bytes signed_bytes;   // the size and SHA-256 in the header are of these
  Bytes carried_bytes;  // what the envelope carries
};
// A tracing request signed by `signer` whose header lists `entries` as
// given, with no client-side check: what the broker must refuse on its own.
Bytes seal_raw_attachments(const Identity& signer, const std::vector<RawAttachment>& entries);

// The envelope with its attachment bytes replaced (the envelope is not
// signed, so anyone on the path could try this).
Bytes replace_attachment_bytes(const Bytes& envelope, const std::vector<Bytes>& carried);

}  // namespace fpx::test
