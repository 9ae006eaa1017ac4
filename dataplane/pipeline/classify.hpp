// VIP lookup: (destination address, protocol, port) with a fallback to the port-0 (any port)
// VIP. A flat open-addressing table built once per snapshot; lookups never allocate.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include <nmmintrin.h>

#include "sluice/flow_key.hpp"

namespace sluice::pipeline {

inline constexpr std::uint16_t kNoVip = 0xFFFF;
inline constexpr std::uint16_t kAmbiguousFragmentVip = 0xFFFE;  // lookup_fragment() only

// What a lookup key means for the protocol byte; real protocols are 6 and 17.
inline constexpr std::uint8_t kClassifyAnyProtocol = 0;  // "is this address a VIP address?"

// The fields, offsets and size of the steering program's VIP key (struct sluice_vip_key,
// bpf/maps.h; checked in classify.cpp), so both VIP keys read alike. Here the port is in host
// order and `family` also carries the flag bits of the derived keys (classify.cpp).
struct ClassifyKey {
  std::uint8_t addr[16] = {};
  std::uint16_t port = 0;
  std::uint8_t protocol = 0;
  std::uint8_t family = 0;
};
static_assert(sizeof(ClassifyKey) == 20);

class ClassifyTable {
 public:
  ClassifyTable() = default;

  // Adds (address, protocol, port) -> vip_index; returns false on a duplicate key.
  bool insert(const ClassifyKey& key, std::uint16_t vip_index);
  // Builds the probe table; call once after all inserts.
  void finalize();

  // Exact port, then port 0; kNoVip when neither.
  [[nodiscard]] std::uint16_t lookup(const FlowKey& key) const;
  [[nodiscard]] std::uint16_t lookup(const std::uint8_t* addr16, std::uint8_t family,
                                     std::uint8_t protocol, std::uint16_t port) const;
  // The VIP used for IP fragments to (address, protocol): the port-0 VIP, else the only VIP
  // on that address and protocol; kAmbiguousFragmentVip when several VIPs of that protocol
  // share the address (a fragment has no port to tell them apart); kNoVip when none.
  [[nodiscard]] std::uint16_t lookup_fragment(const FlowKey& key) const;
  // True when some VIP (any port or protocol) has this destination address.
  [[nodiscard]] bool is_vip_address(const FlowKey& key) const;

  // lookup() for an IPv4 key, inline, from a table of 8-byte keys (the per-packet path).
  [[nodiscard]] std::uint16_t lookup_v4(const FlowKey& key) const {
    std::uint32_t address;
    std::memcpy(&address, key.dst_addr.data(), sizeof(address));
    const std::uint16_t exact = find_v4(v4_key(address, key.dst_port, key.protocol));
    if (exact != kNoVip || key.dst_port == 0) return exact;
    return find_v4(v4_key(address, 0, key.protocol));
  }

 private:
  struct Slot {
    ClassifyKey key;
    std::uint16_t value = kNoVip;
    std::uint16_t used = 0;
  };
  // An IPv4 VIP key in ClassifyKey's order: address (as stored) in bits 0..31, port in 32..47,
  // protocol in 48..55, and a marker bit so that 0 is empty.
  struct V4Slot {
    std::uint64_t key = 0;
    std::uint16_t value = kNoVip;
  };
  [[nodiscard]] static std::uint64_t v4_key(std::uint32_t address, std::uint16_t port,
                                            std::uint8_t protocol) {
    return (1ull << 63) | (std::uint64_t{protocol} << 48) | (std::uint64_t{port} << 32) | address;
  }
  [[nodiscard]] std::uint16_t find_v4(std::uint64_t key) const {
    for (std::uint32_t i = static_cast<std::uint32_t>(_mm_crc32_u64(0, key)) & v4_mask_;;
         i = (i + 1) & v4_mask_) {
      const V4Slot& s = v4_[i];
      if (s.key == key) return s.value;
      if (s.key == 0) return kNoVip;
    }
  }

  void place(const ClassifyKey& key, std::uint16_t value);
  [[nodiscard]] std::uint16_t find(const ClassifyKey& key) const;
  void build_v4_index();

  std::vector<Slot> pending_;
  std::vector<Slot> slots_;  // power-of-two size, at most half full
  std::uint32_t mask_ = 0;
  std::vector<V4Slot> v4_ = std::vector<V4Slot>(1);  // exact IPv4 VIP keys; never full
  std::uint32_t v4_mask_ = 0;
};

}  // namespace sluice::pipeline
