#include "case_files.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <system_error>

#include "fpx/attachments.hpp"
#include "local_store.hpp"

namespace fpx::desk {

namespace {

namespace fs = std::filesystem;

std::int64_t file_time_ms(const fs::path& path) {
  std::error_code error;
  const auto written = fs::last_write_time(path, error);
  if (error) return 0;
  const auto system = std::chrono::file_clock::to_sys(written);
  return std::chrono::duration_cast<std::chrono::milliseconds>(system.time_since_epoch()).count();
}

std::optional<MessageId> id_of(capnp::Data::Reader data) {
  if (data.size() == 0) return std::nullopt;
  return MessageId::from_bytes(ByteView(data.begin(), data.size()));
}

struct Found {
  fs::path path;
  Folder folder;
  std::int64_t time_ms;
};

}  // namespace

bool Case::overdue(std::int64_t now) const {
  if (!owed_by_us || state == CaseState::closed || state == CaseState::withdrawn || answered_by_us) return false;
  if (!acknowledged_by_us && now > acknowledge_due_ms) return true;
  return now > respond_due_ms;
}

Result<CaseFiles> CaseFiles::load(const cli::Profile& profile, const ParticipantInfo& me) {
  auto trust = TrustStore::load(profile.root_ca, {});
  if (!trust) return std::move(trust).take_error();
  CaseFiles files;
  files.trust_ = std::make_unique<TrustStore>(std::move(trust).value());

  std::vector<Found> found;
  for (const auto& [folder, kind] : {std::pair{profile.inbox_dir(), Folder::inbox}, std::pair{profile.sent_dir(), Folder::sent}}) {
    std::error_code error;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
      if (it->path().extension() != cli::kEnvelopeExtension) continue;
      std::error_code size_error;
      const auto size = it->file_size(size_error);
      if (size_error || size > kMaxEnvelopeFileBytes) continue;
      found.push_back({it->path(), kind, file_time_ms(it->path())});
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.time_ms > b.time_ms; });
  if (found.size() > kMaxCaseFiles) found.resize(kMaxCaseFiles);

  EnvelopeOpener opener(*files.trust_);
  OpenOptions options;
  options.revocation = RevocationCheck::skip;  // checked on delivery; a signer revoked since stays readable
  options.attachment_bytes = AttachmentBytes::check_only;  // read again when one is shown (attachment())
  std::map<MessageId, const CaseMessage*> by_id;
  for (const auto& file : found) {
    auto bytes = cli::read_whole_file(file.path);
    if (!bytes) continue;
    auto opened = opener.open(*bytes, options);
    if (!opened) continue;  // a file that no longer verifies is not shown as evidence
    if (by_id.count(opened->message_id)) continue;  // the same message in sent/ and inbox/ (a copy to us)
    auto message = std::make_unique<CaseMessage>(CaseMessage{file.folder, file.time_ms, std::move(opened).value(), {}, {}, file.path});
    const auto header = message->opened.message.header();
    const auto body = message->opened.message.body();
    message->in_reply_to = id_of(header.getInReplyTo());
    switch (body.which()) {
      case wire::Body::REMINDER: message->about_request = id_of(body.getReminder().getRequestMessageId()); break;
      case wire::Body::ESCALATION: message->about_request = id_of(body.getEscalation().getRequestMessageId()); break;
      case wire::Body::HIT_NOTIFICATION:
        message->about_request = id_of(body.getHitNotification().getRequestMessageId());
        break;
      default: break;
    }
    by_id[message->opened.message_id] = message.get();
    files.messages_.push_back(std::move(message));
  }

  std::map<MessageId, std::size_t> case_of;
  for (const auto& message : files.messages_) {
    if (message->opened.type != wire::MessageType::TRACING_REQUEST) continue;
    Case item;
    item.request = message.get();
    item.thread.push_back(message.get());
    const auto header = message->opened.message.header();
    item.urgent = header.getPriority() == wire::Priority::URGENT;
    for (auto state : message->opened.message.body().getTracingRequest().getRequestedStates()) {
      if (me.country.str() == state.getCountry().cStr() && message->folder == Folder::inbox) item.owed_by_us = true;
    }
    const auto start = message->opened.created_at_ms;
    item.acknowledge_due_ms = start + (item.urgent ? kUrgentAcknowledgeMs : kRoutineAcknowledgeMs);
    item.respond_due_ms = start + (item.urgent ? kUrgentRespondMs : kRoutineRespondMs);
    case_of[message->opened.message_id] = files.cases_.size();
    files.cases_.push_back(std::move(item));
  }
  for (const auto& message : files.messages_) {
    if (message->opened.type == wire::MessageType::TRACING_REQUEST) continue;
    const auto& link = message->in_reply_to ? message->in_reply_to : message->about_request;
    if (!link) continue;
    auto it = case_of.find(*link);
    if (it == case_of.end()) continue;
    files.cases_[it->second].thread.push_back(message.get());
  }

  for (auto& item : files.cases_) {
    std::sort(item.thread.begin() + 1, item.thread.end(), [](const CaseMessage* a, const CaseMessage* b) {
      return a->opened.created_at_ms < b->opened.created_at_ms;
    });
    for (const auto* message : item.thread) {
      const bool from_us = message->opened.signer.participant.country == me.country;
      switch (message->opened.type) {
        case wire::MessageType::TRACING_ACKNOWLEDGEMENT:
          if (item.state == CaseState::awaiting_acknowledgement) item.state = CaseState::acknowledged;
          if (from_us) item.acknowledged_by_us = true;
          break;
        case wire::MessageType::TRACING_RESPONSE: {
          const bool final_answer =
              message->opened.message.body().getTracingResponse().getKind() == wire::ResponseKind::FINAL;
          if (item.state != CaseState::closed && item.state != CaseState::withdrawn) {
            item.state = final_answer ? CaseState::answered
                                      : (item.state == CaseState::answered ? item.state : CaseState::interim);
          }
          if (from_us) {
            item.acknowledged_by_us = true;  // an answer acknowledges too, as the broker counts it
            if (final_answer) item.answered_by_us = true;
          }
          break;
        }
        case wire::MessageType::WITHDRAW: item.state = CaseState::withdrawn; break;
        case wire::MessageType::CLOSE: item.state = CaseState::closed; break;
        default: break;
      }
    }
  }

  const auto now = now_ms();
  const auto rank = [now](const Case& item) {
    const bool finished = item.state == CaseState::closed || item.state == CaseState::withdrawn;
    if (finished) return 4;
    if (item.overdue(now)) return 0;
    if (item.owed_by_us && !item.answered_by_us) return item.urgent ? 1 : 2;
    return 3;
  };
  std::stable_sort(files.cases_.begin(), files.cases_.end(), [&](const Case& a, const Case& b) {
    const int ra = rank(a);
    const int rb = rank(b);
    if (ra != rb) return ra < rb;
    if (ra == 4 || ra == 3) return a.request->opened.created_at_ms > b.request->opened.created_at_ms;
    const auto due_a = a.acknowledged_by_us ? a.respond_due_ms : a.acknowledge_due_ms;
    const auto due_b = b.acknowledged_by_us ? b.respond_due_ms : b.acknowledge_due_ms;
    return due_a < due_b;
  });
  return files;
}

const Case* CaseFiles::find(const MessageId& request_id) const {
  for (const auto& item : cases_) {
    if (item.request->opened.message_id == request_id) return &item;
  }
  return nullptr;
}

const CaseMessage* CaseFiles::find_message(const MessageId& id) const {
  for (const auto& message : messages_) {
    if (message->opened.message_id == id) return message.get();
  }
  return nullptr;
}

std::vector<const CaseMessage*> CaseFiles::loose_messages() const {
  std::vector<const CaseMessage*> out;
  for (const auto& message : messages_) {
    if (message->opened.type == wire::MessageType::TRACING_REQUEST) continue;
    bool in_case = false;
    for (const auto& item : cases_) {
      if (std::find(item.thread.begin(), item.thread.end(), message.get()) != item.thread.end()) {
        in_case = true;
        break;
      }
    }
    if (!in_case) out.push_back(message.get());
  }
  std::sort(out.begin(), out.end(), [](const CaseMessage* a, const CaseMessage* b) {
    return a->opened.created_at_ms > b->opened.created_at_ms;
  });
  return out;
}

Result<Bytes> CaseFiles::attachment(const CaseMessage& message, std::size_t number) const {
  const auto entries = attachments_of(message.opened.message.header());
  if (number < 1 || number > entries.size()) {
    return make_error(ErrorCode::not_found, "message " + message.opened.message_id.hex() + " has " +
                                                std::to_string(entries.size()) + " attachment(s); give a number from 1 to " +
                                                std::to_string(entries.size()));
  }
  std::error_code size_error;
  const auto size = std::filesystem::file_size(message.file, size_error);
  if (size_error || size > kMaxEnvelopeFileBytes) {
    return make_error(ErrorCode::not_found, "the saved message " + message.file.string() + " is gone; reload the case");
  }
  auto bytes = cli::read_whole_file(message.file);
  if (!bytes) return std::move(bytes).take_error();
  EnvelopeOpener opener(*trust_);
  OpenOptions options;
  options.revocation = RevocationCheck::skip;  // as load(): checked on delivery
  auto opened = opener.open(*bytes, options);
  if (!opened) return std::move(opened).take_error();
  if (opened->message_id != message.opened.message_id) {
    return make_error(ErrorCode::body_hash_mismatch, "the saved message " + message.file.string() +
                                                         " was replaced by another; reload the case");
  }
  const auto& parts = opened->message.attachments();
  if (parts.size() != entries.size()) {
    return make_error(ErrorCode::body_hash_mismatch, "the saved message changed since the case was read; reload it");
  }
  // open() checked the bytes against its own header; this checks them
  // against the header the case was shown from.
  if (auto checked = verify_attachment_bytes(entries[number - 1], parts[number - 1]); !checked) {
    return std::move(checked).take_error();
  }
  return parts[number - 1];
}

}  // namespace fpx::desk
