#include "api/api_routes.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "announce/announce_view.hpp"
#include "api/request_target.hpp"
#include "api/views.hpp"
#include "sluice/config/json.hpp"
#include "sluice/config/names.hpp"
#include "sluice/config/strict_json.hpp"
#include "sluice/config/validate.hpp"
#include "sluice/config/yaml.hpp"
#include "state/mutations.hpp"

namespace sluice::cp {
namespace {

using nlohmann::json;

HttpResponse respond(http::status status, const json& body) {
  HttpResponse response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::server, "sluice-controlplane");
  response.body() = body.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return response;
}

HttpResponse error(http::status status, const std::string& message) {
  return respond(status, json{{"error", message}});
}

http::status status_of(RefusalKind kind) {
  switch (kind) {
    case RefusalKind::invalid:
      return http::status::bad_request;
    case RefusalKind::not_found:
      return http::status::not_found;
    case RefusalKind::conflict:
      return http::status::conflict;
    case RefusalKind::conflict_retry:
      return http::status::precondition_failed;  // 412: sluicectl exit code 8
    case RefusalKind::unavailable:
      return http::status::service_unavailable;
    case RefusalKind::internal:
      break;
  }
  return http::status::internal_server_error;
}

// Input decoding: each returns the value or a 400 that names the field.
template <typename T>
using Decoded = std::variant<T, HttpResponse>;

Decoded<json> json_body(const HttpRequest& request) {
  if (request.body().empty())
    return error(http::status::bad_request, "body: expected a JSON object");
  Result<json> body = config::parse_strict_json(request.body(), "body");
  if (!body.ok()) return error(http::status::bad_request, body.error().message);
  if (!body->is_object()) return error(http::status::bad_request, "body: not a JSON object");
  return std::move(body).value();
}

Decoded<config::VipKey> vip_param(const RequestTarget& target) {
  const std::string* text = target.param("vip");
  if (text == nullptr) {
    return error(http::status::bad_request,
                 "vip: missing query parameter, e.g. ?vip=198.18.0.10:80/tcp");
  }
  Result<config::VipKey> key = config::parse_vip_key(*text);
  if (!key.ok()) return error(http::status::bad_request, "vip: " + key.error().message);
  return key.value();
}

Decoded<IpAddress> address_param(const RequestTarget& target, const std::string& name) {
  const std::string* text = target.param(name);
  if (text == nullptr) return error(http::status::bad_request, name + ": missing query parameter");
  std::optional<IpAddress> address = IpAddress::parse(*text);
  if (!address) {
    return error(http::status::bad_request,
                 name + ": \"" + *text + "\" is not an IPv4 or IPv6 address");
  }
  return *address;
}

Decoded<std::uint16_t> port_param(const RequestTarget& target, const std::string& name) {
  const std::string* text = target.param(name);
  if (text == nullptr) return error(http::status::bad_request, name + ": missing query parameter");
  std::uint32_t value = 0;
  bool ok = !text->empty() && text->size() <= 5;
  for (const char c : *text) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (!ok || value > 65535) {
    return error(http::status::bad_request,
                 name + ": expected a port number in 0..65535, got \"" + *text + "\"");
  }
  return static_cast<std::uint16_t>(value);
}

template <typename T>
bool failed(const Decoded<T>& d) {
  return std::holds_alternative<HttpResponse>(d);
}
template <typename T>
HttpResponse take_error(Decoded<T>& d) {
  return std::move(std::get<HttpResponse>(d));
}

class Router {
 public:
  Router(StateStore& store, HealthTable& health, DataplaneSync& sync, Announcer* announcer,
         const WeightController* weights, const HttpRequest& request, RequestTarget target)
      : store_(store),
        health_(health),
        sync_(sync),
        announcer_(announcer),
        weights_(weights),
        request_(request),
        target_(std::move(target)) {}

  HttpResponse route() {
    const std::string& path = target_.path;
    const http::verb method = request_.method();
    if (path == "/v1/vips") {
      if (method == http::verb::get) return list_vips();
      if (method == http::verb::post) return add_vip();
      if (method == http::verb::delete_) return remove_vip();
      return not_allowed("GET, POST, DELETE");
    }
    if (path == "/v1/backends") {
      if (method == http::verb::get) return list_backends();
      if (method == http::verb::post) return add_backend();
      if (method == http::verb::delete_) return remove_backend();
      return not_allowed("GET, POST, DELETE");
    }
    if (path == "/v1/backends/weight") {
      return method == http::verb::put ? set_weight() : not_allowed("PUT");
    }
    if (path == "/v1/backends/drain" || path == "/v1/backends/undrain") {
      return method == http::verb::post ? set_drained(path == "/v1/backends/drain")
                                        : not_allowed("POST");
    }
    if (path == "/v1/host") return method == http::verb::get ? host() : not_allowed("GET");
    if (path == "/v1/host/drain" || path == "/v1/host/undrain") {
      return method == http::verb::post ? set_host_drained(path == "/v1/host/drain")
                                        : not_allowed("POST");
    }
    if (path == "/v1/config/validate") {
      return method == http::verb::post ? validate_config() : not_allowed("POST");
    }
    if (method != http::verb::get) {
      if (path == "/v1/status" || path == "/v1/stats" || path == "/v1/health" ||
          path == "/v1/explain" || path == "/v1/dataplanes") {
        return not_allowed("GET");
      }
    } else {
      if (path == "/v1/status") return status();
      if (path == "/v1/stats") return respond(http::status::ok, stats_view(sync_.reports()));
      if (path == "/v1/health") {
        return respond(http::status::ok, health_view(store_.desired(), health_.snapshot()));
      }
      if (path == "/v1/dataplanes") {
        return respond(http::status::ok, json{{"dataplanes", dataplanes_view(sync_.reports())}});
      }
      if (path == "/v1/explain") return explain();
    }
    return error(http::status::not_found, "no endpoint " + path + " (see docs/operations.md)");
  }

 private:
  HttpResponse not_allowed(const char* allowed) {
    HttpResponse r = error(http::status::method_not_allowed,
                           std::string(request_.method_string()) + " is not allowed on " +
                               target_.path + "; allowed: " + allowed);
    r.set(http::field::allow, allowed);
    return r;
  }

  // Runs a change through the store; logs and acknowledges it once persisted.
  HttpResponse apply(const std::string& what, http::status success,
                     const std::function<Mutation(config::State&)>& change) {
    std::variant<std::uint64_t, Refusal> outcome = store_.change(change);
    if (const Refusal* refusal = std::get_if<Refusal>(&outcome)) {
      spdlog::info("api: refused {}: {}", what, refusal->message);
      if (refusal->kind == RefusalKind::conflict_retry) {
        return respond(status_of(refusal->kind),
                       json{{"error", refusal->message}, {"retry", true}});
      }
      return error(status_of(refusal->kind), refusal->message);
    }
    const std::uint64_t revision = std::get<std::uint64_t>(outcome);
    spdlog::info("api: {} (revision {})", what, revision);
    return respond(success, json{{"ok", true}, {"revision", revision}, {"change", what}});
  }

  HttpResponse list_vips() {
    const config::State desired = store_.desired();
    json vips = json::array();
    for (const config::Vip& vip : desired.vips) {
      json v = config::to_json(vip);
      v["vip"] = config::vip_key(vip);
      vips.push_back(std::move(v));
    }
    return respond(http::status::ok,
                   json{{"revision", store_.revision()}, {"vips", std::move(vips)}});
  }

  HttpResponse add_vip() {
    auto body = json_body(request_);
    if (failed(body)) return take_error(body);
    Result<config::Vip> vip = config::vip_from_json(std::get<json>(body), "vip");
    if (!vip.ok()) return error(http::status::bad_request, vip.error().message);
    const config::Vip value = std::move(vip.value());
    return apply("add VIP " + config::vip_key(value), http::status::created,
                 [&](config::State& s) { return cp::add_vip(s, value); });
  }

  HttpResponse remove_vip() {
    auto key = vip_param(target_);
    if (failed(key)) return take_error(key);
    const config::VipKey k = std::get<config::VipKey>(key);
    return apply("remove VIP " + config::to_string(k), http::status::ok,
                 [&](config::State& s) { return cp::remove_vip(s, k); });
  }

  HttpResponse list_backends() {
    const config::State desired = store_.desired();
    std::optional<config::VipKey> only;
    if (target_.param("vip") != nullptr) {
      auto key = vip_param(target_);
      if (failed(key)) return take_error(key);
      only = std::get<config::VipKey>(key);
      if (config::find_vip(desired, *only) == nullptr) {
        return error(http::status::not_found, "vip: no VIP " + config::to_string(*only));
      }
    }
    const HealthSnapshot health = health_.snapshot();
    const EffectiveState effective = sync_.effective();
    const json view = status_view(StatusInputs{desired, effective, 0, 0, health, {}});
    const std::optional<std::string> only_name =
        only ? std::optional<std::string>(config::to_string(*only)) : std::nullopt;
    json out = json::array();
    for (const json& v : view["vips"]) {
      if (only_name && v["vip"] != *only_name) continue;
      for (json b : v["backends"]) {
        b["vip"] = v["vip"];
        out.push_back(std::move(b));
      }
    }
    return respond(http::status::ok,
                   json{{"revision", store_.revision()}, {"backends", std::move(out)}});
  }

  HttpResponse add_backend() {
    auto key = vip_param(target_);
    if (failed(key)) return take_error(key);
    auto body = json_body(request_);
    if (failed(body)) return take_error(body);
    Result<config::Backend> backend = config::backend_from_json(std::get<json>(body), "backend");
    if (!backend.ok()) return error(http::status::bad_request, backend.error().message);
    const config::VipKey k = std::get<config::VipKey>(key);
    const config::Backend value = std::move(backend.value());
    return apply("add backend " + value.address.to_string() + " to VIP " + config::to_string(k) +
                     " weight " + std::to_string(value.weight),
                 http::status::created,
                 [&](config::State& s) { return cp::add_backend(s, k, value); });
  }

  HttpResponse remove_backend() {
    auto key = vip_param(target_);
    if (failed(key)) return take_error(key);
    auto address = address_param(target_, "address");
    if (failed(address)) return take_error(address);
    const config::VipKey k = std::get<config::VipKey>(key);
    const IpAddress a = std::get<IpAddress>(address);
    return apply("remove backend " + a.to_string() + " from VIP " + config::to_string(k),
                 http::status::ok, [&](config::State& s) { return cp::remove_backend(s, k, a); });
  }

  HttpResponse set_weight() {
    auto key = vip_param(target_);
    if (failed(key)) return take_error(key);
    auto address = address_param(target_, "address");
    if (failed(address)) return take_error(address);
    auto body = json_body(request_);
    if (failed(body)) return take_error(body);
    const json& j = std::get<json>(body);
    for (const auto& [name, value] : j.items()) {
      if (name != "weight")
        return error(http::status::bad_request,
                     name + ": unknown field (expected only \"weight\")");
    }
    const auto it = j.find("weight");
    if (it == j.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > config::kMaxWeight) {
      return error(http::status::bad_request,
                   "weight: expected an integer in 0.." + std::to_string(config::kMaxWeight) +
                       (it == j.end() ? ", missing" : ", got " + it->dump()));
    }
    const auto weight = it->get<std::uint32_t>();
    const config::VipKey k = std::get<config::VipKey>(key);
    const IpAddress a = std::get<IpAddress>(address);
    return apply("set weight of backend " + a.to_string() + " of VIP " + config::to_string(k) +
                     " to " + std::to_string(weight),
                 http::status::ok,
                 [&](config::State& s) { return cp::set_weight(s, k, a, weight); });
  }

  HttpResponse set_drained(bool drained) {
    auto key = vip_param(target_);
    if (failed(key)) return take_error(key);
    auto address = address_param(target_, "address");
    if (failed(address)) return take_error(address);
    const config::VipKey k = std::get<config::VipKey>(key);
    const IpAddress a = std::get<IpAddress>(address);
    return apply(std::string(drained ? "drain" : "undrain") + " backend " + a.to_string() +
                     " of VIP " + config::to_string(k),
                 http::status::ok,
                 [&](config::State& s) { return cp::set_drained(s, k, a, drained); });
  }

  HttpResponse status() {
    const config::State desired = store_.desired();
    const EffectiveState effective = sync_.effective();
    const HealthSnapshot health = health_.snapshot();
    const std::vector<DataplaneReport> dataplanes = sync_.reports();
    const std::map<BackendRef, WeightReport> weights =
        weights_ != nullptr ? weights_->reports() : std::map<BackendRef, WeightReport>{};
    const auto publications =
        weights_ != nullptr ? weights_->publications()
                            : std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>{};
    json view = status_view(StatusInputs{desired, effective, sync_.generation(), store_.revision(),
                                         health, dataplanes, &weights, &publications});
    view["state_store"] = state_store_view(store_.status());
    view["weight_source"] = weights_ != nullptr ? weights_->source() : std::string("local");
    if (announcer_ != nullptr) add_announcements(view, announcer_->report());
    return respond(http::status::ok, view);
  }

  HttpResponse no_announcer() {
    return error(http::status::service_unavailable,
                 "this control plane does not announce VIPs (no announcer running)");
  }

  HttpResponse host() {
    if (announcer_ == nullptr) return no_announcer();
    return respond(http::status::ok, host_view(announcer_->report(), sync_.reports()));
  }

  // POST /v1/host/drain, optional body {"graceful_shutdown": bool}; POST /v1/host/undrain.
  HttpResponse set_host_drained(bool drained) {
    if (announcer_ == nullptr) return no_announcer();
    std::optional<bool> graceful;
    if (drained && !request_.body().empty()) {
      auto body = json_body(request_);
      if (failed(body)) return take_error(body);
      for (const auto& [name, value] : std::get<json>(body).items()) {
        if (name != "graceful_shutdown") {
          return error(http::status::bad_request,
                       name + ": unknown field (expected only \"graceful_shutdown\")");
        }
        if (!value.is_boolean()) {
          return error(http::status::bad_request,
                       "graceful_shutdown: expected true or false, got " + value.dump());
        }
        graceful = value.get<bool>();
      }
    }
    Result<HostDrain> outcome = drained ? announcer_->drain(graceful) : announcer_->undrain();
    if (!outcome.ok()) {
      spdlog::error("api: host {}: {}", drained ? "drain" : "undrain", outcome.error().message);
      return error(http::status::internal_server_error, outcome.error().message);
    }
    return respond(http::status::ok, host_view(announcer_->report(), sync_.reports()));
  }

  HttpResponse explain() {
    control::ExplainFlow flow;
    for (const char* name : {"src", "dst"}) {
      auto a = address_param(target_, name);
      if (failed(a)) return take_error(a);
      (std::string_view(name) == "src" ? flow.src : flow.dst) = std::get<IpAddress>(a);
    }
    if (flow.src.family != flow.dst.family) {
      return error(http::status::bad_request, "src: address family differs from dst");
    }
    auto sport = port_param(target_, "src_port");
    if (failed(sport)) return take_error(sport);
    auto dport = port_param(target_, "dst_port");
    if (failed(dport)) return take_error(dport);
    flow.src_port = std::get<std::uint16_t>(sport);
    flow.dst_port = std::get<std::uint16_t>(dport);
    const std::string* proto = target_.param("protocol");
    const std::optional<config::Protocol> protocol =
        proto ? config::parse_protocol(*proto) : std::optional(config::Protocol::tcp);
    if (!protocol) {
      return error(http::status::bad_request,
                   "protocol: expected tcp or udp, got \"" + *proto + "\"");
    }
    flow.protocol = *protocol;
    if (const std::string* syn = target_.param("syn")) {
      if (*syn != "1" && *syn != "0" && *syn != "true" && *syn != "false") {
        return error(http::status::bad_request, "syn: expected 1 or 0, got \"" + *syn + "\"");
      }
      flow.syn = *syn == "1" || *syn == "true";
      if (flow.syn && flow.protocol != config::Protocol::tcp) {
        return error(http::status::bad_request, "syn: only a TCP flow has SYNs");
      }
    }
    const std::string* dataplane = target_.param("dataplane");
    if (dataplane != nullptr) {
      const std::vector<DataplaneReport> known = sync_.reports();
      const bool exists = std::any_of(known.begin(), known.end(), [&](const DataplaneReport& d) {
        return d.name == *dataplane;
      });
      if (!exists) {  // a name nobody configured: not found, not "unavailable"
        return error(http::status::not_found,
                     "dataplane: no dataplane named \"" + *dataplane + "\" (see `dataplanes:`)");
      }
    }
    auto result = sync_.explain(flow, dataplane ? *dataplane : "");
    if (!result.ok()) return error(http::status::service_unavailable, result.error().message);
    json body = control::to_json(result->second);
    body["dataplane"] = result->first;
    body["flow"] = control::to_json(flow);
    return respond(http::status::ok, body);
  }

  HttpResponse validate_config() {
    Result<config::State> state = config::load_yaml_string(request_.body(), "<request body>");
    if (state.ok()) {
      if (Status intent = config::validate_desired(state.value()); !intent.ok()) {
        state = intent.error();
      }
    }
    if (!state.ok()) {
      return respond(http::status::unprocessable_entity,
                     json{{"valid", false}, {"error", state.error().message}});
    }
    return respond(http::status::ok, json{{"valid", true}, {"vips", state->vips.size()}});
  }

  StateStore& store_;
  HealthTable& health_;
  DataplaneSync& sync_;
  Announcer* announcer_;
  const WeightController* weights_;
  const HttpRequest& request_;
  RequestTarget target_;
};

}  // namespace

HttpResponse ApiRoutes::handle(const HttpRequest& request) {
  const auto raw = request.target();
  Result<RequestTarget> target = parse_request_target(std::string_view(raw.data(), raw.size()));
  if (!target.ok()) return error(http::status::bad_request, target.error().message);
  return Router(store_, health_, sync_, announcer_, weights_, request, std::move(target.value()))
      .route();
}

}  // namespace sluice::cp
