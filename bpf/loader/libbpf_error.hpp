// Turns libbpf's negative-errno returns into sluice::Error values.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

#include "sluice/result.hpp"

namespace sluice::bpf {

// `err` is what libbpf returned (a negative errno) or a positive errno.
[[nodiscard]] inline Error libbpf_error(std::string_view what, int err) {
  const int code = err < 0 ? -err : err;
  return Error{std::string(what) + ": " + std::strerror(code)};
}

}  // namespace sluice::bpf
