// protocol/public_records.cpp: every kind of the feed's public records
// survives its round trip through the one codec, the bytes are those the
// broker signed before the codec existed (golden records below), and a known
// kind with a field missing or of the wrong type is refused naming the field.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fpx/disclosure_control.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/public_records.hpp"
#include "fpx/warning_statistics.hpp"
#include "support/sample_statistics_record.hpp"

namespace fpx::records {
namespace {

Sha256Digest digest_of(std::uint8_t fill) {
  Sha256Digest digest{};
  digest.fill(fill);
  return digest;
}

MessageLeaf message_leaf() { return {7, digest_of(0xab)}; }

StatisticsRecord statistics_record() { return test::sample_statistics_record(); }

std::vector<PublicRecord> one_of_each_kind() {
  CheckpointRecord checkpoint{1, 3, digest_of(0x11), "fpx.example/log\n3\nEREREQ==\n\n— fpx.example/log abc=\n"};
  CosignedCheckpointRecord cosigned{2, 3, digest_of(0x11), "note with cosignatures\n", {"witness-a", "witness-b"}};
  CampaignReportRecord campaign;
  campaign.sequence = 3;
  campaign.log_index = 8;
  campaign.message = message_leaf();
  campaign.country = "SN";
  campaign.commission = "COMNAT-ALPC";
  campaign.regions = {"Dakar", "Thiès"};
  campaign.period_start = "2026-01-01";
  campaign.period_end = "2026-01-31";
  campaign.weapons_collected = 120;
  campaign.weapons_destroyed = 95;
  campaign.community_partners = {"Réseau des femmes"};
  PublicAlertRecord alert;
  alert.sequence = 4;
  alert.log_index = 10;
  alert.message = MessageLeaf{9, digest_of(0xcd)};
  alert.alert_kind = "stolen";
  alert.issuing_country = "NE";
  alert.region = "sahel";
  alert.month = "2026-02";
  alert.valid_until = "2026-08-31";
  alert.public_summary = "Twelve rifles stolen from a depot";
  PublicAlertStatusRecord status;
  status.sequence = 5;
  status.log_index = 12;
  status.message = MessageLeaf{11, digest_of(0xef)};
  status.status = "cancelled";
  status.alert_message_log_index = 9;
  status.issuing_country = "NE";
  status.day = "2026-03-02";
  status.public_summary = "";
  FiguresStatementRecord statement;
  statement.sequence = 6;
  statement.log_index = 14;
  statement.message = MessageLeaf{13, digest_of(0x01)};
  statement.country = "SN";
  statement.period = "month";
  statement.period_start = "2026-03-01T00:00:00Z";
  statement.statistics_sequence = 12;
  statement.text = "Our figures include \"urgent\" requests";
  return {checkpoint, cosigned, campaign, alert, status, statement, statistics_record()};
}

// The JSON object of a record, to damage one field at a time.
nlohmann::json object_of(const PublicRecord& record) { return nlohmann::json::parse(encode_record(record)); }

std::string error_of(const nlohmann::json& object) {
  auto decoded = decode_record(object.dump());
  REQUIRE_FALSE(decoded);
  return decoded.error().describe();
}

}  // namespace

TEST_CASE("Every public record kind survives its round trip through the codec byte for byte") {
  for (const auto& record : one_of_each_kind()) {
    const std::string text = encode_record(record);
    INFO(text);
    auto decoded = decode_record(text);
    REQUIRE(decoded);
    CHECK(decoded->kind == kind_name(kind_of(record)));
    CHECK(decoded->sequence == sequence_of(record));
    CHECK(decoded->unknown_fields.empty());
    REQUIRE(decoded->record);
    CHECK(kind_of(*decoded->record) == kind_of(record));
    CHECK(encode_record(*decoded->record) == text);
  }
}

TEST_CASE("A year statistics record with its linked periods survives its round trip") {
  StatisticsRecord year = statistics_record();
  year.period = "year";
  year.counted_at_ms.reset();
  year.grid = "month";
  year.periods = {{"2026-03-01T00:00:00Z", 12}, {"2026-04-01T00:00:00Z", 15}};
  year.warnings = {};
  const std::string text = encode_record(year);
  auto decoded = decode_record(text);
  REQUIRE(decoded);
  REQUIRE(decoded->record);
  const auto& read = std::get<StatisticsRecord>(*decoded->record);
  CHECK(read.grid == std::optional<std::string>("month"));
  REQUIRE(read.periods.size() == 2);
  CHECK(read.periods[1].sequence == 15);
  CHECK_FALSE(read.counted_at_ms);
  CHECK(text.find("earlyWarnings") == std::string::npos);
  CHECK(encode_record(*decoded->record) == text);
  auto object = nlohmann::json::parse(text);
  object.erase("grid");
  CHECK(error_of(object).find("\"grid\" is missing") != std::string::npos);
}

// The broker bounds a statement in characters (2000); in Chinese that is
// 6000 bytes of UTF-8, which every observer must still read.
TEST_CASE("A statement as long as the broker allows in a script of 3 bytes a character decodes") {
  FiguresStatementRecord statement = std::get<FiguresStatementRecord>(one_of_each_kind()[5]);
  statement.text.clear();
  for (int i = 0; i < 2000; ++i) statement.text += "\u6f22";  // 漢
  REQUIRE(statement.text.size() == 6000);
  const std::string text = encode_record(PublicRecord(statement));
  auto decoded = decode_record(text);
  INFO((decoded ? std::string() : decoded.error().describe()));
  REQUIRE(decoded);
  REQUIRE(decoded->record);
  CHECK(std::get<FiguresStatementRecord>(*decoded->record).text == statement.text);
}

TEST_CASE("The decoded statistics record holds the tables the broker wrote") {
  const StatisticsRecord original = statistics_record();
  auto decoded = decode_record(encode_record(original));
  REQUIRE(decoded);
  REQUIRE(decoded->record);
  const auto& statistics = std::get<StatisticsRecord>(*decoded->record);
  CHECK(statistics.tables.states == original.tables.states);
  REQUIRE(statistics.tables.cells.size() == original.tables.cells.size());
  for (std::size_t i = 0; i < original.tables.cells.size(); ++i) {
    CHECK(statistics.tables.cells[i].suppressed == original.tables.cells[i].suppressed);
    if (!original.tables.cells[i].suppressed) CHECK(statistics.tables.cells[i].value == original.tables.cells[i].value);
  }
  CHECK(statistics.warnings.cells.size() == original.warnings.cells.size());
  CHECK(statistics.clocks_hours.routine_respond == 720.0);
  CHECK(statistics.counted_at_ms == original.counted_at_ms);
}

// Golden records: the bytes the broker signed before the codec existed for
// the same inputs (it built an nlohmann::json object field by field and
// dumped it, keys sorted), so no record changes on the wire.
TEST_CASE("The codec writes the bytes the broker signed before it existed") {
  const auto records = one_of_each_kind();
  const std::string hash_ab(64, 'a');
  CHECK(encode_record(records[0]) ==
        "{\"kind\":\"checkpoint\",\"note\":\"fpx.example/log\\n3\\nEREREQ==\\n\\n\xe2\x80\x94 fpx.example/log "
        "abc=\\n\",\"rootHash\":\"1111111111111111111111111111111111111111111111111111111111111111\","
        "\"sequence\":1,\"treeSize\":3}");
  CHECK(encode_record(records[1]) ==
        "{\"kind\":\"cosigned-checkpoint\",\"note\":\"note with cosignatures\\n\",\"rootHash\":"
        "\"1111111111111111111111111111111111111111111111111111111111111111\",\"sequence\":2,\"treeSize\":3,"
        "\"witnesses\":[\"witness-a\",\"witness-b\"]}");
  CHECK(encode_record(records[2]) ==
        "{\"commission\":\"COMNAT-ALPC\",\"communityPartners\":[\"R\xc3\xa9seau des femmes\"],\"country\":\"SN\","
        "\"kind\":\"campaign-report\",\"logIndex\":8,\"messageLeafHash\":"
        "\"abababababababababababababababababababababababababababababababab\",\"messageLogIndex\":7,"
        "\"periodEnd\":\"2026-01-31\",\"periodStart\":\"2026-01-01\",\"regions\":[\"Dakar\",\"Thi\xc3\xa8s\"],"
        "\"sequence\":3,\"weaponsCollected\":120,\"weaponsDestroyed\":95}");
  CHECK(encode_record(records[3]) ==
        "{\"alertKind\":\"stolen\",\"issuingCountry\":\"NE\",\"kind\":\"public-alert\",\"logIndex\":10,"
        "\"messageLeafHash\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\","
        "\"messageLogIndex\":9,\"month\":\"2026-02\",\"publicSummary\":\"Twelve rifles stolen from a depot\","
        "\"region\":\"sahel\",\"sequence\":4,\"validUntil\":\"2026-08-31\"}");
  CHECK(encode_record(records[4]) ==
        "{\"alertMessageLogIndex\":9,\"day\":\"2026-03-02\",\"issuingCountry\":\"NE\",\"kind\":"
        "\"public-alert-status\",\"logIndex\":12,\"messageLeafHash\":"
        "\"efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef\",\"messageLogIndex\":11,"
        "\"publicSummary\":\"\",\"sequence\":5,\"status\":\"cancelled\"}");
  CHECK(encode_record(records[5]) ==
        "{\"country\":\"SN\",\"kind\":\"figures-statement\",\"logIndex\":14,\"messageLeafHash\":"
        "\"0101010101010101010101010101010101010101010101010101010101010101\",\"messageLogIndex\":13,"
        "\"period\":\"month\",\"periodStart\":\"2026-03-01T00:00:00Z\",\"sequence\":6,\"statisticsSequence\":12,"
        "\"text\":\"Our figures include \\\"urgent\\\" requests\"}");
  // The statistics record's head (its tables are disclosure_control's own
  // layout, checked by its own tests): what the broker wrote before.
  const std::string statistics = encode_record(records[6]);
  CHECK(statistics.find("\"asOf\":\"2026-04-08T00:00:01Z\",\"bandHours\":{\"answeredWithin30Days\":720},"
                        "\"byRegion\":") != std::string::npos);
  CHECK(statistics.find("\"clocksHours\":{\"routineAcknowledge\":72.0,\"routineRespond\":720.0,"
                        "\"urgentAcknowledge\":24.0,\"urgentRespond\":168.0,\"warningAcknowledge\":48.0},"
                        "\"countedAtMs\":1775606400123,") != std::string::npos);
  CHECK(statistics.find("\"final\":true,\"kind\":\"statistics\",\"logIndex\":40,") != std::string::npos);
}

TEST_CASE("A record from a broker before content binding decodes as unbound and encodes unchanged") {
  const std::string unbound =
      "{\"alertKind\":\"lost\",\"issuingCountry\":\"NE\",\"kind\":\"public-alert\",\"leafHash\":"
      "\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\",\"logIndex\":4,\"month\":\"2025-11\","
      "\"region\":\"NE\",\"sequence\":2}";
  auto decoded = decode_record(unbound);
  REQUIRE(decoded);
  const auto& alert = std::get<PublicAlertRecord>(*decoded->record);
  REQUIRE(alert.unbound);
  CHECK(alert.unbound->log_index == 4);
  CHECK_FALSE(alert.message);
  CHECK_FALSE(alert.valid_until);
  CHECK_FALSE(alert.public_summary);
  CHECK(encode_record(*decoded->record) == unbound);
}

TEST_CASE("A known record kind with a field missing is refused naming the field") {
  for (const auto& record : one_of_each_kind()) {
    const auto object = object_of(record);
    for (const auto& item : object.items()) {
      const std::string name = item.key();
      // Optional by the protocol: absent from older brokers' records.
      if (name == "validUntil" || name == "publicSummary" && kind_of(record) == RecordKind::public_alert ||
          name == "countedAtMs" || name == "earlyWarnings") {
        continue;
      }
      // Without "total" (written when the period has a tracing) the tables
      // are refused by disclosure_control's reader, as tables.
      const bool total = kind_of(record) == RecordKind::statistics && name == "total";
      auto damaged = object;
      damaged.erase(name);
      INFO(kind_name(kind_of(record)) << " without " << name);
      const std::string error = error_of(damaged);
      CHECK(error.find(total ? "its tables" : "\"" + name + "\" is missing") != std::string::npos);
    }
  }
}

TEST_CASE("A known record kind with a field of the wrong type is refused naming the field") {
  for (const auto& record : one_of_each_kind()) {
    const auto object = object_of(record);
    for (const auto& item : object.items()) {
      const std::string name = item.key();
      if (kind_of(record) == RecordKind::statistics && !item.value().is_primitive() && name != "bandHours" &&
          name != "clocksHours") {
        continue;  // the tables: disclosure_control's reader, tested there
      }
      auto damaged = object;
      // A list where a text is due, a text where anything else is.
      damaged[name] = item.value().is_string() ? nlohmann::json::array({1}) : nlohmann::json("x");
      INFO(kind_name(kind_of(record)) << " with a mistyped " << name);
      const std::string error = error_of(damaged);
      CHECK(error.find("\"" + name + "\"") != std::string::npos);
    }
  }
}

TEST_CASE("A negative or fractional number where a whole number is due is refused") {
  auto object = object_of(one_of_each_kind()[0]);
  object["treeSize"] = -3;
  CHECK(error_of(object).find("\"treeSize\" is not a whole number") != std::string::npos);
  object["treeSize"] = 3.5;
  CHECK(error_of(object).find("\"treeSize\" is not a whole number") != std::string::npos);
}

TEST_CASE("Unknown fields of a known kind are skipped and reported") {
  auto object = object_of(one_of_each_kind()[3]);
  object["severity"] = "high";
  object["zoneCode"] = 4;
  auto decoded = decode_record(object.dump());
  REQUIRE(decoded);
  REQUIRE(decoded->record);
  CHECK(decoded->unknown_fields == std::vector<std::string>{"severity", "zoneCode"});
  CHECK(std::get<PublicAlertRecord>(*decoded->record).alert_kind == "stolen");
}

TEST_CASE("A record of a kind this version does not know is reported not refused") {
  auto decoded = decode_record("{\"kind\":\"weather\",\"sequence\":9,\"rain\":true}");
  REQUIRE(decoded);
  CHECK_FALSE(decoded->record);
  CHECK(decoded->kind == "weather");
  CHECK(decoded->sequence == 9);
}

TEST_CASE("The reported unknown fields are bounded") {
  auto object = object_of(one_of_each_kind()[0]);
  for (std::size_t i = 0; i < kMaxReportedUnknownFields * 3; ++i) object["extra" + std::to_string(i)] = i;
  auto decoded = decode_record(object.dump());
  REQUIRE(decoded);
  CHECK(decoded->unknown_fields.size() == kMaxReportedUnknownFields);
  CHECK(decoded->more_unknown_fields);
}

TEST_CASE("Hostile record texts are typed refusals") {
  SECTION("a key given twice") {
    auto decoded = decode_record("{\"kind\":\"checkpoint\",\"sequence\":1,\"sequence\":2}");
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::malformed);
    CHECK(decoded.error().describe().find("\"sequence\" twice") != std::string::npos);
  }
  SECTION("nesting beyond the limit") {
    std::string deep = "{\"kind\":\"checkpoint\",\"sequence\":1,\"x\":";
    for (std::size_t i = 0; i < kMaxRecordNesting + 2; ++i) deep += "[";
    for (std::size_t i = 0; i < kMaxRecordNesting + 2; ++i) deep += "]";
    deep += "}";
    auto decoded = decode_record(deep);
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::malformed);
    CHECK(decoded.error().describe().find("nests deeper") != std::string::npos);
  }
  SECTION("a record larger than the limit") {
    auto decoded = decode_record(std::string(kMaxPublicRecordBytes + 1, ' '));
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::too_large);
  }
  SECTION("a text field longer than the limit") {
    auto object = object_of(one_of_each_kind()[3]);
    object["publicSummary"] = std::string(kMaxRecordTextBytes + 1, 'a');
    auto decoded = decode_record(object.dump());
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::too_large);
    CHECK(decoded.error().describe().find("\"publicSummary\"") != std::string::npos);
  }
  SECTION("a list longer than the limit") {
    auto object = object_of(one_of_each_kind()[1]);
    object["witnesses"] = std::vector<std::string>(kMaxRecordListEntries + 1, "w");
    auto decoded = decode_record(object.dump());
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::too_large);
  }
  SECTION("text that is not JSON") {
    auto decoded = decode_record("{\"kind\":");
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::malformed);
  }
  SECTION("JSON that is not an object") {
    auto decoded = decode_record("[1,2]");
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::malformed);
  }
  SECTION("a bound and an unbound leaf at once") {
    auto object = object_of(one_of_each_kind()[3]);
    object["leafHash"] = std::string(64, 'c');
    auto decoded = decode_record(object.dump());
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().describe().find("\"leafHash\"") != std::string::npos);
  }
}

}  // namespace fpx::records

namespace fpx::records {

TEST_CASE("The head of any record is read with its leaves and refused when one is mistyped") {
  auto head = decode_record_head(encode_record(one_of_each_kind()[3]));
  REQUIRE(head);
  CHECK(head->sequence == 4);
  CHECK(head->kind == "public-alert");
  CHECK(head->log_index == std::optional<std::uint64_t>(10));
  CHECK(head->message_log_index == std::optional<std::uint64_t>(9));
  CHECK(head->message_leaf_hash == std::optional<Sha256Digest>(digest_of(0xcd)));
  CHECK_FALSE(head->leaf_hash);
  auto unknown = decode_record_head("{\"kind\":\"weather\",\"sequence\":9,\"rain\":[true]}");
  REQUIRE(unknown);
  CHECK(unknown->kind == "weather");
  auto beyond = decode_record_head("{\"kind\":\"weather\",\"sequence\":9,\"logIndex\":9007199254740993}");
  REQUIRE_FALSE(beyond);
  CHECK(beyond.error().message.find("\"logIndex\" is not a whole number") != std::string::npos);
  auto fraction = decode_record_head("{\"kind\":\"checkpoint\",\"sequence\":1.5}");
  REQUIRE_FALSE(fraction);
  CHECK(fraction.error().message.find("\"sequence\" is not a whole number") != std::string::npos);
  auto twice = decode_record_head("{\"kind\":\"checkpoint\",\"sequence\":1,\"kind\":\"statistics\"}");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message.find("\"kind\" twice") != std::string::npos);
  auto no_kind = decode_record_head("{\"sequence\":1}");
  REQUIRE_FALSE(no_kind);
  CHECK(no_kind.error().message.find("no \"kind\"") != std::string::npos);
}

}  // namespace fpx::records

namespace fpx::records {

// A statistics record of another disclosure method (or of the scheme before
// issue 12, which named none) is not a broken record: readers count it and
// pass on, so it is refused with its own code, naming "method".
TEST_CASE("A statistics record of another method is refused as unsupported naming the method") {
  auto object = nlohmann::json::parse(encode_record(one_of_each_kind()[6]));
  SECTION("another method") {
    object["method"] = "cell-suppression/v0";
    auto decoded = decode_record(object.dump());
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::unsupported_version);
    CHECK(decoded.error().message.find("feed record 12 (statistics): field \"method\"") != std::string::npos);
  }
  SECTION("no method at all as before issue 12") {
    object.erase("method");
    object.erase("states");  // that scheme's tables had another shape: never read
    auto decoded = decode_record(object.dump());
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::unsupported_version);
    CHECK(decoded.error().message.find("\"method\" is missing") != std::string::npos);
  }
  SECTION("a method that is not a string is malformed") {
    object["method"] = 1;
    auto decoded = decode_record(object.dump());
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().code == ErrorCode::malformed);
    CHECK(decoded.error().message.find("\"method\" is not a string") != std::string::npos);
  }
}

// record_fields: what `fpx observe` shows of a record it cannot read by kind.
TEST_CASE("The fields of a record of a kind this version does not know are listed with their values as shown") {
  auto fields =
      record_fields("{\"kind\":\"weather\",\"sequence\":9,\"rain\":true,\"zones\":[1,2,3],\"where\":{\"a\":1},"
                    "\"note\":\"dry\",\"gone\":null}");
  REQUIRE(fields);
  std::vector<std::pair<std::string, std::string>> shown;
  for (const auto& field : *fields) shown.emplace_back(field.name, field.display);
  CHECK(shown == std::vector<std::pair<std::string, std::string>>{{"gone", "null"},
                                                                    {"kind", "weather"},
                                                                    {"note", "dry"},
                                                                    {"rain", "true"},
                                                                    {"sequence", "9"},
                                                                    {"where", "{...}"},
                                                                    {"zones", "[3 items]"}});
}

TEST_CASE("The fields of a damaged record are refused as decode_record refuses it") {
  SECTION("a text beyond the bound is too large naming its field") {
    auto fields = record_fields("{\"kind\":\"weather\",\"sequence\":9,\"story\":\"" +
                                std::string(kMaxRecordTextBytes + 1, 'a') + "\"}");
    REQUIRE_FALSE(fields);
    CHECK(fields.error().code == ErrorCode::too_large);
    CHECK(fields.error().message.find("\"story\"") != std::string::npos);
  }
  SECTION("a key given twice") {
    auto fields = record_fields("{\"kind\":\"weather\",\"kind\":\"rain\"}");
    REQUIRE_FALSE(fields);
    CHECK(fields.error().code == ErrorCode::malformed);
    CHECK(fields.error().message.find("\"kind\" twice") != std::string::npos);
  }
  SECTION("JSON that is not an object") {
    auto fields = record_fields("\"weather\"");
    REQUIRE_FALSE(fields);
    CHECK(fields.error().code == ErrorCode::malformed);
  }
  SECTION("a record larger than the limit") {
    auto fields = record_fields(std::string(kMaxPublicRecordBytes + 1, ' '));
    REQUIRE_FALSE(fields);
    CHECK(fields.error().code == ErrorCode::too_large);
  }
}

}  // namespace fpx::records

namespace fpx::records {

TEST_CASE("A statistics record is decoded as one and a record of another kind is refused naming its kind") {
  auto statistics = decode_statistics_record(encode_record(one_of_each_kind()[6]));
  REQUIRE(statistics);
  CHECK(statistics->period == "month");
  CHECK(statistics->log_index == 40);
  SECTION("a campaign report") {
    auto other = decode_statistics_record(encode_record(one_of_each_kind()[2]));
    REQUIRE_FALSE(other);
    CHECK(other.error().code == ErrorCode::malformed);
    CHECK(other.error().message.find("feed record 3 (campaign-report) is not a statistics record") !=
          std::string::npos);
  }
  SECTION("a kind this version does not know") {
    auto other = decode_statistics_record("{\"kind\":\"weather\",\"sequence\":9}");
    REQUIRE_FALSE(other);
    CHECK(other.error().code == ErrorCode::malformed);
    CHECK(other.error().message.find("(weather)") != std::string::npos);
  }
  SECTION("a statistics record with a count of the wrong type keeps the codec's refusal") {
    auto object = nlohmann::json::parse(encode_record(one_of_each_kind()[6]));
    object["asOf"] = 3;
    auto damaged = decode_statistics_record(object.dump());
    REQUIRE_FALSE(damaged);
    CHECK(damaged.error().code == ErrorCode::malformed);
    CHECK(damaged.error().message.find("field \"asOf\" is not a string") != std::string::npos);
  }
  SECTION("a statistics record with a text beyond the bound is too large") {
    auto object = nlohmann::json::parse(encode_record(one_of_each_kind()[6]));
    object["period"] = std::string(kMaxRecordTextBytes + 1, 'm');
    auto damaged = decode_statistics_record(object.dump());
    REQUIRE_FALSE(damaged);
    CHECK(damaged.error().code == ErrorCode::too_large);
    CHECK(damaged.error().message.find("\"period\"") != std::string::npos);
  }
}

}  // namespace fpx::records
