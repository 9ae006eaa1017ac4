#include "sluice/cpu_features.hpp"

namespace sluice {

Status check_cpu_features() {
  if (!__builtin_cpu_supports("sse4.2")) {
    return Error{"this CPU lacks SSE4.2 (CRC32C), which Sluice's flow hash needs"};
  }
  return ok_status();
}

}  // namespace sluice
