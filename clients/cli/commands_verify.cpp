// fpx verify FILE: checks a saved envelope offline, with nothing but the root
// CA (and, if given, the CRLs). Says plainly whether revocation was checked:
// without CRLs a revoked signer's message still verifies.
#include <iostream>

#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"

namespace fpx::cli {

int run_verify(const GlobalOptions& global, const VerifyOptions& options) {
  std::string root_ca = options.root_ca;
  std::string crl_dir = options.crl_dir;
  if (root_ca.empty()) {
    // A profile is a convenience here, never a requirement.
    auto profile = load_profile(global.profile);
    if (!profile) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument, "no root CA: give --root-ca PATH (or a profile)"));
    }
    root_ca = profile->root_ca.string();
    if (crl_dir.empty()) crl_dir = profile->crl_dir.string();
  }
  auto bytes = read_whole_file(options.file);
  if (!bytes) return report_failure(global, kExitUsage, bytes.error());
  auto trust = TrustStore::load(root_ca, crl_dir);
  if (!trust) return report_failure(global, kExitUsage, trust.error(), "check --root-ca and --crl-dir");

  EnvelopeOpener opener(*trust);
  OpenOptions open_options;
  open_options.revocation = crl_dir.empty() ? RevocationCheck::skip : RevocationCheck::required;
  auto opened = opener.open(*bytes, open_options);
  if (!opened) {
    Error error = opened.error();
    error.message = options.file + " does not verify: " + error.message;
    return report_failure(global, kExitRefused, error, "do not rely on this file; ask its sender for the original");
  }

  const auto& signer = opened->signer.participant;
  const bool checked = opened->signer.revocation == RevocationStatus::checked;
  const std::string revocation = checked ? "checked against CRLs in " + crl_dir
                                         : "NOT checked (no CRLs given): a revoked signer would pass; give --crl-dir";
  const auto header = opened->message.header();
  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
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
                     .text("revocation", revocation)
                     .str()
              << "\n";
    return kExitOk;
  }
  std::cout << options.file << ": valid signature\n";
  std::cout << key_values({{"signer", signer.id.str()},
                           {"country", signer.country.str()},
                           {"role", std::string(role_name(signer.role))},
                           {"type", enum_name(opened->type)},
                           {"created at", format_utc(opened->created_at_ms)},
                           {"message id", opened->message_id.hex()}})
            << "revocation: " << revocation << "\n";
  return kExitOk;
}

}  // namespace fpx::cli
