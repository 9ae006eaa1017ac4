#include "sluice/config/names.hpp"

#include <algorithm>
#include <charconv>

namespace sluice::config {
namespace {

// Canonical spellings, in enum order.
constexpr std::string_view kProtocolNames[] = {"tcp", "udp"};
constexpr std::string_view kSchedulerNames[] = {
    "maglev", "round-robin", "weighted-round-robin", "random", "least-connections", "source-hash",
};
constexpr std::string_view kEncapNames[] = {"ipip", "gue"};
constexpr std::string_view kFragmentPolicyNames[] = {"forward", "drop"};
constexpr std::string_view kHealthCheckTypeNames[] = {"none", "tcp", "http", "https", "udp"};
constexpr std::string_view kAllDownPolicyNames[] = {"keep-last-healthy", "drop"};
constexpr std::string_view kBackendStateNames[] = {"up", "draining", "down"};
constexpr std::string_view kAnnouncePolicyNames[] = {"when-healthy", "always", "never"};
constexpr std::string_view kWeightPolicyNames[] = {"static", "adaptive"};

// Compares with '_' and '-' treated alike, so "round_robin" finds "round-robin".
bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] == '_' ? '-' : a[i];
    const char y = b[i] == '_' ? '-' : b[i];
    if (x != y) return false;
  }
  return true;
}

template <typename Enum, std::size_t N>
std::optional<Enum> parse_name(const std::string_view (&names)[N], std::string_view text) {
  for (std::size_t i = 0; i < N; ++i) {
    if (same_name(names[i], text)) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view to_string(Protocol p) {
  return p == Protocol::udp ? "udp" : "tcp";
}
std::optional<Protocol> parse_protocol(std::string_view text) {
  if (text == "tcp") return Protocol::tcp;
  if (text == "udp") return Protocol::udp;
  return std::nullopt;
}

std::string_view to_string(Scheduler s) {
  return kSchedulerNames[static_cast<std::size_t>(s)];
}
std::optional<Scheduler> parse_scheduler(std::string_view text) {
  return parse_name<Scheduler>(kSchedulerNames, text);
}

std::string_view to_string(Encap e) {
  return kEncapNames[static_cast<std::size_t>(e)];
}
std::optional<Encap> parse_encap(std::string_view text) {
  return parse_name<Encap>(kEncapNames, text);
}

std::string_view to_string(FragmentPolicy f) {
  return kFragmentPolicyNames[static_cast<std::size_t>(f)];
}
std::optional<FragmentPolicy> parse_fragment_policy(std::string_view text) {
  return parse_name<FragmentPolicy>(kFragmentPolicyNames, text);
}

std::string_view to_string(HealthCheckType t) {
  return kHealthCheckTypeNames[static_cast<std::size_t>(t)];
}
std::optional<HealthCheckType> parse_health_check_type(std::string_view text) {
  return parse_name<HealthCheckType>(kHealthCheckTypeNames, text);
}

std::string_view to_string(AllDownPolicy a) {
  return kAllDownPolicyNames[static_cast<std::size_t>(a)];
}
std::optional<AllDownPolicy> parse_all_down_policy(std::string_view text) {
  return parse_name<AllDownPolicy>(kAllDownPolicyNames, text);
}

std::string_view to_string(BackendState s) {
  return kBackendStateNames[static_cast<std::size_t>(s)];
}
std::optional<BackendState> parse_backend_state(std::string_view text) {
  return parse_name<BackendState>(kBackendStateNames, text);
}

std::string_view to_string(AnnouncePolicy a) {
  return kAnnouncePolicyNames[static_cast<std::size_t>(a)];
}
std::optional<AnnouncePolicy> parse_announce_policy(std::string_view text) {
  return parse_name<AnnouncePolicy>(kAnnouncePolicyNames, text);
}
std::span<const std::string_view> announce_policy_names() {
  return kAnnouncePolicyNames;
}

std::string_view to_string(WeightPolicy w) {
  return kWeightPolicyNames[static_cast<std::size_t>(w)];
}
std::optional<WeightPolicy> parse_weight_policy(std::string_view text) {
  return parse_name<WeightPolicy>(kWeightPolicyNames, text);
}
std::span<const std::string_view> weight_policy_names() {
  return kWeightPolicyNames;
}

std::span<const std::string_view> protocol_names() {
  return kProtocolNames;
}
std::span<const std::string_view> scheduler_names() {
  return kSchedulerNames;
}
std::span<const std::string_view> encap_names() {
  return kEncapNames;
}
std::span<const std::string_view> fragment_policy_names() {
  return kFragmentPolicyNames;
}
std::span<const std::string_view> health_check_type_names() {
  return kHealthCheckTypeNames;
}
std::span<const std::string_view> all_down_policy_names() {
  return kAllDownPolicyNames;
}
std::span<const std::string_view> backend_state_names() {
  return kBackendStateNames;
}

std::string format_mac(const MacAddress& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(17);
  for (std::size_t i = 0; i < mac.size(); ++i) {
    if (i != 0) out += ':';
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xF];
  }
  return out;
}

std::optional<MacAddress> parse_mac(std::string_view text) {
  // Exactly six two-digit groups separated by one kind of separator.
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  MacAddress mac{};
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t at = i * 3;
    if (i != 0 && text[at - 1] != sep) return std::nullopt;
    const int hi = hex_digit(text[at]);
    const int lo = hex_digit(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    mac[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return mac;
}

VipKey key_of(const Vip& vip) {
  return VipKey{vip.address, vip.port, vip.protocol};
}

std::string to_string(const VipKey& key) {
  std::string out;
  if (key.address.is_v6()) {
    out += '[';
    out += key.address.to_string();
    out += ']';
  } else {
    out = key.address.to_string();
  }
  out += ':';
  out += std::to_string(key.port);
  out += '/';
  out += to_string(key.protocol);
  return out;
}

std::string vip_key(const Vip& vip) {
  return to_string(key_of(vip));
}

Result<VipKey> parse_vip_key(std::string_view text) {
  const auto fail = [&](std::string_view why) {
    return Error{std::string("\"").append(text) + "\" is not a VIP (" + std::string(why) +
                 "; write ADDRESS:PORT/PROTOCOL, e.g. 198.18.0.10:80/tcp or "
                 "[2001:db8::10]:443/udp)"};
  };
  VipKey key;
  std::string_view rest = text;
  if (const auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    const auto protocol = parse_protocol(rest.substr(slash + 1));
    if (!protocol) return fail("protocol must be tcp or udp");
    key.protocol = *protocol;
    rest = rest.substr(0, slash);
  }
  std::string_view address_text;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    address_text = rest.substr(1, close - 1);
    const auto after = rest.substr(close + 1);
    if (after.empty() || after.front() != ':') return fail("missing :PORT after ']'");
    port_text = after.substr(1);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail("missing :PORT");
    address_text = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
    if (address_text.find(':') != std::string_view::npos) {
      return fail("an IPv6 address must be written in brackets");
    }
  }
  const auto address = IpAddress::parse(address_text);
  if (!address) return fail("bad address");
  key.address = *address;
  unsigned port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc{} || ptr != end || port > 65535) {
    return fail("port must be 0..65535");
  }
  key.port = static_cast<std::uint16_t>(port);
  return key;
}

const Vip* find_vip(const State& state, const VipKey& key) {
  const auto it = std::find_if(state.vips.begin(), state.vips.end(),
                               [&](const Vip& v) { return key_of(v) == key; });
  return it == state.vips.end() ? nullptr : &*it;
}

Vip* find_vip(State& state, const VipKey& key) {
  return const_cast<Vip*>(find_vip(static_cast<const State&>(state), key));
}

const Backend* find_backend(const Vip& vip, const IpAddress& address) {
  const auto it = std::find_if(vip.backends.begin(), vip.backends.end(),
                               [&](const Backend& b) { return b.address == address; });
  return it == vip.backends.end() ? nullptr : &*it;
}

}  // namespace sluice::config
