// Civil society's voice (issue 12 item 5) in protocol/: the cso role and its
// id rule, who may sign the three message types, their field rules, and the
// early-warning table of the public statistics.
#include <capnp/message.h>

#include <array>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "fpx/envelope.hpp"
#include "fpx/oids.hpp"
#include "fpx/validate.hpp"
#include "fpx/warning_statistics.hpp"
#include "support/sample_messages.hpp"

using namespace fpx;
using wire::MessageType;

namespace {

// A sample of `type` from `sender` of `country`, every header field set as
// the sealer would; `change` then breaks what a test wants broken.
std::vector<FieldError> validate_sample(MessageType type, const test::SampleChange& change = {}) {
  capnp::MallocMessageBuilder header_message;
  capnp::MallocMessageBuilder body_message;
  auto header = header_message.initRoot<wire::Header>();
  auto body = body_message.initRoot<wire::Body>();
  test::fill_sample(type, header, body);
  header.setSchemaVersion(1);
  auto id = MessageId::random();
  header.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
  header.setType(type);
  header.setCreatedAtMs(now_ms() - 1000);
  header.setSenderParticipant(type == MessageType::EARLY_WARNING_ACKNOWLEDGEMENT ? "sn.focal-point"
                                                                                 : "cso.sahel-watch.sn");
  header.setSenderCountry("SN");
  std::array<std::uint8_t, 32> digest{};
  header.setBodySha256(kj::arrayPtr(digest.data(), digest.size()));
  if (change) change(header, body);
  return validate_message(header.asReader(), body.asReader(), {now_ms()});
}

std::vector<std::string> paths(const std::vector<FieldError>& errors) {
  std::vector<std::string> out;
  for (const auto& error : errors) out.push_back(error.path);
  return out;
}

}  // namespace

TEST_CASE("the cso role has its own name and EKU OID and only the root issues it") {
  CHECK(role_name(Role::cso) == "cso");
  CHECK(parse_role("cso") == Role::cso);
  CHECK(std::string(oid::role_oid(Role::cso)) == std::string(FPX_OID_ARC) + ".1.5");
  CHECK(oid::role_from_oid(oid::role_oid(Role::cso)) == Role::cso);
  CHECK_FALSE(national_ca_may_issue(Role::cso));
}

TEST_CASE("a cso id ends with its country and never reads as a state's participant or its observer id") {
  CHECK(id_country_mismatch("cso.sahel-watch.sn", "SN", Role::cso).empty());
  CHECK_THAT(id_country_mismatch("cso.sahel-watch", "SN", Role::cso), Catch::Contains("must end with \".sn\""));
  CHECK_THAT(id_country_mismatch("cso.sahel-watch.ne", "SN", Role::cso), Catch::Contains("must end with \".sn\""));
  CHECK_THAT(id_country_mismatch("cso.sn", "SN", Role::cso), Catch::Contains("must end with"));
  CHECK_THAT(id_country_mismatch("sn.watch.sn", "SN", Role::cso), Catch::Contains("two-letter label"));
  // The observer rule is unchanged.
  CHECK(id_country_mismatch("cso.sahel-watch", "SN", Role::observer).empty());
}

TEST_CASE("a cso signs early warnings and campaign contributions only and a focal point acknowledges warnings") {
  for (int value = 0; value <= static_cast<int>(MessageType::CAMPAIGN_CONTRIBUTION); ++value) {
    const auto type = static_cast<MessageType>(value);
    INFO(message_type_name(type));
    const bool cso_type = type == MessageType::EARLY_WARNING || type == MessageType::CAMPAIGN_CONTRIBUTION;
    CHECK(role_may_sign(Role::cso, type) == cso_type);
    CHECK_FALSE(role_may_sign(Role::observer, type));
    if (cso_type) {
      CHECK_FALSE(role_may_sign(Role::focal_point, type));
      CHECK_FALSE(role_may_sign(Role::agency, type));
    }
  }
  CHECK(role_may_sign(Role::focal_point, MessageType::EARLY_WARNING_ACKNOWLEDGEMENT));
  CHECK_FALSE(role_may_sign(Role::agency, MessageType::EARLY_WARNING_ACKNOWLEDGEMENT));
  CHECK(message_type_name(MessageType::EARLY_WARNING) == "early-warning");
  CHECK(message_type_name(MessageType::EARLY_WARNING_ACKNOWLEDGEMENT) == "early-warning-acknowledgement");
  CHECK(message_type_name(MessageType::CAMPAIGN_CONTRIBUTION) == "campaign-contribution");
}

TEST_CASE("the samples of the three civil-society messages break no rule") {
  CHECK(validate_sample(MessageType::EARLY_WARNING).empty());
  CHECK(validate_sample(MessageType::EARLY_WARNING_ACKNOWLEDGEMENT).empty());
  CHECK(validate_sample(MessageType::CAMPAIGN_CONTRIBUTION).empty());
}

TEST_CASE("an early warning needs its threat and bounds every text") {
  CHECK(paths(validate_sample(MessageType::EARLY_WARNING, [](auto, auto body) {
          body.getEarlyWarning().setThreat("   ");
        })) == std::vector<std::string>{"body.earlyWarning.threat"});
  CHECK(validate_sample(MessageType::EARLY_WARNING, [](auto, auto body) {
          body.getEarlyWarning().setThreat(std::string(2000, 'x'));
        }).empty());
  CHECK(paths(validate_sample(MessageType::EARLY_WARNING, [](auto, auto body) {
          body.getEarlyWarning().setThreat(std::string(2001, 'x'));
        })) == std::vector<std::string>{"body.earlyWarning.threat"});
  CHECK(paths(validate_sample(MessageType::EARLY_WARNING, [](auto, auto body) {
          body.getEarlyWarning().setFirearmDescription(std::string(2001, 'x'));
        })) == std::vector<std::string>{"body.earlyWarning.firearmDescription"});
  CHECK(paths(validate_sample(MessageType::EARLY_WARNING, [](auto, auto body) {
          body.getEarlyWarning().setLocation(std::string(257, 'x'));
        })) == std::vector<std::string>{"body.earlyWarning.location"});
  // Optional fields may be left out.
  CHECK(validate_sample(MessageType::EARLY_WARNING, [](auto, auto body) {
          auto warning = body.initEarlyWarning();
          warning.setThreat("strangers selling rifles at the market");
        }).empty());
  CHECK(paths(validate_sample(MessageType::EARLY_WARNING, [](auto, auto body) {
          auto date = body.getEarlyWarning().getObservedOn();
          date.setYear(2026);
          date.setMonth(13);
          date.setDay(1);
        })) == std::vector<std::string>{"body.earlyWarning.observedOn"});
}

TEST_CASE("a warning acknowledgement answers a warning and dates its receipt") {
  CHECK(paths(validate_sample(MessageType::EARLY_WARNING_ACKNOWLEDGEMENT, [](auto header, auto) {
          header.setInReplyTo(capnp::Data::Reader());
        })) == std::vector<std::string>{"header.inReplyTo"});
  CHECK(paths(validate_sample(MessageType::EARLY_WARNING_ACKNOWLEDGEMENT, [](auto, auto body) {
          body.getEarlyWarningAcknowledgement().setReceivedAtMs(0);
        })) == std::vector<std::string>{"body.earlyWarningAcknowledgement.receivedAtMs"});
}

TEST_CASE("a campaign contribution needs its campaign and text and a period in order") {
  CHECK(paths(validate_sample(MessageType::CAMPAIGN_CONTRIBUTION, [](auto, auto body) {
          body.getCampaignContribution().setCampaign("");
          body.getCampaignContribution().setText("");
        })) == std::vector<std::string>{"body.campaignContribution.campaign", "body.campaignContribution.text"});
  CHECK(paths(validate_sample(MessageType::CAMPAIGN_CONTRIBUTION, [](auto, auto body) {
          auto end = body.getCampaignContribution().getPeriodEnd();
          end.setYear(2025);
        })) == std::vector<std::string>{"body.campaignContribution.periodEnd"});
  CHECK(paths(validate_sample(MessageType::CAMPAIGN_CONTRIBUTION, [](auto, auto body) {
          body.getCampaignContribution().setWeaponsCollected(1'000'001);
        })) == std::vector<std::string>{"body.campaignContribution.weaponsCollected"});
}

TEST_CASE("the early-warning table counts per warned state and relates rows to the total") {
  const std::vector<stats::WarningFacts> facts{{"SN", true}, {"SN", true}, {"SN", false}, {"NE", false}};
  auto tables = disclosure::build_warning_tables(facts);
  REQUIRE(tables.states == std::vector<std::string>{"NE", "SN"});
  REQUIRE(tables.cells.size() == 6);
  CHECK(tables.cells[0].value == 1);  // NE warnings
  CHECK(tables.cells[1].value == 0);  // NE acknowledged within the clock
  CHECK(tables.cells[2].value == 3);  // SN
  CHECK(tables.cells[3].value == 2);
  CHECK(tables.cells[4].value == 4);  // total
  CHECK(tables.cells[5].value == 2);
  CHECK(tables.constraints.size() == 5);  // two sums, three "at most"

  disclosure::suppress_primary(tables, 3);
  nlohmann::json record{{"threshold", 3}};
  disclosure::write_warning_tables(record, tables);
  CHECK(record["earlyWarnings"]["byState"][0]["counts"]["warnings"].is_null());
  CHECK(record["earlyWarnings"]["byState"][1]["counts"]["warnings"] == 3);
  CHECK(record["earlyWarnings"]["total"]["counts"]["warnings"] == 4);
  // Primary suppression alone leaves NE = 4 - 3: the observer's check does
  // not see that (the broker's LP audit does), but every shown count and
  // relation it can check holds.
  auto parsed = disclosure::warning_tables_of_record(record.dump());
  REQUIRE(parsed.ok());
  CHECK(parsed->cells[0].suppressed);
  CHECK(parsed->cells[2].value == 3);
  auto check = disclosure::check_warning_record(record.dump());
  REQUIRE(check.ok());
  CHECK(check->failures.empty());
  CHECK(check->cells_suppressed == 3);  // NE warnings 1, SN and total acknowledged 2

  // A shown count under the threshold, or a broken sum, is a failure.
  record["earlyWarnings"]["byState"][0]["counts"]["warnings"] = 2;
  auto small = disclosure::check_warning_record(record.dump());
  REQUIRE(small.ok());
  CHECK(small->failures.size() == 2);  // 2 is under 3, and 2 + 3 != 4
}

TEST_CASE("a statistics record without early warnings has an empty table and a malformed one is refused") {
  auto none = disclosure::warning_tables_of_record(R"({"threshold": 3})");
  REQUIRE(none.ok());
  CHECK(none->cells.empty());
  auto twice = disclosure::warning_tables_of_record(
      R"({"earlyWarnings": {"byState": [{"state": "SN", "counts": {"warnings": 3, "acknowledgedWithinClock": 3}},
          {"state": "SN", "counts": {"warnings": 3, "acknowledgedWithinClock": 3}}], "total": {"counts": {}}}})");
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == ErrorCode::invalid_argument);
  auto negative = disclosure::warning_tables_of_record(
      R"({"earlyWarnings": {"byState": [{"state": "SN", "counts": {"warnings": -1, "acknowledgedWithinClock": 0}}],
          "total": {"counts": {"warnings": 0, "acknowledgedWithinClock": 0}}}})");
  REQUIRE_FALSE(negative.ok());
}
