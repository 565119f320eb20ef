// The envelopes a profile keeps: inbox/ (delivered to this participant) and
// sent/ (submitted by it, with the broker's signed receipt). Files are named
// by message id so that `fpx trace ack 3f0a` can find the request by prefix.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"
#include "text.hpp"

namespace fpx::cli {

inline constexpr const char* kEnvelopeExtension = ".fpx";
inline constexpr const char* kJsonExtension = ".json";
inline constexpr const char* kReceiptExtension = ".receipt";

// Written to a temporary name, fsynced, renamed, and the folder fsynced
// (folders it had to create too): a crash never leaves a half-written
// envelope that `fpx verify` would call forged, and once this returns the
// file survives a power cut, so the delivery may be confirmed.
Status write_file_atomically(const std::filesystem::path& path, ByteView bytes);
Result<Bytes> read_whole_file(const std::filesystem::path& path);

// A full 32-digit hex id, or a prefix that matches exactly one saved
// envelope in `folders`. Its errors are in `language` (issue 17): they say
// what to type instead.
Result<MessageId> resolve_message_id(std::string_view id_or_prefix, const std::vector<std::filesystem::path>& folders,
                                     text::Language language = text::Language::en);

std::filesystem::path envelope_path(const std::filesystem::path& folder, const MessageId& id);

}  // namespace fpx::cli
