// The control-plane API: HTTP/1.1 + JSON, served on a Unix socket. Every endpoint, field,
// unit and limit is documented in docs/operations.md. Invalid input is refused with a 4xx
// and a message naming the field; the state is then unchanged.
#pragma once

#include "announce/announcer.hpp"
#include "api/http_server.hpp"
#include "dataplanes/dataplane_sync.hpp"
#include "health/health_table.hpp"
#include "state/state_store.hpp"
#include "state/weight_controller.hpp"

namespace sluice::cp {

class ApiRoutes {
 public:
  // `announcer` (may be null: no /v1/host) decides what this host announces.
  ApiRoutes(StateStore& store, HealthTable& health, DataplaneSync& sync,
            Announcer* announcer = nullptr)
      : store_(store), health_(health), sync_(sync), announcer_(announcer) {}

  // Adaptive weights to show in /v1/status (may stay null). Before serving.
  void set_weights(const WeightController* weights) { weights_ = weights; }

  // Thread-safe.
  [[nodiscard]] HttpResponse handle(const HttpRequest& request);

 private:
  StateStore& store_;
  HealthTable& health_;
  DataplaneSync& sync_;
  Announcer* announcer_;
  const WeightController* weights_ = nullptr;
};

}  // namespace sluice::cp
