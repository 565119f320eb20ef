// ZAP (ZeroMQ RFC 27): the CURVE handshake asks here whether a client key
// belongs to an enrolled, unrevoked participant. The answer's User-Id is
// the participant id every later message is attributed to; its metadata
// property kCertificateProperty names which of the participant's
// certificates (its own or an officer's, by CURVE key) holds the
// connection, so that each officer has a session of its own.
#include <cstring>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "zap_gate.hpp"

#include "fpx/broker/stages.hpp"

namespace fpx::broker {

namespace {
constexpr std::int64_t kRefusalAuditEveryMs = 60'000;  // per key: a handshake flood cannot flood the audit table
constexpr std::size_t kRefusalMemory = 4096;
constexpr std::int64_t kHandshakeReportEveryMs = 1'000;

// ZAP reply metadata (ZMTP 3 property list): name length (1 byte), name,
// value length (4 bytes, network order), value.
std::string zap_metadata(std::string_view name, std::string_view value) {
  std::string out;
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  const auto size = static_cast<std::uint32_t>(value.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  out.append(value);
  return out;
}
}  // namespace

void ZapGate::answer_requests(zmq::socket_t& zap) {
  for (;;) {
    std::vector<zmq::message_t> request;
    try {
      if (!zmq::recv_multipart(zap, std::back_inserter(request), zmq::recv_flags::dontwait)) return;
    } catch (const zmq::error_t& error) {
      spdlog::error("ZAP receive: {}", error.what());
      return;
    }
    // Frames: version, request id, domain, address, identity, mechanism, credentials.
    std::string request_id = request.size() > 1 ? request[1].to_string() : "";
    std::string status = "400";
    std::string status_text = "unknown CURVE key: this participant is not enrolled";
    std::string user_id;
    std::string metadata;
    if (request.size() >= 7 && request[0].to_string() == "1.0" && request[5].to_string() == "CURVE" &&
        request[6].size() == 32) {
      CurvePublicKey key{};
      std::memcpy(key.data(), request[6].data(), key.size());
      const EnrolledParticipant* participant = enrollment_.by_curve_key(key);
      // The observers endpoint admits observers only.
      if (participant != nullptr && request[2].to_string() == kObserversZapDomain &&
          participant->role != Role::observer) {
        participant = nullptr;
      }
      if (participant != nullptr) {
        status = "200";
        status_text = "OK";
        user_id = participant->id.str();
        metadata = zap_metadata(kCertificateProperty, z85_encode(key));
      } else {
        ++counters_.zap_refused;
        const std::string key_text = z85_encode(key);
        const std::string address = request[3].to_string();
        std::int64_t now = clock_.read();
        auto& last = refusal_audited_[key_text];
        // Per key, and at most one row a second overall: keys are the
        // client's to choose, so a per-key limit alone bounds nothing.
        if ((last == 0 || now - last >= kRefusalAuditEveryMs) && now - last_refusal_audit_ms_ >= 1000) {
          last = now;
          last_refusal_audit_ms_ = now;
          spdlog::warn("ZAP: refused unknown CURVE key {} from {}", key_text, address);
          pending_.audit(audit_entry(now, "", std::nullopt, "zap", ErrorCode::unauthorized,
                                               "unknown CURVE key " + key_text + " from " + address));
        }
        if (refusal_audited_.size() > kRefusalMemory) refusal_audited_.clear();
      }
    } else {
      status = "500";
      status_text = "malformed ZAP request";
    }
    std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"),   zmq::buffer(request_id), zmq::buffer(status),
                                              zmq::buffer(status_text), zmq::buffer(user_id),    zmq::buffer(metadata)};
    try {
      zmq::send_multipart(zap, reply);
    } catch (const zmq::error_t& error) {
      spdlog::error("ZAP reply: {}", error.what());
    }
  }
}

void ZapGate::count_handshake_failures(zmq::socket_t& events) {
  for (;;) {
    std::vector<zmq::message_t> event;
    try {
      if (!zmq::recv_multipart(events, std::back_inserter(event), zmq::recv_flags::dontwait)) break;
    } catch (const zmq::error_t&) {
      break;
    }
    ++counters_.handshake_failures;
    ++handshake_failures_unreported_;
  }
}

void ZapGate::report_handshake_failures() {
  // Every failure is counted, but reported at most once a second as one log
  // line and one audit row: a handshake flood must not become a log or
  // audit flood. The audit row is what an operator (or a test) can count.
  std::int64_t now = clock_.read();
  if (handshake_failures_unreported_ == 0 || now - last_handshake_report_ms_ < kHandshakeReportEveryMs) return;
  std::string detail = std::to_string(handshake_failures_unreported_);
  detail.append(" CURVE handshake(s) failed (unknown client key, wrong broker key, or not finished in time); ")
      .append(std::to_string(counters_.handshake_failures))
      .append(" since start");
  spdlog::warn("{}", detail);
  pending_.audit(audit_entry(now, "", std::nullopt, "handshake", ErrorCode::unauthorized, detail));
  handshake_failures_unreported_ = 0;
  last_handshake_report_ms_ = now;
}

}  // namespace fpx::broker
