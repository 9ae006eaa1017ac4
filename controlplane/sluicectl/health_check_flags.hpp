// The health-check flags shared by `vip add` and `backend add`, turned into the API's
// health_check object (docs/config.md names the same fields).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace sluice::ctl {

struct HealthCheckFlags {
  std::optional<std::string> type;
  std::optional<std::uint16_t> port;
  std::optional<std::uint32_t> interval_ms;
  std::optional<std::uint32_t> timeout_ms;
  std::optional<std::uint32_t> rise;
  std::optional<std::uint32_t> fall;
  std::optional<std::string> path;
  std::optional<std::string> host;
  std::optional<std::uint16_t> expect_status;
  std::optional<std::string> expect_body;
  std::optional<std::string> udp_request;
  std::optional<std::string> udp_expect;

  void add_to(CLI::App* command);
  // nullopt when no --check was given (the other flags then require it).
  [[nodiscard]] std::optional<nlohmann::json> to_json() const;
};

}  // namespace sluice::ctl
