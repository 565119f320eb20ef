// Messages built from the desk's forms. A form becomes the same
// {"header": ..., "body": ...} JSON a person would write for `fpx trace
// submit` and goes through the same decoder (Cap'n Proto's JsonCodec via
// parse_message_json: unknown fields and enum values are errors), so the
// desk can send nothing the command line would not. Form fields are named by
// their path in the message ("firearms[0].calibre", "header.priority"), so a
// validation error's path names the field to fix.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "fpx/certificate.hpp"
#include "fpx/envelope.hpp"
#include "json_messages.hpp"

namespace fpx::desk {

using Form = std::multimap<std::string, std::string>;

// Rows of a form that repeat, at most: what the pages offer.
inline constexpr std::size_t kRequestedStateRows = 3;
inline constexpr std::size_t kCustodyHopRows = 3;

std::string form_value(const Form& form, const std::string& name);
std::vector<std::string> form_values(const Form& form, const std::string& name);

// The form field a validator path names: "body.tracingRequest.firearms[0].calibre"
// -> "firearms[0].calibre"; "header.priority" stays.
std::string form_field_of(const std::string& path);

// A new tracing request from `me` (requesting country and agency from the
// certificate; recipients: the requested states).
Status compose_request(const Form& form, const ParticipantInfo& me, cli::Draft& draft);
// Replies to `request` (received here at `received_at_ms`), addressed back to
// its sender's state, keeping its case reference, priority and handling codes.
Status compose_acknowledgement(const Form& form, const OpenedEnvelope& request, std::int64_t received_at_ms,
                               const ParticipantInfo& me, cli::Draft& draft);
Status compose_response(const Form& form, const OpenedEnvelope& request, cli::Draft& draft);
// The requesting side closes its own request: addressed to the requested states.
Status compose_close(const Form& form, const OpenedEnvelope& request, cli::Draft& draft);

// The other steps of a case, shared by the desk's forms and `fpx trace
// forward / supply / withdraw / close` (the command line fills a Form from
// its options): one place turns a step into a message.
//
// A requested state passes the request on ("toCountry", "reason"): the
// request's handling codes and H3 conditions travel with it (the broker
// refuses a forward that drops one, and any forward of an H2 request).
Status compose_forward(const Form& form, const OpenedEnvelope& request, cli::Draft& draft);
// The requesting side answers "more information needed": "note", and
// "fields" lines "path=value" (a path as the acknowledgement's missingFields
// named it). Addressed to the requested states.
Status compose_information_supplied(const Form& form, const OpenedEnvelope& request, cli::Draft& draft);
// The requesting side withdraws its request ("reason"): addressed to the requested states.
Status compose_withdraw(const Form& form, const OpenedEnvelope& request, cli::Draft& draft);

// An early-warning alert from the desk's form: kind, where it goes ("region"
// or "recipientCountry"), one firearm and/or a batch, place, dates, summary.
Status compose_alert(const Form& form, cli::Draft& draft);
// Lifts an alert we raised (the broker drops its watch list): an alert of
// kind cancel in reply to it, to the same recipients, with its case reference.
Status compose_alert_cancel(const Form& form, const OpenedEnvelope& alert, cli::Draft& draft);

}  // namespace fpx::desk
