#include "fpx/broker/stages.hpp"

namespace fpx::broker {

Sha256Digest signed_content_sha256(const OpenedEnvelope& opened) {
  // The header and body as their canonical bytes: the exact bytes the
  // signature binds, whatever the (unsigned) envelope around them looks like.
  // open() checked both canonical, so they are hashed as received.
  return sha256({opened.message.header_bytes(), opened.message.body_bytes()});
}

Result<DedupeVerdict> dedupe(const StageContext& context, const OpenedEnvelope& opened,
                             const Sha256Digest& signed_sha256) {
  auto known = context.store.find_message(opened.message_id);
  if (!known) return std::move(known).take_error();
  if (known->has_value()) {
    if ((*known)->signed_sha256 != signed_sha256) {
      return make_error(ErrorCode::id_reused, "message id " + opened.message_id.hex() +
                                                  " was used before for other content: every message needs a new "
                                                  "random id");
    }
    // A resend of what we already hold: same receipt, no second delivery.
    return DedupeVerdict{std::move(*known)};
  }
  const auto& timing = context.config.timing;
  if (opened.created_at_ms < context.now_ms - timing.max_message_age_ms) {
    return make_error(ErrorCode::stale_timestamp,
                      "created " + std::to_string((context.now_ms - opened.created_at_ms) / 1000) +
                          " s ago, older than this exchange accepts: create and sign the message again");
  }
  if (opened.created_at_ms > context.now_ms + timing.max_clock_skew_ms) {
    return make_error(ErrorCode::stale_timestamp,
                      "created " + std::to_string((opened.created_at_ms - context.now_ms) / 1000) +
                          " s in the future: check the sending machine's clock");
  }
  return DedupeVerdict{};
}

}  // namespace fpx::broker
