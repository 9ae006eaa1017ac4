#include "pipeline/backend_registry.hpp"

namespace sluice::pipeline {

BackendRegistry::BackendRegistry() : vips_(kMaxVips), backends_(kMaxBackends) {}

}  // namespace sluice::pipeline
