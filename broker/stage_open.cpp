#include "fpx/broker/stages.hpp"

namespace fpx::broker {

Result<OpenedEnvelope> open_submitted(const VerifyContext& context, const EnrolledParticipant& principal,
                                      ByteView envelope) {
  // The broker always checks revocation: without CRLs it refuses (fail-closed).
  auto opened = context.opener.open(envelope, OpenOptions{context.now_ms, RevocationCheck::required});
  if (!opened) return std::move(opened).take_error();
  // A message signed by another participant is authorize's to refuse (replay
  // when it was accepted already, signer_mismatch otherwise); one signed in
  // the principal's name must be signed by a certificate enrolled for it.
  if (opened->signer.participant.id == principal.id) {
    if (auto enrolled = identify_signer(context.enrollment, principal, opened->signer); !enrolled) {
      return std::move(enrolled).take_error();
    }
  }
  return opened;
}

}  // namespace fpx::broker
