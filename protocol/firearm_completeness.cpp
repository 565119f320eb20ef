// Identifier-completeness score of a firearm description (DOMAIN.md,
// "Firearm description"): the broker tells a sender what is missing before a
// tracing request goes out.
#include <algorithm>
#include <string_view>

#include "fpx/validate.hpp"

namespace fpx {
namespace {

// Weights sum to 100. A trace runs on the serial number, read in the
// records of the manufacturer named by the marking, narrowed by calibre:
// without those three it rarely succeeds, so they carry 65 points and are
// listed first. The country of manufacture tells the tracer whom to ask and
// the model and type narrow the records; import marking, year and component
// serials help when the main serial is damaged or the records are old; other
// markings only corroborate.
constexpr int kSerialWeight = 30;
constexpr int kPartlyRestoredSerialWeight = 20;  // restoration may have misread digits
constexpr int kObliteratedWithTracesWeight = 10;  // partial serial or component serials survive
constexpr int kObliteratedBareWeight = 3;  // only the fact that it was defaced: little to trace
constexpr int kManufacturerWeight = 20;
constexpr int kCalibreWeight = 15;
constexpr int kCountryOfManufactureWeight = 8;
constexpr int kModelWeight = 7;
constexpr int kTypeWeight = 5;
constexpr int kImportMarkingWeight = 5;
constexpr int kYearOfManufactureWeight = 4;
constexpr int kComponentSerialsWeight = 4;
constexpr int kOtherMarkingsWeight = 2;

static_assert(kSerialWeight + kManufacturerWeight + kCalibreWeight + kCountryOfManufactureWeight +
                      kModelWeight + kTypeWeight + kImportMarkingWeight +
                      kYearOfManufactureWeight + kComponentSerialsWeight +
                      kOtherMarkingsWeight ==
                  100,
              "a full description scores exactly 100");

// Whitespace is not an identifier: "  " as a serial number traces nothing.
bool present(capnp::Text::Reader text) {
  const std::string_view view(text.cStr(), text.size());
  return std::any_of(view.begin(), view.end(), [](char c) {
    return c != ' ' && c != '\t' && c != '\n' && c != '\r';
  });
}

}  // namespace

CompletenessReport firearm_completeness(wire::Firearm::Reader firearm) {
  CompletenessReport report;
  auto score = [&report](bool has, int weight, const char* field) {
    if (has) {
      report.score += weight;
    } else {
      report.missing.emplace_back(field);
    }
  };

  const auto components = firearm.getComponentSerials();
  const bool has_component_serial = present(components.getFrame()) ||
                                    present(components.getSlide()) ||
                                    present(components.getBarrel());
  const bool has_serial = present(firearm.getSerialNumber());

  switch (firearm.getSerialState()) {
    case wire::SerialState::INTACT:
      score(has_serial, kSerialWeight, "serialNumber");
      break;
    case wire::SerialState::PARTLY_RESTORED:
      score(has_serial, kPartlyRestoredSerialWeight, "serialNumber");
      break;
    case wire::SerialState::OBLITERATED:
    default:
      // Still reported missing: the sender may yet have it restored.
      if (!has_serial) report.missing.emplace_back("serialNumber");
      report.score += (has_serial || has_component_serial) ? kObliteratedWithTracesWeight
                                                           : kObliteratedBareWeight;
      break;
  }
  score(present(firearm.getManufacturer()), kManufacturerWeight, "manufacturer");
  score(present(firearm.getCalibre()), kCalibreWeight, "calibre");
  score(present(firearm.getCountryOfManufacture()), kCountryOfManufactureWeight,
        "countryOfManufacture");
  score(present(firearm.getModel()), kModelWeight, "model");
  score(firearm.getType() != wire::FirearmType::UNSPECIFIED, kTypeWeight, "type");
  score(present(firearm.getImportMarking().getCountry()), kImportMarkingWeight, "importMarking");
  score(firearm.getYearOfManufacture() != 0, kYearOfManufactureWeight, "yearOfManufacture");
  score(has_component_serial, kComponentSerialsWeight, "componentSerials");
  score(present(firearm.getOtherMarkings()) || present(firearm.getStateStockMarking()),
        kOtherMarkingsWeight, "otherMarkings");
  return report;
}

}  // namespace fpx
