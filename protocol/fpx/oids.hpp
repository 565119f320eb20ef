// FPX's object identifiers, under the UUID arc 2.25 (ITU-T X.667): no
// registration needed and no collision with anyone else's arc.
#pragma once

#include <optional>

#include "fpx/ids.hpp"

namespace fpx::oid {

// 2.25.<uuid 51974f12-ffa3-4a84-b123-9a0658f32d4c as an integer>
#define FPX_OID_ARC "2.25.108453108299798642731732387629716680012"

// Role: an extended-key-usage purpose in the participant's certificate.
inline constexpr const char* kRoleFocalPoint = FPX_OID_ARC ".1.1";
inline constexpr const char* kRoleAgency = FPX_OID_ARC ".1.2";
inline constexpr const char* kRoleObserver = FPX_OID_ARC ".1.3";
inline constexpr const char* kRoleBroker = FPX_OID_ARC ".1.4";
// A civil-society organisation's voice: root-issued only (never in a national
// CA's EKU list), so no state chooses which CSOs may warn it.
inline constexpr const char* kRoleCso = FPX_OID_ARC ".1.5";

// The participant's CURVE (X25519) public key: a non-critical extension whose
// value is an OCTET STRING of the 32 raw key bytes. Non-critical because
// OpenSSL refuses a chain with a critical extension it does not know.
inline constexpr const char* kCurvePublicKey = FPX_OID_ARC ".2.1";

// The officer who holds this certificate, under its participant (CN): a
// non-critical extension whose value is a UTF8String officer name (see
// valid_officer_name). Absent: the participant's own (office) certificate.
inline constexpr const char* kOfficer = FPX_OID_ARC ".2.2";

// A national CA's certificate lists, as extended-key-usage purposes, the role
// OIDs above that it may issue (focal-point and agency only), so a verifier
// holding only the root can refuse a broker or observer certificate it signed.

const char* role_oid(Role role);
std::optional<Role> role_from_oid(std::string_view dotted);

}  // namespace fpx::oid
