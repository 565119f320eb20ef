// fpx verify FILE: checks a saved envelope offline, with nothing but the root
// CA (and, if given, the CRLs). Says plainly whether revocation was checked:
// without CRLs a revoked signer's message still verifies.
//
// Revocation is judged at the broker's time when the file has one: a sent
// message kept with its receipt (sent/<id>.fpx beside sent/<id>.receipt) was
// stored by the exchange at the receipt's storedAtMs, which the sender cannot
// choose. Judged at the sender's own created-at alone, a revoked signer
// could backdate created-at to before its revocation. A broker-signed file
// (a reminder, an escalation, a notice) and a receipt must carry a pinned
// exchange key.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "fpx/aligned_reader.hpp"
#include "fpx/crypto.hpp"
#include "fpx/verify_receipt.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

// The signer chain of an envelope that EnvelopeOpener accepted already
// (decoded with the same limits), to judge it again at the receipt's time.
Result<std::vector<Bytes>> signer_chain_of(const Bytes& envelope_bytes) {
  return read_message<wire::Envelope>(envelope_bytes, Framing::flat, "envelope",
                                     [](wire::Envelope::Reader envelope) -> Result<std::vector<Bytes>> {
                                       std::vector<Bytes> chain;
                                       for (auto certificate : envelope.getSignerChain()) {
                                         chain.emplace_back(certificate.begin(), certificate.end());
                                       }
                                       return chain;
                                     });
}

// The receipt kept beside a sent message: sent/<id>.fpx -> sent/<id>.receipt.
std::filesystem::path receipt_path_of(const std::filesystem::path& envelope_file) {
  auto path = envelope_file;
  path.replace_extension(kReceiptExtension);
  return path;
}

}  // namespace

int run_verify(const GlobalOptions& global, const VerifyOptions& options) {
  const text::Catalogue text(language_for_errors(global));
  const auto tr = [&](const char* english) { return std::string(text.tr(english)); };
  std::string root_ca = options.root_ca;
  std::string crl_dir = options.crl_dir;
  client::BrokerPins pins;
  for (const auto& text : options.broker_pins) {
    auto pin = client::BrokerKeyPin::parse(text);
    if (!pin) return report_failure(global, kExitUsage, pin.error());
    pins.push_back(*pin);
  }
  // A profile is a convenience here, never a requirement: it fills what the
  // options leave out (root CA, CRLs, pins).
  const bool profile_named = !global.profile.empty() || std::getenv(kProfileEnv) != nullptr;
  if (root_ca.empty() || (pins.empty() && profile_named)) {
    auto profile = load_profile(global.profile);
    if (!profile && root_ca.empty()) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument, tr(N_("no root CA: give --root-ca PATH (or a profile)"))));
    }
    if (profile) {
      if (root_ca.empty()) {
        root_ca = profile->root_ca.string();
        if (crl_dir.empty()) crl_dir = profile->crl_dir.string();
      }
      if (pins.empty()) pins = profile->broker_pins;
    }
  }
  auto bytes = read_whole_file(options.file);
  if (!bytes) return report_failure(global, kExitUsage, bytes.error());
  auto trust = TrustStore::load(root_ca, crl_dir);
  if (!trust) return report_failure(global, kExitUsage, trust.error(), N_("check --root-ca and --crl-dir"));
  const RevocationCheck revocation = crl_dir.empty() ? RevocationCheck::skip : RevocationCheck::required;

  auto refuse = [&](Error error, const std::string& what) {
    error.message = fill_values(text.tr(N_("{1} does not verify: {2}")), {options.file, what + error.message});
    return report_failure(global, kExitRefused, error, N_("do not rely on this file; ask its sender for the original"));
  };

  EnvelopeOpener opener(*trust);
  OpenOptions open_options;
  open_options.revocation = revocation;
  auto opened = opener.open(*bytes, open_options);
  if (!opened) return refuse(opened.error(), "");

  const auto& signer = opened->signer.participant;
  // A broker-made message is the exchange's word only under its pinned key.
  if (signer.role == Role::broker) {
    if (pins.empty()) {
      return report_failure(
          global, kExitUsage,
          make_error(ErrorCode::invalid_argument,
                     fill_values(text.tr(N_("{1} is signed by a broker, and no broker key is pinned to judge it")),
                                 {options.file})),
          N_("give --broker-pin sha256:<hex> (the exchange's key, as the operator publishes it) or a "
             "profile"));
    }
    if (auto pinned = client::check_pinned_broker(pins, *opened->signer.leaf, "this broker notice"); !pinned) {
      return refuse(std::move(pinned).take_error(), "");
    }
  }

  // The broker's receipt, if one is kept beside the file: when the exchange
  // stored the message, which is when revocation is judged.
  std::optional<client::Receipt> receipt;
  const auto receipt_file = receipt_path_of(options.file);
  std::error_code exists_error;
  if (std::filesystem::exists(receipt_file, exists_error)) {
    if (pins.empty()) {
      return report_failure(
          global, kExitUsage,
          make_error(ErrorCode::invalid_argument,
                     fill_values(text.tr(N_("{1} is a broker receipt, and no broker key is pinned to judge it")),
                                 {receipt_file.string()})),
          N_("give --broker-pin sha256:<hex> or a profile; or move the receipt away to verify the "
             "message alone"));
    }
    auto receipt_bytes = read_whole_file(receipt_file);
    if (!receipt_bytes) return report_failure(global, kExitUsage, receipt_bytes.error());
    client::ReceiptExpectation expected;
    expected.message_id = opened->message_id;
    expected.envelope_sha256 = sha256(*bytes);
    expected.revocation = revocation;
    expected.broker_pins = pins;
    auto verified = client::verify_receipt(*trust, *receipt_bytes, expected);
    if (!verified) {
      return refuse(verified.error(), fill_values(text.tr(N_("its receipt {1} is refused: ")), {receipt_file.string()}));
    }
    receipt = std::move(verified).value();
    if (revocation == RevocationCheck::required) {
      auto chain = signer_chain_of(*bytes);
      if (!chain) return refuse(chain.error(), "");
      std::vector<ByteView> views(chain->begin(), chain->end());
      // Never earlier than created-at: a receipt cannot make a message older.
      const std::int64_t judged_at = std::max(receipt->stored_at_ms, opened->created_at_ms);
      auto at_receipt = trust->verify_chain(views, judged_at, now_ms(), RevocationCheck::required);
      if (!at_receipt) {
        return refuse(at_receipt.error(),
                      fill_values(text.tr(N_("at the broker's receipt time ({1}, created-at says {2}): ")),
                                  {format_utc(receipt->stored_at_ms), format_utc(opened->created_at_ms)}));
      }
    }
  }

  const bool checked = opened->signer.revocation == RevocationStatus::checked;
  // English in the JSON output (scripts), the reader's language on the terminal.
  const auto revocation_words = [&](const text::Catalogue& words) {
    std::string out = checked ? fill_values(words.tr(N_("checked against CRLs in {1}")), {crl_dir})
                              : std::string(words.tr(N_("NOT checked (no CRLs given): a revoked signer would pass; "
                                                        "give --crl-dir")));
    if (checked) {
      out += receipt ? words.tr(N_(", at the broker's receipt time"))
                     : words.tr(N_(", at the sender's created-at (no broker receipt beside the file)"));
    }
    return out;
  };
  const std::string revocation_text = revocation_words(text::Catalogue(text::Language::en));
  const auto header = opened->message.header();
  if (global.json) {
    JsonObject out;
    out.boolean("ok", true)
        .text("file", options.file)
        .text("messageId", opened->message_id.hex())
        .text("type", enum_name(opened->type))
        .text("signer", signer.id.str())
        .text("country", signer.country.str())
        .text("role", role_name(signer.role))
        .text("createdAt", format_utc(opened->created_at_ms))
        .number("createdAtMs", opened->created_at_ms)
        .text("caseReference", header.getCaseReference().cStr())
        .boolean("revocationChecked", checked)
        .text("revocation", revocation_text);
    if (receipt) {
      out.text("storedAt", format_utc(receipt->stored_at_ms))
          .number("storedAtMs", receipt->stored_at_ms)
          .unsigned_number("logIndex", receipt->log_index)
          .unsigned_number("receiptVersion", static_cast<std::uint16_t>(receipt->version));
      if (receipt->version == ReceiptVersion::group) {
        out.unsigned_number("receiptGroupSize", receipt->group_size)
            .unsigned_number("receiptLeafIndex", receipt->leaf_index);
      }
    }
    std::cout << out.str() << "\n";
    return kExitOk;
  }
  std::cout << fill_values(text.tr(N_("{1}: valid signature")), {options.file}) << "\n";
  std::vector<std::pair<std::string, std::string>> rows{{tr(N_("signer")), signer.id.str()},
                                                        {tr(N_("country")), signer.country.str()},
                                                        {tr(N_("role")), std::string(role_name(signer.role))},
                                                        {tr(N_("type")), enum_name(opened->type)},
                                                        {tr(N_("created at")), format_utc(opened->created_at_ms)},
                                                        {tr(N_("message id")), opened->message_id.hex()}};
  if (receipt) {
    rows.emplace_back(tr(N_("stored at")),
                      fill_values(text.tr(N_("{1} (broker receipt verified, log index {2})")),
                                  {format_utc(receipt->stored_at_ms), std::to_string(receipt->log_index)}));
    if (receipt->version == ReceiptVersion::group) {
      rows.emplace_back(tr(N_("receipt group")),
                        fill_values(text.tr(N_("leaf {1} of {2}, one broker signature")),
                                    {std::to_string(receipt->leaf_index), std::to_string(receipt->group_size)}));
    } else {
      rows.emplace_back(tr(N_("receipt group")), tr(N_("none (a version 1 receipt, signed alone)")));
    }
  }
  std::cout << key_values(rows) << text.tr(N_("revocation:")) << " " << revocation_words(text) << "\n";
  return kExitOk;
}

}  // namespace fpx::cli
