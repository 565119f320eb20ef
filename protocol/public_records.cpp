// The feed's public records: the one place their field names are written
// (encode) and read (decode). docs/PROTOCOL.md §11 "The feed".
#include "fpx/public_records.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "fpx/warning_statistics.hpp"

namespace fpx::records {

namespace {

using nlohmann::json;

struct KindName {
  RecordKind kind;
  std::string_view name;
};

constexpr KindName kKindNames[] = {
    {RecordKind::checkpoint, "checkpoint"},
    {RecordKind::cosigned_checkpoint, "cosigned-checkpoint"},
    {RecordKind::campaign_report, "campaign-report"},
    {RecordKind::public_alert, "public-alert"},
    {RecordKind::public_alert_status, "public-alert-status"},
    {RecordKind::figures_statement, "figures-statement"},
    {RecordKind::statistics, "statistics"},
};

// ---- encoding ---------------------------------------------------------------

void put_message(json& out, const MessageLeaf& message) {
  out["messageLogIndex"] = message.log_index;
  out["messageLeafHash"] = to_hex(message.leaf_hash);
}

// A campaign report or public alert: bound (its own leaf, naming its
// message's) or, as brokers before issue 13 wrote it, its message's leaf only.
template <typename Record>
void put_leaves(json& out, const Record& record) {
  if (record.unbound) {
    out["logIndex"] = record.unbound->log_index;
    out["leafHash"] = to_hex(record.unbound->leaf_hash);
    return;
  }
  out["logIndex"] = record.log_index;
  if (record.message) put_message(out, *record.message);
}

json to_json_value(const CheckpointRecord& record) {
  return {{"treeSize", record.tree_size}, {"rootHash", to_hex(record.root_hash)}, {"note", record.note}};
}

json to_json_value(const CosignedCheckpointRecord& record) {
  return {{"treeSize", record.tree_size},
          {"rootHash", to_hex(record.root_hash)},
          {"note", record.note},
          {"witnesses", record.witnesses}};
}

json to_json_value(const CampaignReportRecord& record) {
  json out{{"country", record.country},
           {"commission", record.commission},
           {"regions", record.regions},
           {"periodStart", record.period_start},
           {"periodEnd", record.period_end},
           {"weaponsCollected", record.weapons_collected},
           {"weaponsDestroyed", record.weapons_destroyed},
           {"communityPartners", record.community_partners}};
  put_leaves(out, record);
  return out;
}

json to_json_value(const PublicAlertRecord& record) {
  json out{{"alertKind", record.alert_kind},
           {"issuingCountry", record.issuing_country},
           {"region", record.region},
           {"month", record.month}};
  if (record.valid_until) out["validUntil"] = *record.valid_until;
  if (record.public_summary) out["publicSummary"] = *record.public_summary;
  put_leaves(out, record);
  return out;
}

json to_json_value(const PublicAlertStatusRecord& record) {
  json out{{"status", record.status},
           {"alertMessageLogIndex", record.alert_message_log_index},
           {"issuingCountry", record.issuing_country},
           {"day", record.day},
           {"publicSummary", record.public_summary},
           {"logIndex", record.log_index}};
  put_message(out, record.message);
  return out;
}

json to_json_value(const FiguresStatementRecord& record) {
  json out{{"country", record.country},
           {"period", record.period},
           {"periodStart", record.period_start},
           {"statisticsSequence", record.statistics_sequence},
           {"text", record.text},
           {"logIndex", record.log_index}};
  put_message(out, record.message);
  return out;
}

json to_json_value(const StatisticsRecord& record) {
  json clocks{{"urgentAcknowledge", record.clocks_hours.urgent_acknowledge},
              {"urgentRespond", record.clocks_hours.urgent_respond},
              {"routineAcknowledge", record.clocks_hours.routine_acknowledge},
              {"routineRespond", record.clocks_hours.routine_respond}};
  if (record.clocks_hours.warning_acknowledge) clocks["warningAcknowledge"] = *record.clocks_hours.warning_acknowledge;
  json out{{"period", record.period},
           {"periodStart", record.period_start},
           {"periodEnd", record.period_end},
           {"final", record.final},
           {"asOf", record.as_of},
           {"method", record.method},
           {"threshold", record.threshold},
           {"protectionRange", record.protection_range},
           {"bandHours", {{"answeredWithin30Days", record.answered_band_hours}}},
           {"clocksHours", std::move(clocks)},
           {"logIndex", record.log_index}};
  if (record.counted_at_ms) out["countedAtMs"] = *record.counted_at_ms;
  if (record.grid) {
    out["grid"] = *record.grid;
    out["periods"] = json::array();
    for (const auto& linked : record.periods) {
      out["periods"].push_back({{"periodStart", linked.period_start}, {"sequence", linked.sequence}});
    }
  }
  disclosure::write_tables(out, record.tables);
  disclosure::write_warning_tables(out, record.warnings);
  return out;
}

// ---- decoding ---------------------------------------------------------------

// Reads the fields of one JSON object, keeping the first error (which names
// the field) and which keys were read, so the rest can be reported unknown.
class FieldReader {
 public:
  FieldReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  const std::optional<Error>& error() const { return error_; }
  bool has(const char* name) const { return object_.contains(name); }

  std::uint64_t whole(const char* name) {
    const json* value = find(name);
    if (value == nullptr) return 0;
    if (!value->is_number_unsigned()) return fail(name, "is not a whole number"), 0;
    return value->get<std::uint64_t>();
  }

  std::int64_t integer(const char* name) {
    const json* value = find(name);
    if (value == nullptr) return 0;
    if (value->is_number_unsigned()) {
      if (value->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return fail(name, "is out of range"), 0;
      }
      return static_cast<std::int64_t>(value->get<std::uint64_t>());
    }
    if (!value->is_number_integer()) return fail(name, "is not an integer"), 0;
    return value->get<std::int64_t>();
  }

  double number(const char* name) {
    const json* value = find(name);
    if (value == nullptr) return 0;
    if (!value->is_number()) return fail(name, "is not a number"), 0;
    return value->get<double>();
  }

  bool boolean(const char* name) {
    const json* value = find(name);
    if (value == nullptr) return false;
    if (!value->is_boolean()) return fail(name, "is not true or false"), false;
    return value->get<bool>();
  }

  std::string text(const char* name, std::size_t limit = kMaxRecordTextBytes) {
    const json* value = find(name);
    if (value == nullptr) return {};
    return text_of(*value, name, limit);
  }

  Sha256Digest digest(const char* name) {
    const json* value = find(name);
    Sha256Digest digest{};
    if (value == nullptr) return digest;
    if (!value->is_string()) return fail(name, "is not 64 hex digits"), digest;
    auto bytes = from_hex(value->get_ref<const std::string&>());
    if (!bytes || bytes->size() != digest.size()) return fail(name, "is not 64 hex digits"), digest;
    std::copy(bytes->begin(), bytes->end(), digest.begin());
    return digest;
  }

  std::vector<std::string> texts(const char* name) {
    const json* value = find(name);
    std::vector<std::string> out;
    if (value == nullptr) return out;
    if (!value->is_array()) return fail(name, "is not a list"), out;
    if (value->size() > kMaxRecordListEntries) {
      return fail(name, "has more than " + std::to_string(kMaxRecordListEntries) + " entries", ErrorCode::too_large),
             out;
    }
    for (const auto& entry : *value) {
      out.push_back(text_of(entry, name, kMaxRecordTextBytes));
      if (error_) return {};
    }
    return out;
  }

  // The object under `name`, read by a reader of its own (its path in errors).
  const json* object(const char* name) {
    const json* value = find(name);
    if (value == nullptr) return nullptr;
    if (!value->is_object()) return fail(name, "is not an object"), nullptr;
    return value;
  }

  const json* list(const char* name) {
    const json* value = find(name);
    if (value == nullptr) return nullptr;
    if (!value->is_array()) return fail(name, "is not a list"), nullptr;
    if (value->size() > kMaxRecordListEntries) {
      return fail(name, "has more than " + std::to_string(kMaxRecordListEntries) + " entries", ErrorCode::too_large),
             nullptr;
    }
    return value;
  }

  // Marks fields read elsewhere (the statistics tables' own reader).
  void take(const char* name) { read_.insert(name); }

  void fail(const std::string& name, const std::string& what, ErrorCode code = ErrorCode::malformed) {
    if (!error_) error_ = make_error(code, where_ + ": field \"" + name + "\" " + what);
  }

  void keep_error(const Error& error) {
    if (!error_) error_ = error;
  }

  // The keys of the object no reader asked for.
  std::vector<std::string> unread() const {
    std::vector<std::string> names;
    for (const auto& item : object_.items()) {
      if (read_.count(item.key()) == 0) names.push_back(item.key());
    }
    return names;
  }

 private:
  const json* find(const char* name) {
    read_.insert(name);
    if (error_) return nullptr;
    auto found = object_.find(name);
    if (found == object_.end()) return fail(name, "is missing"), nullptr;
    return &*found;
  }

  std::string text_of(const json& value, const char* name, std::size_t limit) {
    if (!value.is_string()) return fail(name, "is not a string"), std::string();
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() > limit) {
      return fail(name, "is longer than " + std::to_string(limit) + " bytes", ErrorCode::too_large), std::string();
    }
    return text;
  }

  const json& object_;
  std::string where_;
  std::optional<Error> error_;
  std::set<std::string> read_;
};

MessageLeaf read_message(FieldReader& in) {
  MessageLeaf message;
  message.log_index = in.whole("messageLogIndex");
  message.leaf_hash = in.digest("messageLeafHash");
  return message;
}

// Bound (logIndex, messageLogIndex, messageLeafHash) or, before issue 13,
// unbound (logIndex, leafHash): decided by the presence of "leafHash".
template <typename Record>
void read_leaves(FieldReader& in, Record& record) {
  if (in.has("leafHash")) {
    record.unbound = UnboundLeaf{in.whole("logIndex"), in.digest("leafHash")};
    if (in.has("messageLogIndex") || in.has("messageLeafHash")) {
      in.fail("leafHash", "is given beside \"messageLogIndex\"/\"messageLeafHash\" (a record is bound or not)");
    }
    return;
  }
  record.log_index = in.whole("logIndex");
  record.message = read_message(in);
}

PublicRecord read_checkpoint(FieldReader& in) {
  CheckpointRecord record;
  record.tree_size = in.whole("treeSize");
  record.root_hash = in.digest("rootHash");
  record.note = in.text("note", kMaxRecordNoteBytes);
  return record;
}

PublicRecord read_cosigned_checkpoint(FieldReader& in) {
  CosignedCheckpointRecord record;
  record.tree_size = in.whole("treeSize");
  record.root_hash = in.digest("rootHash");
  record.note = in.text("note", kMaxRecordNoteBytes);
  record.witnesses = in.texts("witnesses");
  return record;
}

PublicRecord read_campaign_report(FieldReader& in) {
  CampaignReportRecord record;
  read_leaves(in, record);
  record.country = in.text("country");
  record.commission = in.text("commission");
  record.regions = in.texts("regions");
  record.period_start = in.text("periodStart");
  record.period_end = in.text("periodEnd");
  record.weapons_collected = in.whole("weaponsCollected");
  record.weapons_destroyed = in.whole("weaponsDestroyed");
  record.community_partners = in.texts("communityPartners");
  return record;
}

PublicRecord read_public_alert(FieldReader& in) {
  PublicAlertRecord record;
  read_leaves(in, record);
  record.alert_kind = in.text("alertKind");
  record.issuing_country = in.text("issuingCountry");
  record.region = in.text("region");
  record.month = in.text("month");
  if (in.has("validUntil")) record.valid_until = in.text("validUntil");
  if (in.has("publicSummary")) record.public_summary = in.text("publicSummary");
  return record;
}

PublicRecord read_public_alert_status(FieldReader& in) {
  PublicAlertStatusRecord record;
  record.log_index = in.whole("logIndex");
  record.message = read_message(in);
  record.status = in.text("status");
  record.alert_message_log_index = in.whole("alertMessageLogIndex");
  record.issuing_country = in.text("issuingCountry");
  record.day = in.text("day");
  record.public_summary = in.text("publicSummary");
  return record;
}

PublicRecord read_figures_statement(FieldReader& in) {
  FiguresStatementRecord record;
  record.log_index = in.whole("logIndex");
  record.message = read_message(in);
  record.country = in.text("country");
  record.period = in.text("period");
  record.period_start = in.text("periodStart");
  record.statistics_sequence = in.whole("statisticsSequence");
  record.text = in.text("text");
  return record;
}

PublicRecord read_statistics(FieldReader& in, std::string_view signed_json, const std::string& where) {
  StatisticsRecord record;
  // The method first: a record of another scheme (the one before issue 12
  // named none) has other fields, and a reader counts it rather than calling
  // it broken (unsupported_version, never malformed).
  if (!in.has("method")) {
    in.fail("method", "is missing: a statistics record of the scheme before issue 12, which this version does not read",
            ErrorCode::unsupported_version);
    return record;
  }
  record.method = in.text("method");
  if (!in.error() && record.method != disclosure::kMethod) {
    in.fail("method", "is not " + std::string(disclosure::kMethod) + ": read it with an fpx of the broker's version",
            ErrorCode::unsupported_version);
  }
  if (in.error()) return record;
  record.log_index = in.whole("logIndex");
  record.period = in.text("period");
  record.period_start = in.text("periodStart");
  record.period_end = in.text("periodEnd");
  record.as_of = in.text("asOf");
  record.final = in.boolean("final");
  record.threshold = in.integer("threshold");
  record.protection_range = in.integer("protectionRange");
  if (const json* band = in.object("bandHours")) {
    FieldReader band_in(*band, where + ": \"bandHours\"");
    record.answered_band_hours = band_in.integer("answeredWithin30Days");
    if (band_in.error()) in.keep_error(*band_in.error());
  }
  if (const json* clocks = in.object("clocksHours")) {
    FieldReader clocks_in(*clocks, where + ": \"clocksHours\"");
    record.clocks_hours.urgent_acknowledge = clocks_in.number("urgentAcknowledge");
    record.clocks_hours.urgent_respond = clocks_in.number("urgentRespond");
    record.clocks_hours.routine_acknowledge = clocks_in.number("routineAcknowledge");
    record.clocks_hours.routine_respond = clocks_in.number("routineRespond");
    if (clocks_in.has("warningAcknowledge")) {
      record.clocks_hours.warning_acknowledge = clocks_in.number("warningAcknowledge");
    }
    if (clocks_in.error()) in.keep_error(*clocks_in.error());
  }
  if (in.has("countedAtMs")) record.counted_at_ms = in.integer("countedAtMs");
  if (in.has("grid") || record.period == "year") {
    record.grid = in.text("grid");
    if (const json* periods = in.list("periods")) {
      for (const auto& linked : *periods) {
        if (!linked.is_object()) {
          in.fail("periods", "holds an entry that is not an object");
          break;
        }
        FieldReader linked_in(linked, where + ": \"periods\"");
        record.periods.push_back({linked_in.text("periodStart"), linked_in.whole("sequence")});
        if (linked_in.error()) {
          in.keep_error(*linked_in.error());
          break;
        }
      }
    }
  }
  // The tables: disclosure_control's and warning_statistics' own readers,
  // each the one reader of its layout.
  // Always written; "total" only when the period has a tracing (a period
  // with early warnings alone has none), "earlyWarnings" only with a warning.
  for (const char* name : {"states", "regions", "measures", "pairs", "byRequester", "byRequested", "byRegion"}) {
    if (!in.has(name)) in.fail(name, "is missing");
    in.take(name);
  }
  in.take("total");
  in.take(std::string(disclosure::kWarningsKey).c_str());
  if (in.error()) return record;
  auto tables = disclosure::tables_of_record(signed_json);
  if (!tables) {
    in.keep_error(make_error(ErrorCode::malformed, where + ": its tables are not in the shape of " +
                                                       std::string(disclosure::kMethod) + ": " +
                                                       tables.error().describe()));
    return record;
  }
  record.tables = std::move(tables).value();
  auto warnings = disclosure::warning_tables_of_record(signed_json);
  if (!warnings) {
    in.fail(std::string(disclosure::kWarningsKey), "is not in its shape: " + warnings.error().describe());
    return record;
  }
  record.warnings = std::move(warnings).value();
  return record;
}

// A parse that refuses a key given twice in one object (JSON readers
// disagree on which one counts: a signed record must mean one thing to
// all) and nesting beyond kMaxRecordNesting, before either is walked.
struct ParseRefusal {
  std::string what;
};

json parse_strict(std::string_view text) {
  std::vector<std::set<std::string>> keys;
  auto check = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (static_cast<std::size_t>(depth) >= kMaxRecordNesting) {
          throw ParseRefusal{"its JSON nests deeper than " + std::to_string(kMaxRecordNesting) + " levels"};
        }
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
          throw ParseRefusal{"its JSON has the key \"" + parsed.get<std::string>() + "\" twice in one object"};
        }
        break;
      default:
        break;
    }
    return true;
  };
  return json::parse(text.begin(), text.end(), check);
}

// A record's signed JSON as one object, parsed strictly and within
// kMaxPublicRecordBytes: what decode_record and record_fields both read.
Result<json> parse_record_object(std::string_view signed_json) {
  if (signed_json.size() > kMaxPublicRecordBytes) {
    return make_error(ErrorCode::too_large, "public record of " + std::to_string(signed_json.size()) +
                                                " bytes refused: at most " + std::to_string(kMaxPublicRecordBytes));
  }
  json root;
  try {
    root = parse_strict(signed_json);
  } catch (const ParseRefusal& refusal) {
    return make_error(ErrorCode::malformed, "public record refused: " + refusal.what);
  } catch (const json::exception& exception) {
    return make_error(ErrorCode::malformed, std::string("public record refused: its text is not JSON: ") +
                                                exception.what());
  }
  if (!root.is_object()) return make_error(ErrorCode::malformed, "public record refused: its JSON is not an object");
  return root;
}

}  // namespace

std::string_view kind_name(RecordKind kind) {
  for (const auto& entry : kKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "unknown";
}

std::optional<RecordKind> kind_from_name(std::string_view name) {
  for (const auto& entry : kKindNames) {
    if (entry.name == name) return entry.kind;
  }
  return std::nullopt;
}

bool is_leaf_kind(RecordKind kind) {
  return kind != RecordKind::checkpoint && kind != RecordKind::cosigned_checkpoint;
}

RecordKind kind_of(const PublicRecord& record) {
  // The variant's alternatives are in RecordKind's order.
  return static_cast<RecordKind>(record.index());
}

std::uint64_t sequence_of(const PublicRecord& record) {
  return std::visit([](const auto& typed) { return typed.sequence; }, record);
}

std::string encode_record(const PublicRecord& record) {
  json out = std::visit([](const auto& typed) { return to_json_value(typed); }, record);
  out["sequence"] = sequence_of(record);
  out["kind"] = std::string(kind_name(kind_of(record)));
  return out.dump();
}

Result<DecodedRecord> decode_record(std::string_view signed_json) {
  auto parsed = parse_record_object(signed_json);
  if (!parsed) return std::move(parsed).take_error();
  const json root = std::move(parsed).value();

  DecodedRecord decoded;
  FieldReader head(root, "feed record");
  decoded.sequence = head.whole("sequence");
  decoded.kind = head.text("kind");
  if (head.error()) return *head.error();
  const std::string where = "feed record " + std::to_string(decoded.sequence) + " (" + decoded.kind + ")";
  FieldReader in(root, where);
  in.take("sequence");
  in.take("kind");
  auto kind = kind_from_name(decoded.kind);
  if (!kind) return decoded;  // a newer broker's kind: the caller reports it
  PublicRecord record;
  switch (*kind) {
    case RecordKind::checkpoint: record = read_checkpoint(in); break;
    case RecordKind::cosigned_checkpoint: record = read_cosigned_checkpoint(in); break;
    case RecordKind::campaign_report: record = read_campaign_report(in); break;
    case RecordKind::public_alert: record = read_public_alert(in); break;
    case RecordKind::public_alert_status: record = read_public_alert_status(in); break;
    case RecordKind::figures_statement: record = read_figures_statement(in); break;
    case RecordKind::statistics: record = read_statistics(in, signed_json, where); break;
  }
  if (in.error()) return *in.error();
  std::visit([&](auto& typed) { typed.sequence = decoded.sequence; }, record);
  decoded.record = std::move(record);
  for (auto& name : in.unread()) {
    if (decoded.unknown_fields.size() == kMaxReportedUnknownFields) {
      decoded.more_unknown_fields = true;
      break;
    }
    decoded.unknown_fields.push_back(std::move(name));
  }
  return decoded;
}

Result<StatisticsRecord> decode_statistics_record(std::string_view signed_json) {
  auto decoded = decode_record(signed_json);
  if (!decoded) return std::move(decoded).take_error();
  auto* statistics = decoded->record ? std::get_if<StatisticsRecord>(&*decoded->record) : nullptr;
  if (statistics == nullptr) {
    return make_error(ErrorCode::malformed, "feed record " + std::to_string(decoded->sequence) + " (" + decoded->kind +
                                                ") is not a statistics record: give a record of kind \"statistics\"");
  }
  return std::move(*statistics);
}

Result<std::vector<RecordField>> record_fields(std::string_view signed_json) {
  auto parsed = parse_record_object(signed_json);
  if (!parsed) return std::move(parsed).take_error();
  const json root = std::move(parsed).value();
  std::vector<RecordField> fields;
  for (const auto& item : root.items()) {
    const json& value = item.value();
    RecordField field{item.key(), {}};
    if (value.is_string()) {
      if (value.get_ref<const std::string&>().size() > kMaxRecordTextBytes) {
        return make_error(ErrorCode::too_large, "public record refused: field \"" + item.key() +
                                                    "\" is longer than " + std::to_string(kMaxRecordTextBytes) +
                                                    " bytes");
      }
      field.display = value.get<std::string>();
    } else if (value.is_array()) {
      field.display = "[" + std::to_string(value.size()) + " items]";
    } else if (value.is_object()) {
      field.display = "{...}";
    } else {
      field.display = value.dump();  // a number, true, false or null
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

Result<RecordHead> decode_record_head(std::string_view signed_json) {
  if (signed_json.size() > kMaxPublicRecordBytes) {
    return make_error(ErrorCode::too_large, "its signed JSON is " + std::to_string(signed_json.size()) +
                                                " bytes, more than " + std::to_string(kMaxPublicRecordBytes));
  }
  json root;
  try {
    root = parse_strict(signed_json);
  } catch (const ParseRefusal& refusal) {
    return make_error(ErrorCode::malformed, refusal.what);
  } catch (const json::exception& exception) {
    return make_error(ErrorCode::malformed, std::string("its signed text is not JSON: ") + exception.what());
  }
  if (!root.is_object()) return make_error(ErrorCode::malformed, "its signed JSON is not an object");
  // Messages as the observer library has always given them ("its ... is not ...").
  std::optional<Error> error;
  auto whole = [&](const char* name) -> std::optional<std::uint64_t> {
    auto found = root.find(name);
    if (found == root.end() || error) return std::nullopt;
    if (!found->is_number_unsigned() || found->get<std::uint64_t>() > kMaxExactWholeNumber) {
      error = make_error(ErrorCode::malformed, std::string("its \"") + name + "\" is not a whole number");
      return std::nullopt;
    }
    return found->get<std::uint64_t>();
  };
  auto digest = [&](const char* name) -> std::optional<Sha256Digest> {
    auto found = root.find(name);
    if (found == root.end() || error) return std::nullopt;
    std::optional<Bytes> bytes;
    if (found->is_string()) bytes = from_hex(found->get_ref<const std::string&>());
    if (!bytes || bytes->size() != Sha256Digest{}.size()) {
      error = make_error(ErrorCode::malformed, std::string("its \"") + name + "\" is not 64 hex digits");
      return std::nullopt;
    }
    Sha256Digest out{};
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return out;
  };
  auto text = [&](const char* name, std::size_t limit) -> std::optional<std::string> {
    auto found = root.find(name);
    if (found == root.end() || error) return std::nullopt;
    if (!found->is_string() || found->get_ref<const std::string&>().size() > limit) {
      error = make_error(ErrorCode::malformed, std::string("its \"") + name + "\" is not a string of at most " +
                                                   std::to_string(limit) + " bytes");
      return std::nullopt;
    }
    return found->get<std::string>();
  };
  RecordHead head;
  auto sequence = whole("sequence");
  auto kind = text("kind", kMaxRecordTextBytes);
  head.log_index = whole("logIndex");
  head.leaf_hash = digest("leafHash");
  head.message_log_index = whole("messageLogIndex");
  head.message_leaf_hash = digest("messageLeafHash");
  head.tree_size = whole("treeSize");
  head.note = text("note", kMaxRecordNoteBytes);
  if (error) return *error;
  if (!sequence) return make_error(ErrorCode::malformed, "its signed JSON has no \"sequence\"");
  if (!kind) return make_error(ErrorCode::malformed, "its signed JSON has no \"kind\"");
  head.sequence = *sequence;
  head.kind = std::move(*kind);
  return head;
}

}  // namespace fpx::records
