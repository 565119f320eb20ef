#include "fpx/broker/stages.hpp"
#include "fpx/validate.hpp"

namespace fpx::broker {

Status validate_submitted(const VerifyContext& context, const OpenedEnvelope& opened) {
  // A created-at too far ahead is the dedupe stage's to refuse, as
  // stale_timestamp with this broker's configured skew.
  auto problems = validate_message(opened.message.header(), opened.message.body(),
                                   ValidationContext{context.now_ms, FutureTimestamps::judged_by_caller});
  if (problems.empty()) return {};
  Error error = make_error(ErrorCode::schema_violation,
                           std::to_string(problems.size()) + " rule(s) broken: fix the fields listed and resend");
  error.field_errors = std::move(problems);
  return error;
}

}  // namespace fpx::broker
