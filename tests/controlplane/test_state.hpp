// Builders of small, valid states for the control-plane tests.
#pragma once

#include <string>

#include "sluice/config/model.hpp"
#include "sluice/ip_address.hpp"

namespace sluice::cp::testing {

inline IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

inline config::Backend backend(const char* address, std::uint32_t weight = 1) {
  config::Backend b;
  b.address = ip(address);
  b.weight = weight;
  return b;
}

inline config::Vip vip(const char* address, std::uint16_t port,
                       std::initializer_list<config::Backend> backends = {}) {
  config::Vip v;
  v.address = ip(address);
  v.port = port;
  v.backends = backends;
  return v;
}

inline config::State base_state() {
  config::State s;
  s.dataplane.next_hop_mac = {0x02, 0, 0, 0, 0, 0xfe};
  s.dataplane.tunnel_source_v4 = ip("198.18.0.1");
  s.dataplane.tunnel_source_v6 = ip("2001:db8::1");
  return s;
}

}  // namespace sluice::cp::testing
