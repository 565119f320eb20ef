#include "fpx/broker/stages.hpp"

namespace fpx::broker {

Result<const EnrolledParticipant*> identify(const std::string& user_id, const Enrollment& enrollment) {
  const EnrolledParticipant* participant = enrollment.by_id(ParticipantId(user_id));
  if (participant == nullptr) {
    // ZAP admitted this session, but a reload (SIGHUP) has since withdrawn
    // the enrolment, typically a revocation: refuse the live session too.
    return make_error(ErrorCode::revoked, "participant " + user_id +
                                              " is no longer enrolled at this broker (certificate revoked or "
                                              "withdrawn); ask the exchange's operator");
  }
  return participant;
}

Status identify_signer(const Enrollment& enrollment, const EnrolledParticipant& principal,
                       const VerifiedSigner& signer) {
  // A certificate that chains to the root is not enough: a national CA's
  // key holder could mint one in the participant's name with another role
  // (issue 11). Only a certificate enrolled for the principal may sign.
  auto signing_key = signer.leaf ? signer.leaf->ed25519_public_key() : std::nullopt;
  if (!signing_key) {
    return make_error(ErrorCode::bad_key,
                      "the signing certificate holds no Ed25519 key: sign with the certificate "
                      "enrolled for you");
  }
  return enrollment.check_signer(principal.id, signer.participant, *signing_key);
}

}  // namespace fpx::broker
