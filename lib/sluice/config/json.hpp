// The JSON wire form of the state model: same field names as the YAML file, strict on input
// (unknown keys and wrong types refused, with the field path named).
#pragma once

#include <nlohmann/json.hpp>

#include "sluice/config/model.hpp"
#include "sluice/config/yaml.hpp"  // Check
#include "sluice/result.hpp"

namespace sluice::config {

[[nodiscard]] nlohmann::json to_json(const State& state);
[[nodiscard]] nlohmann::json to_json(const Vip& vip);
[[nodiscard]] nlohmann::json to_json(const Backend& backend);
[[nodiscard]] nlohmann::json to_json(const HealthCheck& check);

// Errors read "field.path: what is wrong", e.g. "vips[0].port: expected an integer in
// 0..65535, got \"http\"". With Check::full the result is also validate()d.
[[nodiscard]] Result<State> state_from_json(const nlohmann::json& j, Check check = Check::full);

// Pieces for the control plane's API (add a VIP, add a backend). Structural checks only:
// apply the change to a State and validate() that. `path` prefixes error messages.
[[nodiscard]] Result<Vip> vip_from_json(const nlohmann::json& j, std::string_view path = "vip");
[[nodiscard]] Result<Backend> backend_from_json(const nlohmann::json& j,
                                                std::string_view path = "backend");
[[nodiscard]] Result<HealthCheck> health_check_from_json(const nlohmann::json& j,
                                                         std::string_view path = "health_check");

}  // namespace sluice::config
