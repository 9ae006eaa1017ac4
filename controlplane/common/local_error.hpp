// Errors that say this process (or this host) ran out of something, not that the peer did
// anything wrong: EMFILE, ENFILE, ENOBUFS, ENOMEM. An API accept or a health probe that meets
// one must not blame the other side.
#pragma once

#include <cerrno>

#include "common/asio.hpp"

namespace sluice::cp {

[[nodiscard]] inline bool is_local_resource_error(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category() &&
      ec.category() != boost::system::generic_category()) {
    return false;
  }
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

}  // namespace sluice::cp
