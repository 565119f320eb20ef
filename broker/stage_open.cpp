#include <kj/exception.h>

#include "fpx/broker/stages.hpp"

namespace fpx::broker {

std::optional<MessageId> claimed_message_id(ByteView envelope) {
  // The frame's own reader limits apply (AlignedMessage): a hostile
  // envelope costs a bounded decode, never a signature check.
  try {
    auto outer = AlignedMessage::open(envelope, Framing::flat, "envelope");
    if (!outer) return std::nullopt;
    auto header_bytes = outer->root<wire::Envelope>().getHeader();
    auto header = AlignedMessage::open(ByteView(header_bytes.begin(), header_bytes.size()), Framing::single_segment,
                                       "envelope header");
    if (!header) return std::nullopt;
    auto id = header->root<wire::Header>().getMessageId();
    return MessageId::from_bytes(ByteView(id.begin(), id.size()));
  } catch (const kj::Exception&) {
    return std::nullopt;
  }
}

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
