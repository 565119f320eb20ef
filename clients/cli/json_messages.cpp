#include "json_messages.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <cstring>
#include <sstream>

#include <capnp/compat/json.h>
#include <kj/exception.h>
#include <nlohmann/json.hpp>

#include "fpx/ids.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated where shown.
constexpr const char* N_(const char* english) { return english; }

// "{1}", "{2}" in a translated text replaced by the values (the word order is the translation's).
std::string fill(const text::Catalogue& words, const char* english, const std::vector<std::string>& values) {
  std::string out(words.tr(english));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string marker = "{" + std::to_string(i + 1) + "}";
    for (auto at = out.find(marker); at != std::string::npos; at = out.find(marker, at + values[i].size())) {
      out.replace(at, marker.size(), values[i]);
    }
  }
  return out;
}

constexpr std::size_t kMaxMessageJsonBytes = 16 * 1024 * 1024;

// Message ids and digests as hex strings: "3f0a..." is what people copy
// between `fpx inbox` and `fpx trace ack`, where arrays of 16 numbers are not.
class HexDataHandler final : public capnp::JsonCodec::Handler<capnp::Data> {
 public:
  void encode(const capnp::JsonCodec&, capnp::Data::Reader input, capnp::JsonValue::Builder output) const override {
    output.setString(to_hex(ByteView(input.begin(), input.size())));
  }

  capnp::Orphan<capnp::Data> decode(const capnp::JsonCodec&, capnp::JsonValue::Reader input,
                                    capnp::Orphanage orphanage) const override {
    Bytes bytes;
    if (input.isString()) {
      auto decoded = from_hex(std::string_view(input.getString().cStr(), input.getString().size()));
      KJ_REQUIRE(decoded != std::nullopt, "a bytes field must be a hex string such as \"3f0a...\"");
      bytes = std::move(*decoded);
    } else if (input.isArray()) {
      for (auto element : input.getArray()) {
        KJ_REQUIRE(element.isNumber() && element.getNumber() >= 0 && element.getNumber() <= 255,
                   "a bytes field given as an array must hold numbers 0-255");
        bytes.push_back(static_cast<std::uint8_t>(element.getNumber()));
      }
    } else {
      KJ_FAIL_REQUIRE("a bytes field must be a hex string");
    }
    auto orphan = orphanage.newOrphan<capnp::Data>(static_cast<unsigned>(bytes.size()));
    if (!bytes.empty()) std::memcpy(orphan.get().begin(), bytes.data(), bytes.size());
    return orphan;
  }
};

// Cap'n Proto 0.9.2's JSON reader decodes \u escapes wrongly: hex letters
// count as 0-5 ("\u00e9" becomes "I") and surrogate pairs are not joined.
// So nlohmann_json reads the text first (strict JSON: valid UTF-8, valid
// escapes) and writes it back with every escape resolved to UTF-8, which the
// JsonCodec takes as is. Control characters would stay \u escapes there, and
// some be misread, so they are refused: no field of a message needs them,
// and they could rewrite the terminal of whoever reads it.
constexpr int kMaxJsonDepth = 64;  // as deep as the JsonCodec itself reads
struct TooDeep {};

bool has_control_character(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r';
  });
}

bool has_control_character(const nlohmann::ordered_json& value) {
  if (value.is_string()) return has_control_character(value.get_ref<const std::string&>());
  if (!value.is_structured()) return false;  // items() of a number would be the number itself
  for (const auto& member : value.items()) {  // elements of arrays, members of objects
    if (value.is_object() && has_control_character(member.key())) return true;
    if (has_control_character(member.value())) return true;
  }
  return false;
}

Result<std::string> resolve_escapes(std::string_view text, const std::string& file, const text::Catalogue& words) {
  nlohmann::ordered_json json;
  try {
    json = nlohmann::ordered_json::parse(
        text, [](int depth, nlohmann::ordered_json::parse_event_t, nlohmann::ordered_json&) {
          if (depth > kMaxJsonDepth) throw TooDeep{};  // before the depth costs memory
          return true;
        });
  } catch (const TooDeep&) {
    return make_error(ErrorCode::invalid_argument,
                      fill(words, N_("{1} nests deeper than 64 levels: a message never does"), {file}));
  } catch (const nlohmann::json::exception& exception) {
    return make_error(ErrorCode::invalid_argument,
                      fill(words, N_("{1} is not valid JSON: {2}"), {file, exception.what()}));
  }
  if (has_control_character(json)) {
    return make_error(ErrorCode::invalid_argument,
                      fill(words, N_("{1} holds a control character in a string: only tab and line breaks are allowed"),
                           {file}));
  }
  return json.dump();
}

// One codec for the process; handlers must outlive it.
struct Codec {
  HexDataHandler hex;
  capnp::JsonCodec codec;
  Codec() {
    codec.addTypeHandler(hex);
    codec.setPrettyPrint(true);
  }
};

const capnp::JsonCodec& codec() {
  static Codec instance;
  return instance.codec;
}

std::string to_kebab(std::string_view camel) {
  std::string out;
  for (const char c : camel) {
    if (std::isupper(static_cast<unsigned char>(c)) != 0) {
      out += '-';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

std::string to_camel(std::string_view kebab) {
  std::string out;
  bool upper = false;
  for (const char c : kebab) {
    if (c == '-' || c == '_') {
      upper = true;
    } else {
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    }
  }
  return out;
}

std::string field_names(capnp::StructSchema schema) {
  std::string out;
  for (auto field : schema.getFields()) {
    if (!out.empty()) out += ", ";
    out += field.getProto().getName().cStr();
  }
  return out;
}

std::string schema_name(capnp::Schema schema) {
  auto name = schema.getShortDisplayName();
  return {name.cStr(), name.size()};
}

// JsonCodec ignores fields it does not know and fails on an unknown enum
// value with a bare "invalid enum value"; both deserve a located message.
void check_known(capnp::JsonValue::Reader value, capnp::Type type, const std::string& path,
                 std::vector<FieldError>& problems, const text::Catalogue& words) {
  if (type.isStruct() && value.isObject()) {
    const auto schema = type.asStruct();
    std::optional<std::string> union_member;  // the first member of the struct's union named
    for (auto member : value.getObject()) {
      const std::string name = member.getName().cStr();
      const std::string here = path + "." + name;
      KJ_IF_MAYBE(field, schema.findFieldByName(member.getName())) {
        if (field->getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) {
          if (union_member) {
            problems.push_back(
                {here, fill(words, N_("cannot be given together with {1}: they are alternatives, keep one"),
                            {*union_member})});
          } else {
            union_member = name;
          }
        }
        check_known(member.getValue(), field->getType(), here, problems, words);
      } else {
        problems.push_back({here, fill(words, N_("is not a field of {1}; its fields are: {2}"),
                                       {schema_name(schema), field_names(schema)})});
      }
    }
  } else if (type.isList() && value.isArray()) {
    const auto element = type.asList().getElementType();
    std::size_t index = 0;
    for (auto item : value.getArray()) {
      check_known(item, element, path + "[" + std::to_string(index++) + "]", problems, words);
    }
  } else if (type.isEnum() && value.isString()) {
    const auto schema = type.asEnum();
    if (schema.findEnumerantByName(value.getString()) == nullptr) {
      problems.push_back({path, fill(words, N_("has the unknown value \"{1}\"; use one of: {2} (camelCase in JSON)"),
                                     {std::string(value.getString().cStr()), enumerant_choices(schema)})});
    }
  }
}

}  // namespace

Status read_message_json(const std::filesystem::path& path, Draft& draft, text::Language language) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::invalid_argument,
                      fill(text::Catalogue(language), N_("cannot read {1}: check the path"), {file}));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return parse_message_json(buffer.str(), file, draft, language);
}

Status parse_message_json(std::string_view text, const std::string& file, Draft& draft, text::Language language) {
  const text::Catalogue words(language);
  if (text.size() > kMaxMessageJsonBytes) {
    return make_error(ErrorCode::too_large,
                      fill(words, N_("{1} is larger than 16 MiB: a message is never that big"), {file}));
  }
  auto resolved = resolve_escapes(text, file, words);
  if (!resolved) return std::move(resolved).take_error();
  try {
    capnp::MallocMessageBuilder json_message;
    auto root = json_message.initRoot<capnp::JsonValue>();
    codec().decodeRaw(kj::arrayPtr(resolved->data(), resolved->size()), root);
    auto value = root.asReader();
    if (!value.isObject()) {
      return make_error(ErrorCode::invalid_argument,
                        fill(words, N_("{1}: expected a JSON object {\"header\": {...}, \"body\": {...}}"), {file}));
    }
    Error problems{ErrorCode::invalid_argument,
                   fill(words, N_("{1}: the message JSON has fields the schema does not know"), {file}),
                   {}};
    bool has_body = false;
    for (auto member : value.getObject()) {
      const std::string name = member.getName().cStr();
      if (name == "header") {
        check_known(member.getValue(), capnp::Type(capnp::Schema::from<wire::Header>()), "header",
                    problems.field_errors, words);
      } else if (name == "body") {
        has_body = true;
        check_known(member.getValue(), capnp::Type(capnp::Schema::from<wire::Body>()), "body", problems.field_errors,
                    words);
      } else {
        problems.field_errors.push_back(
            {name, std::string(words.tr(
                       N_("is not expected here: the file holds only \"header\" and \"body\" at its top level")))});
      }
    }
    if (!problems.field_errors.empty()) return problems;
    if (!has_body) {
      return make_error(ErrorCode::invalid_argument,
                        fill(words, N_("{1}: no \"body\": give e.g. {\"body\": {\"tracingRequest\": {...}}}"), {file}));
    }
    for (auto member : value.getObject()) {
      const std::string name = member.getName().cStr();
      if (!member.getValue().isObject()) {
        return make_error(ErrorCode::invalid_argument, fill(words, N_("{1}: \"{2}\" must be a JSON object"), {file, name}));
      }
      if (name == "header") codec().decode(member.getValue(), capnp::toDynamic(draft.header));
      if (name == "body") codec().decode(member.getValue(), capnp::toDynamic(draft.body));
    }
  } catch (const kj::Exception& exception) {
    // kj prefixes the failed condition ("expected !exhausted(); ..."): people need only the reason.
    std::string reason = exception.getDescription().cStr();
    if (reason.rfind("expected ", 0) == 0) {
      if (const auto cut = reason.find("; "); cut != std::string::npos) reason = reason.substr(cut + 2);
    }
    return make_error(ErrorCode::invalid_argument,
                      fill(words, N_("{1} is not a valid message JSON file: {2}"), {file, reason}));
  }
  return {};
}

std::string render_message_json(wire::Header::Reader header, wire::Body::Reader body) {
  try {
    auto header_json = codec().encode(header);
    auto body_json = codec().encode(body);
    return "{\n\"header\": " + std::string(header_json.cStr()) + ",\n\"body\": " + std::string(body_json.cStr()) +
           "\n}\n";
  } catch (const kj::Exception& exception) {
    // Only a message that was already verified reaches here; say so rather than abort.
    return "{\"error\": \"cannot render: " + std::string(exception.getDescription().cStr()) + "\"}\n";
  }
}

std::optional<std::uint16_t> parse_enumerant(capnp::EnumSchema schema, std::string_view name) {
  const std::string camel = to_camel(name);
  KJ_IF_MAYBE(enumerant, schema.findEnumerantByName(camel.c_str())) { return enumerant->getOrdinal(); }
  return std::nullopt;
}

std::string enumerant_choices(capnp::EnumSchema schema) {
  std::string out;
  for (auto enumerant : schema.getEnumerants()) {
    if (!out.empty()) out += ", ";
    out += to_kebab(enumerant.getProto().getName().cStr());
  }
  return out;
}

std::string enumerant_name(capnp::EnumSchema schema, std::uint16_t value) {
  auto enumerants = schema.getEnumerants();
  if (value >= enumerants.size()) return "unknown(" + std::to_string(value) + ")";
  return to_kebab(enumerants[value].getProto().getName().cStr());
}

bool parse_date(std::string_view text, wire::Date::Builder date) {
  unsigned year = 0;
  unsigned month = 0;
  unsigned day = 0;
  char tail = 0;
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4u-%2u-%2u%c", &year, &month, &day, &tail) != 3) return false;
  if (year < 1900 || month < 1 || month > 12 || day < 1 || day > 31) return false;
  date.setYear(static_cast<std::uint16_t>(year));
  date.setMonth(static_cast<std::uint8_t>(month));
  date.setDay(static_cast<std::uint8_t>(day));
  return true;
}

std::string format_date(wire::Date::Reader date) {
  if (date.getYear() == 0) return "-";
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04u-%02u-%02u", static_cast<unsigned>(date.getYear()),
                static_cast<unsigned>(date.getMonth()), static_cast<unsigned>(date.getDay()));
  return buffer;
}

}  // namespace fpx::cli
