// The path and query parameters of a request target ("/v1/backends?vip=198.18.0.10%3A80%2Ftcp").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/result.hpp"

namespace sluice::cp {

struct RequestTarget {
  std::string path;
  std::map<std::string, std::string> query;  // percent-decoded; '+' is a space

  [[nodiscard]] const std::string* param(const std::string& name) const {
    const auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  }
};

// Fails on malformed percent escapes.
[[nodiscard]] Result<RequestTarget> parse_request_target(std::string_view target);
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text);
// Encodes everything but unreserved characters (RFC 3986), for clients.
[[nodiscard]] std::string percent_encode(std::string_view text);

}  // namespace sluice::cp
