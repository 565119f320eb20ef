// What every command that talks to the broker or sends a message shares:
// connecting with a profile, and the check -> seal -> submit -> save path.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "cli.hpp"
#include "fpx/attachments.hpp"
#include "fpx/client.hpp"
#include "json_messages.hpp"
#include "profile.hpp"
#include "text.hpp"

namespace fpx::cli {

// Connects as the profile's participant. On failure the error already says
// what to check (broker running, broker key, enrolment).
Result<std::unique_ptr<client::Client>> connect_profile(const Profile& profile, Identity identity);

// Reports, on stderr, what the library learned in the background: earlier
// messages the broker refused after a resend, deliveries that failed
// verification. People must hear about these; they are not this command's result.
// In `language` (issue 17); English for a caller that has not chosen.
void report_background_events(client::Client& client, text::Language language = text::Language::en);

// Checks that the participant's role may send it, seals (filling sender, id,
// time and body hash), validates with the exchange's rules, prints the
// completeness of every firearm, then either stops (dry run) or submits and
// saves the envelope and its receipt under sent/. Returns the exit code.
// `attachments` (issue 17) go by hash into the signed header, their bytes
// into the envelope.
int seal_and_send(const GlobalOptions& global, const Profile& profile, Identity identity, Draft& draft,
                  bool dry_run, const std::string& source, std::span<const AttachmentFile> attachments = {});

// Reads FILE for --attach: refused before reading when larger than
// kMaxAttachmentBytes, then checked and named by make_attachment.
Result<AttachmentFile> read_attachment(const std::filesystem::path& path);

}  // namespace fpx::cli
