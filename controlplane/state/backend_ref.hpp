// Identity of one backend of one VIP: the unit that is health-checked, weighted and drained.
// The same address behind two VIPs is two BackendRefs (the checks may differ by port).
#pragma once

#include <compare>
#include <string>

#include "sluice/config/names.hpp"
#include "sluice/ip_address.hpp"

namespace sluice::cp {

struct BackendRef {
  config::VipKey vip;
  IpAddress backend;

  friend auto operator<=>(const BackendRef&, const BackendRef&) = default;
};

// "198.18.0.10:80/tcp 198.18.1.1": log lines and error messages.
[[nodiscard]] inline std::string to_string(const BackendRef& ref) {
  return config::to_string(ref.vip) + " " + ref.backend.to_string();
}

}  // namespace sluice::cp
