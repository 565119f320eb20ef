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

}  // namespace fpx::broker
