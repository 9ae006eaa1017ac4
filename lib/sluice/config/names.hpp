// Text forms of the state model's enums, MAC addresses and VIP keys: one spelling shared by
// the YAML file, the JSON wire form, metrics labels and sluicectl.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sluice/config/model.hpp"
#include "sluice/ip_address.hpp"
#include "sluice/result.hpp"

namespace sluice::config {

// "tcp" | "udp"
[[nodiscard]] std::string_view to_string(Protocol p);
[[nodiscard]] std::optional<Protocol> parse_protocol(std::string_view text);

// "maglev" | "round-robin" | "weighted-round-robin" | "random" | "least-connections" |
// "source-hash"  (the spellings of issue 3; underscores are accepted on input too)
[[nodiscard]] std::string_view to_string(Scheduler s);
[[nodiscard]] std::optional<Scheduler> parse_scheduler(std::string_view text);

// "ipip" | "gue"
[[nodiscard]] std::string_view to_string(Encap e);
[[nodiscard]] std::optional<Encap> parse_encap(std::string_view text);

// "forward" | "drop"
[[nodiscard]] std::string_view to_string(FragmentPolicy f);
[[nodiscard]] std::optional<FragmentPolicy> parse_fragment_policy(std::string_view text);

// "none" | "tcp" | "http" | "https" | "udp"
[[nodiscard]] std::string_view to_string(HealthCheckType t);
[[nodiscard]] std::optional<HealthCheckType> parse_health_check_type(std::string_view text);

// "keep-last-healthy" | "drop"  (underscores accepted on input)
[[nodiscard]] std::string_view to_string(AllDownPolicy a);
[[nodiscard]] std::optional<AllDownPolicy> parse_all_down_policy(std::string_view text);
[[nodiscard]] std::string_view to_string(AnnouncePolicy a);
[[nodiscard]] std::optional<AnnouncePolicy> parse_announce_policy(std::string_view text);
[[nodiscard]] std::span<const std::string_view> announce_policy_names();
[[nodiscard]] std::string_view to_string(WeightPolicy w);
[[nodiscard]] std::optional<WeightPolicy> parse_weight_policy(std::string_view text);
[[nodiscard]] std::span<const std::string_view> weight_policy_names();

// "up" | "draining" | "down"
[[nodiscard]] std::string_view to_string(BackendState s);
[[nodiscard]] std::optional<BackendState> parse_backend_state(std::string_view text);

// Every accepted spelling, for "expected one of ..." messages and CLI help.
[[nodiscard]] std::span<const std::string_view> protocol_names();
[[nodiscard]] std::span<const std::string_view> scheduler_names();
[[nodiscard]] std::span<const std::string_view> encap_names();
[[nodiscard]] std::span<const std::string_view> fragment_policy_names();
[[nodiscard]] std::span<const std::string_view> health_check_type_names();
[[nodiscard]] std::span<const std::string_view> all_down_policy_names();
[[nodiscard]] std::span<const std::string_view> backend_state_names();

using MacAddress = std::array<std::uint8_t, 6>;
// "02:00:00:00:00:fe" (lower case on output; '-' separators and upper case accepted on input).
[[nodiscard]] std::string format_mac(const MacAddress& mac);
[[nodiscard]] std::optional<MacAddress> parse_mac(std::string_view text);

// Identity of a VIP: address + port + protocol. Text form "198.18.0.10:80/tcp" and
// "[2001:db8::10]:443/udp"; port 0 means any port. Used as the per-VIP counters key, the
// metrics label and the sluicectl argument.
struct VipKey {
  IpAddress address;
  std::uint16_t port = 0;
  Protocol protocol = Protocol::tcp;

  friend auto operator<=>(const VipKey&, const VipKey&) = default;
};
[[nodiscard]] VipKey key_of(const Vip& vip);
[[nodiscard]] std::string to_string(const VipKey& key);
[[nodiscard]] std::string vip_key(const Vip& vip);  // to_string(key_of(vip))
// Accepts the text form above; "/tcp" may be omitted (tcp). The port is always required
// (write 0 for an any-port VIP: "198.18.0.10:0/udp").
[[nodiscard]] Result<VipKey> parse_vip_key(std::string_view text);

// The VIP with this key, or nullptr.
[[nodiscard]] const Vip* find_vip(const State& state, const VipKey& key);
[[nodiscard]] Vip* find_vip(State& state, const VipKey& key);
// The backend of `vip` with this address, or nullptr.
[[nodiscard]] const Backend* find_backend(const Vip& vip, const IpAddress& address);

}  // namespace sluice::config
