#include "loader/map_layout.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace sluice::bpf {

VipKey make_vip_key(const IpAddress& address, std::uint16_t port, std::uint8_t protocol) {
  VipKey key{};
  std::memcpy(key.address, address.bytes.data(), sizeof(key.address));
  key.port = htons(port);
  key.protocol = protocol;
  key.family = static_cast<std::uint8_t>(address.family);
  return key;
}

AddressKey make_address_key(const IpAddress& address) {
  AddressKey key{};
  std::memcpy(key.address, address.bytes.data(), sizeof(key.address));
  key.family = static_cast<std::uint8_t>(address.family);
  return key;
}

IpAddress address_of(const VipKey& key) {
  IpAddress address;
  std::memcpy(address.bytes.data(), key.address, sizeof(key.address));
  address.family = static_cast<AddressFamily>(key.family);
  return address;
}

std::uint16_t port_of(const VipKey& key) {
  return ntohs(key.port);
}

}  // namespace sluice::bpf
