#include "fpx/oids.hpp"

#include <string_view>

namespace fpx::oid {

const char* role_oid(Role role) {
  switch (role) {
    case Role::focal_point: return kRoleFocalPoint;
    case Role::agency: return kRoleAgency;
    case Role::observer: return kRoleObserver;
    case Role::broker: return kRoleBroker;
    case Role::cso: return kRoleCso;
  }
  return "";
}

std::optional<Role> role_from_oid(std::string_view dotted) {
  for (Role role : {Role::focal_point, Role::agency, Role::observer, Role::broker, Role::cso}) {
    if (dotted == role_oid(role)) return role;
  }
  return std::nullopt;
}

}  // namespace fpx::oid
