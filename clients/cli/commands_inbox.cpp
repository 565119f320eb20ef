// fpx inbox: fetch what the broker holds for this participant, save each
// delivery (exact envelope bytes and a JSON rendering; the file and its
// folder fsynced) and only then confirm it, so that nothing confirmed is ever
// lost by a crash or a power cut in between. One not saved is not confirmed:
// the library hands it over again when the broker resends it.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

struct Row {
  std::string id;
  std::string type;
  std::string from;
  std::string from_country;
  std::string case_reference;
  std::int64_t created_at_ms = 0;
  std::string in_reply_to;
  std::string handling_codes;  // "H0,H2"
  std::string handling;        // "H0: crime-fighting use only; H2: no onward sharing without permission"
  std::string file;
};

Row row_of(const OpenedEnvelope& opened, const std::filesystem::path& file) {
  const auto header = opened.message.header();
  Row row;
  row.id = opened.message_id.hex();
  row.type = enum_name(opened.type);
  row.from = opened.signer.participant.id.str();
  row.from_country = opened.signer.participant.country.str();
  row.case_reference = header.getCaseReference().cStr();
  row.created_at_ms = opened.created_at_ms;
  row.in_reply_to = to_hex(ByteView(header.getInReplyTo().begin(), header.getInReplyTo().size()));
  row.handling_codes = handling_codes_short(header);
  row.handling = handling_summary(header);
  row.file = file.string();
  return row;
}

void print_rows(const GlobalOptions& global, const std::vector<Row>& rows, const std::string& empty_note,
                const text::Catalogue& text) {
  if (global.json) {
    for (const auto& row : rows) {
      std::cout << JsonObject()
                       .text("messageId", row.id)
                       .text("type", row.type)
                       .text("from", row.from)
                       .text("fromCountry", row.from_country)
                       .text("caseReference", row.case_reference)
                       .text("createdAt", format_utc(row.created_at_ms))
                       .number("createdAtMs", row.created_at_ms)
                       .text("inReplyTo", row.in_reply_to)
                       .text("handlingCodes", row.handling_codes)
                       .text("handling", row.handling)
                       .text("file", row.file)
                       .str()
                << "\n";
    }
    return;
  }
  if (rows.empty()) {
    std::cout << text.tr(empty_note) << "\n";
    return;
  }
  // The handling codes in words: what the recipient may do with each
  // message (H2: not passed on; H3: the sender's conditions) is read here first.
  const auto tr = [&](const char* english) { return std::string(text.tr(english)); };
  Table table({tr(N_("id")), tr(N_("type")), tr(N_("from")), tr(N_("case reference")), tr(N_("created")),
               tr(N_("handling"))});
  for (const auto& row : rows) {
    table.add({row.id, row.type, row.from, row.case_reference.empty() ? "-" : row.case_reference,
               format_utc(row.created_at_ms), row.handling});
  }
  std::cout << table.str();
}

// Everything saved before, re-opened from disk (revocation was checked on delivery).
int list_saved(const GlobalOptions& global, const Profile& profile, const text::Catalogue& text) {
  auto trust = TrustStore::load(profile.root_ca, {});
  if (!trust) return report_failure(global, kExitUsage, trust.error(), N_("check pki.root_ca in fpx.toml"));
  EnvelopeOpener opener(*trust);
  OpenOptions options;
  options.revocation = RevocationCheck::skip;
  std::vector<Row> rows;
  std::error_code error;
  for (std::filesystem::directory_iterator it(profile.inbox_dir(), error), end; !error && it != end; it.increment(error)) {
    if (it->path().extension() != kEnvelopeExtension) continue;
    auto bytes = read_whole_file(it->path());
    if (!bytes) continue;
    auto opened = opener.open(*bytes, options);
    if (!opened) {
      std::cerr << "fpx: "
                << fill_values(text.tr(N_("{1} no longer verifies: {2}")), {it->path().string(), opened.error().describe()})
                << "\n";
      continue;
    }
    rows.push_back(row_of(*opened, it->path()));
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.created_at_ms < b.created_at_ms; });
  print_rows(global, rows, N_("the inbox is empty"), text);
  return kExitOk;
}

}  // namespace

int run_inbox(const GlobalOptions& global, const InboxOptions& options) {
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  if (options.wait_seconds < 0 || options.wait_seconds > 3600) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, "--wait must be between 0 and 3600 seconds"),
                          N_("give --wait a number of seconds from 0 to 3600"));
  }
  const text::Catalogue text(language_for_errors(global));
  auto identity = load_identity(*profile);
  if (!identity) return report_failure(global, kExitUsage, identity.error(), N_("check identity.dir in fpx.toml"));
  auto client = connect_profile(*profile, std::move(identity).value());
  if (!client) return report_failure(global, kExitRefused, client.error(), N_("nothing was fetched; try again later"));

  std::vector<Row> rows;
  const auto wait = std::chrono::milliseconds(static_cast<std::int64_t>(options.wait_seconds * 1000));
  const auto deadline = std::chrono::steady_clock::now() + wait;
  int exit_code = kExitOk;
  bool session_failed = false;
  do {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto batch = (*client)->poll(std::max(left, std::chrono::milliseconds(0)));
    if (!batch) {
      session_failed = true;
      exit_code = report_failure(global, kExitRefused, batch.error(), N_("run `fpx inbox` again; unconfirmed messages are resent"));
      break;
    }
    std::vector<client::Delivery> saved;
    for (auto& delivery : *batch) {
      const auto id = delivery.opened.message_id.hex();
      const auto path = envelope_path(profile->inbox_dir(), delivery.opened.message_id);
      if (auto written = write_file_atomically(path, delivery.envelope); !written) {
        // Not confirmed: the broker sends it again, and the library hands
        // it over again, until a run saves it.
        std::cerr << "fpx: "
                  << fill_values(text.tr(N_("message {1} could not be saved: {2}; it was not confirmed, so the broker "
                                            "sends it again: fix the cause and run `fpx inbox` again")),
                                 {id, written.error().describe()})
                  << "\n";
        exit_code = kExitRefused;
        continue;
      }
      const auto json = render_message_json(delivery.opened.message.header(), delivery.opened.message.body());
      if (auto written = write_file_atomically(profile->inbox_dir() / (id + kJsonExtension), as_bytes(json)); !written) {
        std::cerr << "fpx: "
                  << fill_values(text.tr(N_("the JSON rendering of {1} was not written: {2}")),
                                 {id, written.error().describe()})
                  << "\n";
      }
      rows.push_back(row_of(delivery.opened, path));
      saved.push_back(std::move(delivery));
    }
    // Every file above is durable: one durable record and one confirm for the batch.
    if (auto confirmed = (*client)->confirm_all(saved); !confirmed) {
      std::cerr << "fpx: "
                << fill_values(text.tr(N_("confirming {1} saved message(s) failed: {2} (they are saved in {3}; the "
                                          "next `fpx inbox` may list them again)")),
                               {std::to_string(saved.size()), confirmed.error().describe(), profile->inbox_dir().string()})
                << "\n";
    }
  } while (std::chrono::steady_clock::now() < deadline);
  // The last confirms must leave before the process ends and its socket
  // with them; otherwise the sender's `trace status` says "delivered" until
  // the next `fpx inbox`.
  if (!rows.empty() && !session_failed) {
    if (auto flushed = (*client)->flush_confirms(); !flushed) {
      std::cerr << "fpx: " << flushed.error().describe() << "\n";
    }
  }
  report_background_events(**client, text.language());

  if (options.all) return list_saved(global, *profile, text);
  print_rows(global, rows, N_("no new messages (saved ones: fpx inbox --all)"), text);
  if (!global.json && !rows.empty()) {
    std::cout << fill_values(text.tr(N_("{1} new message(s) saved in {2}")),
                             {std::to_string(rows.size()), profile->inbox_dir().string()})
              << "\n";
  }
  return exit_code;
}

}  // namespace fpx::cli
