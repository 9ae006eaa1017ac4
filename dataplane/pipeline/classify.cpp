#include "pipeline/classify.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include <nmmintrin.h>

#include "maps.h"

namespace sluice::pipeline {
namespace {

static_assert(sizeof(ClassifyKey) == sizeof(sluice_vip_key));
static_assert(offsetof(ClassifyKey, addr) == offsetof(sluice_vip_key, address));
static_assert(sizeof(ClassifyKey::addr) == sizeof(sluice_vip_key::address));
static_assert(offsetof(ClassifyKey, port) == offsetof(sluice_vip_key, port));
static_assert(offsetof(ClassifyKey, protocol) == offsetof(sluice_vip_key, protocol));
static_assert(offsetof(ClassifyKey, family) == offsetof(sluice_vip_key, family));
// Keys are hashed and compared as bytes: no padding may take part.
static_assert(std::has_unique_object_representations_v<ClassifyKey>);

// Derived keys live in the same table, told apart by a bit in the family byte.
constexpr std::uint8_t kFragmentFamilyBit = 0x80;  // (address, protocol): VIP for fragments
constexpr std::uint8_t kAddressFamilyBit = 0x40;   // (address): some VIP has this address

constexpr std::uint32_t kClassifySeed = 0x51CE0001u;

// CRC32C of the 20 key bytes, inline (a lookup per packet): address 8 + 8, then port,
// protocol and family as one 4-byte word.
std::uint32_t hash_key(const ClassifyKey& key) {
  std::uint64_t a;
  std::uint64_t b;
  std::uint32_t c;
  const auto* p = reinterpret_cast<const std::uint8_t*>(&key);
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + 8, 8);
  std::memcpy(&c, p + 16, 4);
  std::uint64_t crc = _mm_crc32_u64(kClassifySeed, a);
  crc = _mm_crc32_u64(crc, b);
  return _mm_crc32_u32(static_cast<std::uint32_t>(crc), c);
}

bool same_key(const ClassifyKey& a, const ClassifyKey& b) {
  return std::memcmp(&a, &b, sizeof(ClassifyKey)) == 0;
}

ClassifyKey make_key(const std::uint8_t* addr16, std::uint8_t family, std::uint8_t protocol,
                     std::uint16_t port) {
  ClassifyKey k;
  std::memcpy(k.addr, addr16, sizeof(k.addr));
  k.family = family;
  k.protocol = protocol;
  k.port = port;
  return k;
}

}  // namespace

bool ClassifyTable::insert(const ClassifyKey& key, std::uint16_t vip_index) {
  for (const Slot& s : pending_) {
    if (same_key(s.key, key)) return false;
  }
  pending_.push_back(Slot{key, vip_index, 1});
  return true;
}

void ClassifyTable::place(const ClassifyKey& key, std::uint16_t value) {
  for (std::uint32_t i = hash_key(key) & mask_;; i = (i + 1) & mask_) {
    if (!slots_[i].used) {
      slots_[i] = Slot{key, value, 1};
      return;
    }
  }
}

void ClassifyTable::build_v4_index() {
  std::size_t count = 0;
  for (const Slot& s : pending_)
    count += s.key.family == static_cast<std::uint8_t>(AddressFamily::v4) ? 1 : 0;
  const std::size_t size = std::bit_ceil(std::max<std::size_t>(16, count * 2));
  v4_.assign(size, V4Slot{});
  v4_mask_ = static_cast<std::uint32_t>(size - 1);
  for (const Slot& s : pending_) {
    if (s.key.family != static_cast<std::uint8_t>(AddressFamily::v4)) continue;
    std::uint32_t address;
    std::memcpy(&address, s.key.addr, sizeof(address));
    const std::uint64_t key = v4_key(address, s.key.port, s.key.protocol);
    std::uint32_t i = static_cast<std::uint32_t>(_mm_crc32_u64(0, key)) & v4_mask_;
    while (v4_[i].key != 0)
      i = (i + 1) & v4_mask_;
    v4_[i] = V4Slot{key, s.value};
  }
}

void ClassifyTable::finalize() {
  build_v4_index();
  // Fragment index: per (address, family, protocol), the port-0 VIP, else the only VIP.
  struct Group {
    ClassifyKey key;
    std::uint16_t any_port = kNoVip;
    std::uint16_t only = kNoVip;
    std::uint32_t count = 0;
  };
  std::vector<Group> groups;
  std::vector<ClassifyKey> addresses;
  for (const Slot& s : pending_) {
    ClassifyKey g = s.key;
    g.family = static_cast<std::uint8_t>(g.family | kFragmentFamilyBit);
    g.port = 0;
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& x) { return same_key(x.key, g); });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{g});
    ++it->count;
    it->only = s.value;
    if (s.key.port == 0) it->any_port = s.value;

    ClassifyKey a = s.key;
    a.family = static_cast<std::uint8_t>(a.family | kAddressFamilyBit);
    a.protocol = kClassifyAnyProtocol;
    a.port = 0;
    if (std::none_of(addresses.begin(), addresses.end(),
                     [&](const ClassifyKey& x) { return same_key(x, a); })) {
      addresses.push_back(a);
    }
  }

  const std::size_t total = pending_.size() + groups.size() + addresses.size();
  const std::size_t size = std::bit_ceil(std::max<std::size_t>(16, total * 2));
  slots_.assign(size, Slot{});
  mask_ = static_cast<std::uint32_t>(size - 1);
  for (const Slot& s : pending_)
    place(s.key, s.value);
  for (const Group& g : groups) {
    place(g.key, g.any_port != kNoVip ? g.any_port : g.count == 1 ? g.only : kAmbiguousFragmentVip);
  }
  for (const ClassifyKey& a : addresses)
    place(a, 0);
  pending_.clear();
  pending_.shrink_to_fit();
}

std::uint16_t ClassifyTable::find(const ClassifyKey& key) const {
  if (slots_.empty()) return kNoVip;
  for (std::uint32_t i = hash_key(key) & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (!s.used) return kNoVip;
    if (same_key(s.key, key)) return s.value;
  }
}

std::uint16_t ClassifyTable::lookup(const std::uint8_t* addr16, std::uint8_t family,
                                    std::uint8_t protocol, std::uint16_t port) const {
  ClassifyKey k = make_key(addr16, family, protocol, port);
  const std::uint16_t exact = find(k);
  if (exact != kNoVip || port == 0) return exact;
  k.port = 0;
  return find(k);
}

std::uint16_t ClassifyTable::lookup(const FlowKey& key) const {
  return lookup(key.dst_addr.data(), static_cast<std::uint8_t>(key.family), key.protocol,
                key.dst_port);
}

std::uint16_t ClassifyTable::lookup_fragment(const FlowKey& key) const {
  return find(make_key(
      key.dst_addr.data(),
      static_cast<std::uint8_t>(static_cast<std::uint8_t>(key.family) | kFragmentFamilyBit),
      key.protocol, 0));
}

bool ClassifyTable::is_vip_address(const FlowKey& key) const {
  return find(make_key(
             key.dst_addr.data(),
             static_cast<std::uint8_t>(static_cast<std::uint8_t>(key.family) | kAddressFamilyBit),
             kClassifyAnyProtocol, 0)) != kNoVip;
}

}  // namespace sluice::pipeline
