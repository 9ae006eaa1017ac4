// A small valid state for tests to mutate.
#pragma once

#include "sluice/config/model.hpp"

namespace sluice::config::testing {

inline IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

inline State valid_state() {
  State s;
  s.generation = 7;
  s.dataplane.next_hop_mac = {0x02, 0, 0, 0, 0, 0xfe};
  s.dataplane.tunnel_source_v4 = ip("198.18.0.1");
  s.dataplane.tunnel_source_v6 = ip("2001:db8::1");

  Vip web;
  web.address = ip("198.18.0.10");
  web.port = 80;
  web.backends = {Backend{ip("198.18.1.1"), 1, false, {}, {}, {}},
                  Backend{ip("198.18.1.2"), 2, false, {}, {}, {}}};
  s.vips.push_back(web);

  Vip dns;
  dns.address = ip("2001:db8::10");
  dns.port = 53;
  dns.protocol = Protocol::udp;
  dns.encap = Encap::gue;
  dns.backends = {Backend{ip("2001:db8:1::1"), 1, false, {}, {}, {}}};
  s.vips.push_back(dns);
  return s;
}

}  // namespace sluice::config::testing
