// fpx log prove: "my message is in the log everyone sees". From a message
// this profile sent (sent/<id>.fpx and the broker's receipt beside it), asks
// the broker for the message's leaf and its inclusion proof against the
// latest signed checkpoint, and checks them with the pinned broker key
// (docs/PROTOCOL.md §6.1, fpx/message_log_proof.hpp).
#include <chrono>
#include <filesystem>
#include <iostream>

#include "fpx/envelope.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/receipt.hpp"
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

}  // namespace

int run_log_prove(const GlobalOptions& global, const LogProveOptions& options) {
  const text::Catalogue text(language_for_errors(global));
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());

  // The message: a saved envelope file, or an id (or a prefix or suffix) of sent/.
  std::filesystem::path envelope_file;
  std::error_code exists_error;
  if (std::filesystem::is_regular_file(options.message, exists_error)) {
    envelope_file = options.message;
  } else {
    auto id = resolve_message_id(options.message, {profile->sent_dir()}, text.language());
    if (!id) {
      return report_failure(global, kExitUsage, id.error(),
                            fill_values(text.tr(N_("give an id of a message in {1} or a saved .fpx file")),
                                        {profile->sent_dir().string()}));
    }
    envelope_file = envelope_path(profile->sent_dir(), *id);
  }
  auto receipt_file = envelope_file;
  receipt_file.replace_extension(kReceiptExtension);
  auto envelope = read_whole_file(envelope_file);
  if (!envelope) return report_failure(global, kExitUsage, envelope.error());
  auto receipt_bytes = read_whole_file(receipt_file);
  if (!receipt_bytes) {
    return report_failure(global, kExitUsage, receipt_bytes.error(),
                          fill_values(text.tr(N_("the broker's receipt must lie beside the message ({1}): fpx keeps "
                                                 "it in sent/ for every message it sent")),
                                      {receipt_file.string()}));
  }
  auto trust = TrustStore::load(profile->root_ca, profile->crl_dir);
  if (!trust) return report_failure(global, kExitUsage, trust.error(), N_("check the profile's root CA and CRL folder"));

  // What the message is: our own envelope, read for its id, type and the
  // sender's country (revocation since then changes none of them).
  EnvelopeOpener opener(*trust);
  OpenOptions open_options;
  open_options.revocation = RevocationCheck::skip;
  auto opened = opener.open(*envelope, open_options);
  if (!opened) {
    return report_failure(global, kExitRefused, opened.error(),
                          fill_values(text.tr(N_("{1} does not open: give a message fpx saved in sent/")),
                                      {envelope_file.string()}));
  }

  // Where the broker put it: its receipt, signed by a pinned key. That key
  // is the one the checkpoint must be signed with.
  client::ReceiptExpectation expected;
  expected.message_id = opened->message_id;
  expected.envelope_sha256 = sha256(*envelope);
  expected.broker_pins = profile->broker_pins;
  auto receipt = client::verify_receipt(*trust, *receipt_bytes, expected);
  if (!receipt) {
    return report_failure(global, kExitRefused, receipt.error(),
                          fill_values(text.tr(N_("the receipt {1} is refused: check the profile's broker pins "
                                                 "(`fpx profile pin`)")),
                                      {receipt_file.string()}));
  }
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto signer = open_receipt(*trust, *receipt_bytes, now_ms, RevocationCheck::skip);
  if (!signer) return report_failure(global, kExitRefused, signer.error());
  auto broker_key = client::ed25519_key_of(*signer->signer.leaf);
  if (!broker_key) return report_failure(global, kExitRefused, broker_key.error());

  auto identity = load_identity(*profile);
  if (!identity) return report_failure(global, kExitUsage, identity.error());
  auto connected = connect_profile(*profile, std::move(identity).value());
  if (!connected) return report_failure(global, kExitRefused, connected.error());
  auto proof = (*connected)->log_proof(opened->message_id);
  if (!proof) return report_failure(global, kExitRefused, proof.error());

  OwnMessage own;
  own.message_id = opened->message_id;
  own.log_index = receipt->log_index;
  own.stored_at_ms = receipt->stored_at_ms;
  own.type = std::string(message_type_name(opened->type));
  own.sender_country = opened->signer.participant.country;
  auto included = verify_message_log_proof(*proof, own, profile->log_origin, *broker_key);
  if (!included) {
    return report_failure(global, kExitRefused, included.error(),
                          fill_values(text.tr(N_("keep {1} and its receipt: with this answer they are evidence")),
                                      {envelope_file.string()}));
  }
  // The checkpoint proved against must be the one everyone sees: with the
  // profile's witness_quorum, that many of its [[witnesses]] cosigned it.
  auto witnessed = client::require_witnessed(proof->checkpoint_note, profile->witnesses, profile->witness_quorum);
  if (!witnessed) {
    return report_failure(global, kExitRefused, witnessed.error(),
                          N_("the message is in the log this broker showed you, but that checkpoint is not witnessed: "
                             "run fpx log prove again after the next checkpoint"));
  }
  const Checkpoint& checkpoint = included->checkpoint;
  if (global.json) {
    JsonObject out;
    out.boolean("ok", true)
        .text("messageId", opened->message_id.hex())
        .unsigned_number("logIndex", proof->leaf_index)
        .text("leafHash", to_hex(included->leaf_hash))
        .text("origin", checkpoint.origin)
        .unsigned_number("treeSize", checkpoint.size)
        .text("rootHash", to_hex(checkpoint.root))
        .text("checkpoint", proof->checkpoint_note)
        .text("witnesses", *witnessed ? (*witnessed)->describe() : std::string("none required"))
        .text("event", proof->event_metadata);
    std::cout << out.str() << "\n";
    return kExitOk;
  }
  std::cout << fill_values(text.tr(N_("message {1} ({2}, stored {3})")),
                           {opened->message_id.hex(), own.type, format_utc(receipt->stored_at_ms)})
            << "\n"
            << fill_values(text.tr(N_("checkpoint: {1}, tree size {2}, root {3} (signed by the pinned broker key)")),
                           {checkpoint.origin, std::to_string(checkpoint.size), to_hex(checkpoint.root)})
            << "\n"
            << proof->checkpoint_note
            << fill_values(text.tr(N_("leaf: {1}, its event part \"{2}\" names this message")),
                           {to_hex(included->leaf_hash), proof->event_metadata})
            << "\n"
            << fill_values(text.tr(N_("included at index {1}")), {std::to_string(proof->leaf_index)}) << "\n";
  if (*witnessed) std::cout << text.tr(N_("witnesses:")) << " " << (*witnessed)->describe() << "\n";
  return kExitOk;
}

}  // namespace fpx::cli
