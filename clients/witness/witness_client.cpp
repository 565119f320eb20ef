// The log's side of tlog-witness add-checkpoint, over cpp-httplib.
#include "fpx/witness_client.hpp"

#include <httplib.h>

#include "fpx/witness_protocol.hpp"

namespace fpx::witness {

namespace {

// A witness's answer is a few signature lines or a size: more than this is
// not a witness, and we stop reading.
constexpr std::size_t kMaxWitnessAnswerBytes = 16 * 1024;

struct HttpAnswer {
  int status = 0;
  std::string content_type;
  std::string body;
};

Result<HttpAnswer> post(const WitnessEndpoint& witness, const std::string& body, std::chrono::milliseconds timeout) {
  // Split "http://host:port/prefix" into scheme-host-port and prefix.
  const auto scheme_end = witness.url.find("://");
  const auto path_start = witness.url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  const std::string origin = witness.url.substr(0, path_start);
  std::string prefix = path_start == std::string::npos ? std::string() : witness.url.substr(path_start);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  httplib::Client client(origin);
  if (!client.is_valid()) {
    return make_error(ErrorCode::invalid_argument, "witness " + witness.key.name + ": the address " + witness.url +
                                                       " is not http://HOST:PORT[/PREFIX]");
  }
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_keep_alive(false);
  httplib::Request request;
  request.method = "POST";
  request.path = prefix + "/add-checkpoint";
  request.body = body;
  request.set_header("Content-Type", "text/plain; charset=utf-8");
  HttpAnswer answer;
  bool too_long = false;
  request.content_receiver = [&](const char* data, std::size_t length, std::uint64_t, std::uint64_t) {
    if (answer.body.size() + length > kMaxWitnessAnswerBytes) {
      too_long = true;
      return false;
    }
    answer.body.append(data, length);
    return true;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  if (!client.send(request, response, error)) {
    if (too_long) {
      return make_error(ErrorCode::too_large, "witness " + witness.key.name + " answered more than " +
                                                  std::to_string(kMaxWitnessAnswerBytes) + " bytes");
    }
    return make_error(ErrorCode::unavailable, "witness " + witness.key.name + " at " + witness.url +
                                                  " did not answer: " + httplib::to_string(error));
  }
  answer.status = response.status;
  answer.content_type = response.get_header_value("Content-Type");
  return answer;
}

std::optional<std::uint64_t> parse_size_body(const std::string& body) {
  if (body.empty() || body.back() != '\n' || body.size() > 21) return std::nullopt;
  const auto digits = std::string_view(body).substr(0, body.size() - 1);
  if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    if (value > (UINT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

std::string first_line(const std::string& body) {
  return body.substr(0, std::min<std::size_t>(body.find('\n'), 300));
}

}  // namespace

Result<CosignResult> request_cosignature(const WitnessEndpoint& witness, std::string_view checkpoint_note,
                                         const ConsistencyProofSource& proofs, const CosignRequestOptions& options) {
  auto note = parse_signed_note(checkpoint_note);
  if (!note) return std::move(note).take_error();
  // The size line of the checkpoint (second line of the text).
  const auto first_end = note->text.find('\n');
  const auto second_end = note->text.find('\n', first_end + 1);
  const auto parsed_size = parse_size_body(note->text.substr(first_end + 1, second_end - first_end));
  if (first_end == std::string::npos || second_end == std::string::npos || !parsed_size) {
    return make_error(ErrorCode::malformed, "the checkpoint's second line is not a tree size");
  }
  const std::uint64_t new_size = *parsed_size;

  std::uint64_t old_size = options.old_size;
  const std::string who = "witness " + witness.key.name;
  for (int attempt = 0; attempt < 2; ++attempt) {
    AddCheckpointRequest request;
    request.old_size = old_size;
    request.checkpoint = std::string(checkpoint_note);
    if (old_size > new_size) {
      return make_error(ErrorCode::replay, who + " holds tree size " + std::to_string(old_size) +
                                               ", above this checkpoint's " + std::to_string(new_size) +
                                               ": it has seen a larger tree of this log");
    }
    if (old_size != 0 && old_size != new_size) {
      auto proof = proofs(old_size, new_size);
      if (!proof) return std::move(proof).take_error();
      request.proof = std::move(*proof);
    }
    auto answer = post(witness, format_add_checkpoint(request), options.timeout);
    if (!answer) return std::move(answer).take_error();
    switch (answer->status) {
      case 200: {
        auto lines = parse_note_signature_lines(answer->body);
        if (!lines) return make_error(ErrorCode::malformed, who + " answered 200 without signature lines");
        CosignResult result;
        result.witness_size = new_size;
        for (const auto& line : *lines) {
          if (verify_cosignature(note->text, line, witness.key)) result.cosignatures.push_back(line);
        }
        if (result.cosignatures.empty()) {
          return make_error(ErrorCode::bad_signature, who +
                                                          " answered without a valid cosignature by its key; "
                                                          "check the witness key configured for it");
        }
        return result;
      }
      case 409: {
        const auto size = parse_size_body(answer->body);
        if (!size) return make_error(ErrorCode::malformed, who + " answered 409 without its tree size");
        if (*size == old_size || *size >= new_size) {
          // Same size with another root, or a larger tree than ours: the
          // witness holds a history this checkpoint does not extend.
          return make_error(ErrorCode::replay, who + " refused: it holds tree size " + std::to_string(*size) +
                                                   " of this log with a history this checkpoint does not extend");
        }
        old_size = *size;
        continue;
      }
      case 404: return make_error(ErrorCode::not_found, who + " does not follow this log: " + first_line(answer->body));
      case 403:
        return make_error(ErrorCode::bad_signature,
                          who + " found no valid log signature (check the log key it is configured with): " +
                              first_line(answer->body));
      case 422:
        return make_error(ErrorCode::invalid_argument,
                          who + " refused the consistency proof: " + first_line(answer->body));
      case 400:
      case 413: return make_error(ErrorCode::malformed, who + " refused the request: " + first_line(answer->body));
      default:
        return make_error(ErrorCode::unavailable,
                          who + " answered HTTP " + std::to_string(answer->status) + ": " + first_line(answer->body));
    }
  }
  return make_error(ErrorCode::unavailable, who + " kept changing its tree size; try again at the next checkpoint");
}

}  // namespace fpx::witness
