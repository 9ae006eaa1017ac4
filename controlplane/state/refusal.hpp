// Why a requested change was not applied. The API maps the kind to an HTTP status and the CLI
// to an exit code; `message` names the field to fix.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::cp {

enum class RefusalKind : std::uint8_t {
  invalid,    // bad input: a field is missing, malformed or out of range (HTTP 400/422)
  not_found,  // the VIP or backend named does not exist (HTTP 404)
  conflict,   // it already exists (HTTP 409)
  internal,   // the change was valid but could not be made durable (HTTP 500)
};

struct Refusal {
  RefusalKind kind = RefusalKind::invalid;
  std::string message;
};

}  // namespace sluice::cp
