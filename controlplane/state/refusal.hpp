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
  // etcd: the shared state changed since this host read it (another host's change won the
  // transaction); nothing was changed here. Read it again and retry (HTTP 412, sluicectl 8).
  conflict_retry,
  unavailable,  // etcd: no endpoint answered within the bound; nothing was changed (HTTP 503)
};

inline constexpr const char* kChangedMeanwhile =
    "the shared state changed meanwhile (on another host): read it again and retry";

struct Refusal {
  RefusalKind kind = RefusalKind::invalid;
  std::string message;
};

}  // namespace sluice::cp
