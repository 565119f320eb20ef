#include "feed_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>

#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <kj/exception.h>

#include "local_store.hpp"
#include "render.hpp"

namespace fpx::cli {

namespace {

// Records are small JSON objects; deeper nesting is not something the broker
// writes, and the parser must not recurse without bound on a local file.
constexpr std::size_t kJsonNesting = 16;

std::string number_text(double number) {
  if (std::isfinite(number) && std::floor(number) == number && std::fabs(number) < 9007199254740992.0) {
    return std::to_string(static_cast<std::int64_t>(number));
  }
  return std::to_string(number);
}

}  // namespace

Result<std::vector<JsonField>> json_object_fields(std::string_view json) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<capnp::JsonValue>();
  try {
    capnp::JsonCodec codec;
    codec.setMaxNestingDepth(kJsonNesting);
    codec.decodeRaw(kj::arrayPtr(json.data(), json.size()), root);
  } catch (const kj::Exception& exception) {
    return make_error(ErrorCode::malformed, std::string("not JSON: ") + exception.getDescription().cStr());
  }
  if (!root.isObject()) return make_error(ErrorCode::malformed, "not a JSON object");
  std::vector<JsonField> fields;
  for (auto field : root.asReader().getObject()) {
    JsonField out;
    out.name = field.getName().cStr();
    auto value = field.getValue();
    switch (value.which()) {
      case capnp::JsonValue::STRING:
        out.is_string = true;
        out.text = value.getString().cStr();
        out.display = out.text;
        break;
      case capnp::JsonValue::NUMBER:
        out.is_number = true;
        out.number = value.getNumber();
        out.display = number_text(out.number);
        break;
      // Appended, not assigned from "literal" + std::string: g++ 12 -O2 warns
      // falsely (-Wrestrict) on those.
      case capnp::JsonValue::BOOLEAN: out.display.append(value.getBoolean() ? "true" : "false"); break;
      case capnp::JsonValue::NULL_: out.display.append("null"); break;
      case capnp::JsonValue::ARRAY:
        out.display.append("[").append(std::to_string(value.getArray().size())).append(" items]");
        break;
      case capnp::JsonValue::OBJECT: out.display.append("{...}"); break;
      default: out.display.append("?"); break;
    }
    fields.push_back(std::move(out));
  }
  return fields;
}

const JsonField* find_field(const std::vector<JsonField>& fields, std::string_view name) {
  for (const auto& field : fields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

Result<std::uint64_t> FeedStore::next_sequence() const {
  std::error_code error;
  if (!std::filesystem::exists(cursor_file(), error)) return std::uint64_t{1};
  auto bytes = read_whole_file(cursor_file());
  if (!bytes) return std::move(bytes).take_error();
  std::string text(bytes->begin(), bytes->end());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::uint64_t next = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), next);
  if (status != std::errc() || end != text.data() + text.size() || next == 0) {
    return make_error(ErrorCode::malformed, cursor_file().string() +
                                                " does not hold a sequence number: delete it and run `fpx observe --from 1`");
  }
  return next;
}

Status FeedStore::set_next_sequence(std::uint64_t next) {
  const std::string text = std::to_string(next) + "\n";
  return write_file_atomically(cursor_file(), as_bytes(text));
}

Status FeedStore::append(const std::vector<client::FeedRecord>& records, std::int64_t fetched_at_ms) {
  if (records.empty()) return {};
  std::string lines;
  for (const auto& record : records) {
    lines.append(JsonObject()
                     .unsigned_number("sequence", record.sequence)
                     .text("kind", record.kind)
                     .text("signedRecord", record.signed_record)
                     .text("signature", to_hex(record.signature))
                     .unsigned_number("fetchedAtMs", static_cast<std::uint64_t>(std::max<std::int64_t>(fetched_at_ms, 0)))
                     .str());
    lines.push_back('\n');
  }
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error) return make_error(ErrorCode::io_error, "cannot create " + dir_.string() + ": " + error.message());
  const auto path = records_file().string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::io_error, "cannot write " + path + ": check the folder's permissions");
  std::size_t written = 0;
  while (written < lines.size()) {
    const auto n = ::write(fd, lines.data() + written, lines.size() - written);
    if (n <= 0) {
      ::close(fd);
      return make_error(ErrorCode::io_error, "appending to " + path + " failed: is the disk full?");
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return make_error(ErrorCode::io_error, "cannot flush " + path + " to disk");
  return {};
}

Result<std::vector<FeedStore::SavedRecord>> FeedStore::saved_records() const {
  std::vector<SavedRecord> records;
  std::ifstream in(records_file());
  if (!in) return records;  // nothing observed yet
  std::map<std::uint64_t, std::size_t> by_sequence;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const std::string where = records_file().string() + " line " + std::to_string(number);
    auto fields = json_object_fields(line);
    if (!fields) return make_error(ErrorCode::malformed, where + ": " + fields.error().message);
    const auto* sequence = find_field(*fields, "sequence");
    const auto* kind = find_field(*fields, "kind");
    const auto* signed_record = find_field(*fields, "signedRecord");
    const auto* signature = find_field(*fields, "signature");
    std::optional<Bytes> signature_bytes;
    if (signature != nullptr && signature->is_string) signature_bytes = from_hex(signature->text);
    if (sequence == nullptr || !sequence->is_number || sequence->number < 1 || kind == nullptr || !kind->is_string ||
        signed_record == nullptr || !signed_record->is_string || !signature_bytes) {
      return make_error(ErrorCode::malformed, where + " is not a saved feed record (sequence, kind, signedRecord, signature)");
    }
    // Lines saved before fetch times were kept have none: 0, fetched long ago.
    const auto* fetched_at = find_field(*fields, "fetchedAtMs");
    const std::int64_t fetched_at_ms =
        fetched_at != nullptr && fetched_at->is_number && fetched_at->number >= 0 ? static_cast<std::int64_t>(fetched_at->number) : 0;
    SavedRecord record{number, static_cast<std::uint64_t>(sequence->number), kind->text, signed_record->text,
                       std::move(*signature_bytes), fetched_at_ms};
    if (auto seen = by_sequence.find(record.sequence); seen != by_sequence.end()) {
      const SavedRecord& first = records[seen->second];
      if (first.signed_record != record.signed_record || first.kind != record.kind) {
        return make_error(ErrorCode::malformed, where + " holds record " + std::to_string(record.sequence) +
                                                    " again, with other content than line " +
                                                    std::to_string(first.line));
      }
      continue;
    }
    by_sequence.emplace(record.sequence, records.size());
    records.push_back(std::move(record));
  }
  return records;
}

Result<std::optional<std::string>> FeedStore::saved_checkpoint() const {
  std::error_code error;
  if (!std::filesystem::exists(checkpoint_file(), error)) return std::optional<std::string>{};
  auto bytes = read_whole_file(checkpoint_file());
  if (!bytes) return std::move(bytes).take_error();
  return std::optional<std::string>(std::string(bytes->begin(), bytes->end()));
}

Status FeedStore::save_checkpoint(const std::string& note) { return write_file_atomically(checkpoint_file(), as_bytes(note)); }

}  // namespace fpx::cli
