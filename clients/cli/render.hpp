// Output for people (aligned tables, UTC times) and for scripts (JSON).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fpx/result.hpp"
#include "fpx/wire/header.capnp.h"

namespace fpx::cli {

// "2026-03-14T10:22:01Z"; "-" for 0.
std::string format_utc(std::int64_t ms);

std::string json_escape(std::string_view text);
// The escaped text in double quotes: a JSON string (also a TOML basic string).
// Built by appending: g++ 12 -O2/-O3 warns falsely (-Wrestrict) on "\"" + std::string.
std::string json_quote(std::string_view text);

// One flat JSON object built field by field, in insertion order.
class JsonObject {
 public:
  JsonObject& text(std::string_view key, std::string_view value);
  JsonObject& number(std::string_view key, std::int64_t value);
  JsonObject& unsigned_number(std::string_view key, std::uint64_t value);
  JsonObject& boolean(std::string_view key, bool value);
  // `json` is already JSON (an object, array or literal).
  JsonObject& raw(std::string_view key, std::string_view json);
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view name);
  std::string body_;
};

std::string json_array(const std::vector<std::string>& json_values);
std::string json_error(const Error& error);

// Columns sized to their widest cell in characters (UTF-8); the header row
// is upper-cased, French accents included ("état" -> "ÉTAT").
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  std::string str() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// A handling code for people: "H2: no onward sharing without permission".
std::string handling_code_label(wire::HandlingCode code);
// Every handling code of a header, "; "-separated, H3 followed by its
// conditions ("H3: other conditions: <text>"); "none" if it has none.
std::string handling_summary(wire::Header::Reader header);
// The same as short codes for tables and scripts: "H0,H2"; "-" if none.
std::string handling_codes_short(wire::Header::Reader header);

// "label:  value" lines, values aligned: one record for people.
std::string key_values(const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace fpx::cli
