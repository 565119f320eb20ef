#include "fpx/broker/stages.hpp"

namespace fpx::broker {

Result<OpenedEnvelope> open_submitted(const StageContext& context, ByteView envelope) {
  // The broker always checks revocation: without CRLs it refuses (fail-closed).
  return context.opener.open(envelope, OpenOptions{context.now_ms, RevocationCheck::required});
}

}  // namespace fpx::broker
