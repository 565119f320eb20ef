#include <algorithm>
#include <ctime>

#include "fpx/broker/stages.hpp"

namespace fpx::broker {

Result<InsertedMessage> persist(const StageContext& context, const OpenedEnvelope& opened, ByteView envelope,
                                const Sha256Digest& signed_sha256, const std::vector<ParticipantId>& recipients) {
  auto header = opened.message.header();
  NewMessage message;
  message.id = opened.message_id;
  message.signed_sha256 = signed_sha256;
  message.envelope.assign(envelope.begin(), envelope.end());
  message.sender = opened.signer.participant.id;
  message.sender_country = opened.signer.participant.country;
  message.type = std::string(message_type_name(opened.type));
  message.created_at_ms = opened.created_at_ms;
  message.in_reply_to = MessageId::from_bytes(ByteView(header.getInReplyTo().begin(), header.getInReplyTo().size()));
  message.recipients = recipients;
  message.officer = opened.signer.participant.officer;
  // Only the broker's own identity holds the broker role: its notices.
  message.origin =
      opened.signer.participant.role == Role::broker ? MessageOrigin::broker_notice : MessageOrigin::submission;
  // Tracing requests live until closed; the rest until the configured hold.
  const auto& timing = context.config.timing;
  message.hold_until_ms = context.now_ms + (opened.type == wire::MessageType::TRACING_REQUEST
                                                ? timing.tracing_request_hold_ms
                                                : timing.hold_ms);
  if (opened.type == wire::MessageType::ALERT && opened.message.body().getAlert().getValidUntil().getYear() != 0) {
    // An alert lives until its validity ends.
    auto until = opened.message.body().getAlert().getValidUntil();
    std::tm parts{};
    parts.tm_year = until.getYear() - 1900;
    parts.tm_mon = until.getMonth() - 1;
    parts.tm_mday = until.getDay() + 1;
    message.hold_until_ms = std::max(context.now_ms, static_cast<std::int64_t>(timegm(&parts)) * 1000);
  }
  auto commitment = log_leaf_commitment(context, opened, recipients);
  if (!commitment) return std::move(commitment).take_error();
  message.log_leaf_data = std::move(commitment->leaf_data);
  message.log_parts = std::move(commitment->parts);
  return context.store.insert_message(message, context.now_ms);
}

}  // namespace fpx::broker
