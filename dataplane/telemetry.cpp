#include "telemetry.hpp"

#include <rte_telemetry.h>

#include <mutex>
#include <optional>
#include <string>

namespace sluice::dataplane {
namespace {

std::mutex g_mutex;
std::optional<TelemetrySource> g_source;  // guarded by g_mutex
bool g_registered = false;                // guarded by g_mutex

// Scalars of a JSON value into a telemetry dict entry. Objects nest one level (DPDK's limit).
void add_scalar(rte_tel_data* d, const std::string& name, const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    rte_tel_data_add_dict_u64(d, name.c_str(), v.get<std::uint64_t>());
  } else if (v.is_number_integer()) {
    rte_tel_data_add_dict_int(d, name.c_str(), static_cast<int>(v.get<std::int64_t>()));
  } else if (v.is_boolean()) {
    rte_tel_data_add_dict_int(d, name.c_str(), v.get<bool>() ? 1 : 0);
  } else if (v.is_string()) {
    rte_tel_data_add_dict_string(d, name.c_str(), v.get<std::string>().c_str());
  } else if (v.is_number_float()) {
    rte_tel_data_add_dict_string(d, name.c_str(), v.dump().c_str());
  }
}

int fill(rte_tel_data* d, const nlohmann::json& object) {
  rte_tel_data_start_dict(d);
  for (const auto& [key, value] : object.items()) {
    if (!value.is_object()) {
      add_scalar(d, key, value);
      continue;
    }
    rte_tel_data* inner = rte_tel_data_alloc();
    if (inner == nullptr) return -1;
    rte_tel_data_start_dict(inner);
    for (const auto& [k, v] : value.items())
      add_scalar(inner, k, v);
    if (rte_tel_data_add_dict_container(d, key.c_str(), inner, 0) != 0) rte_tel_data_free(inner);
  }
  return 0;
}

template <typename Pick>
int answer(rte_tel_data* d, const char* params, Pick pick) {
  std::lock_guard lock(g_mutex);
  if (!g_source) return -1;
  try {
    return fill(d, pick(*g_source, params != nullptr ? std::string_view(params) : ""));
  } catch (const std::exception&) {
    return -1;
  }
}

int on_status(const char*, const char* p, rte_tel_data* d) {
  return answer(d, p, [](TelemetrySource& s, std::string_view) { return s.status(); });
}
int on_counters(const char*, const char* p, rte_tel_data* d) {
  return answer(d, p, [](TelemetrySource& s, std::string_view) { return s.counters(); });
}
int on_drops(const char*, const char* p, rte_tel_data* d) {
  return answer(d, p, [](TelemetrySource& s, std::string_view) { return s.drops(); });
}
int on_vips(const char*, const char* p, rte_tel_data* d) {
  return answer(d, p, [](TelemetrySource& s, std::string_view) { return s.vips(); });
}
int on_backends(const char*, const char* p, rte_tel_data* d) {
  return answer(d, p,
                [](TelemetrySource& s, std::string_view params) { return s.backends(params); });
}

}  // namespace

void register_telemetry(TelemetrySource source) {
  std::lock_guard lock(g_mutex);
  g_source = std::move(source);
  if (g_registered) return;
  g_registered = true;
  rte_telemetry_register_cmd("/sluice/status", on_status,
                             "Sluice dataplane status: generation, uptime, VIPs. No parameters");
  rte_telemetry_register_cmd("/sluice/counters", on_counters,
                             "Sluice totals and per-lcore rx/tx/idle polls. No parameters");
  rte_telemetry_register_cmd("/sluice/drops", on_drops,
                             "Sluice drop counters by reason. No parameters");
  rte_telemetry_register_cmd("/sluice/vips", on_vips,
                             "Sluice per-VIP packets, bytes, new and active flows. No parameters");
  rte_telemetry_register_cmd("/sluice/backends", on_backends,
                             "Sluice per-backend counters of one VIP. Parameters: VIP key, e.g. "
                             "198.18.0.10:80/tcp");
}

void unregister_telemetry() {
  std::lock_guard lock(g_mutex);
  g_source.reset();
}

}  // namespace sluice::dataplane
