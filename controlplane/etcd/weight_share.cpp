#include "etcd/weight_share.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "sluice/config/names.hpp"

namespace sluice::cp {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// etcd's gateway writes 64-bit numbers as strings.
std::int64_t i64_of(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end()) return 0;
  if (it->is_string()) return std::stoll(it->get<std::string>());
  return it->is_number() ? it->get<std::int64_t>() : 0;
}

}  // namespace

std::string encode_weights(const WeightFactors& weights, const std::string& host) {
  json vips = json::object();
  for (const auto& [ref, w] : weights) {
    vips[config::to_string(ref.vip)][ref.backend.to_string()] = json{{"percent", w.percent},
                                                                     {"down", w.down},
                                                                     {"passive_out", w.passive_out},
                                                                     {"reason", w.reason}};
  }
  return json{{"by", host}, {"vips", std::move(vips)}}.dump();
}

Result<WeightFactors> decode_weights(const std::string& document, std::string* host) {
  const json j = json::parse(document, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("vips") || !j["vips"].is_object()) {
    return Error{"weights: not a weights document"};
  }
  if (host != nullptr) *host = j.value("by", std::string());
  WeightFactors out;
  for (const auto& [vip_text, backends] : j["vips"].items()) {
    Result<config::VipKey> key = config::parse_vip_key(vip_text);
    if (!key.ok()) return Error{"weights: VIP " + vip_text + ": " + key.error().message};
    if (!backends.is_object()) return Error{"weights: VIP " + vip_text + ": not an object"};
    for (const auto& [address, w] : backends.items()) {
      const std::optional<IpAddress> ip = IpAddress::parse(address);
      if (!ip || !w.is_object())
        return Error{"weights: VIP " + vip_text + ": bad backend " + address};
      lb::BackendWeight weight;
      weight.percent = std::min<std::uint32_t>(w.value("percent", 100u), 100u);
      weight.down = w.value("down", false);
      weight.passive_out = w.value("passive_out", false);
      weight.reason = w.value("reason", std::string());
      out.emplace(BackendRef{*key, *ip}, std::move(weight));
    }
  }
  return out;
}

EtcdWeightShare::EtcdWeightShare(const config::EtcdSettings& settings, std::string host_name,
                                 WeightShareOptions options)
    : settings_(settings),
      host_(std::move(host_name)),
      options_(options),
      leader_key_(settings.prefix + "weights/leader"),
      weights_key_(settings.prefix + "weights") {}

EtcdWeightShare::~EtcdWeightShare() {
  stop();
}

Status EtcdWeightShare::init() {
  Result<std::unique_ptr<EtcdClient>> client = make_etcd_client(settings_);
  if (!client.ok()) return client.error();
  client_ = std::move(client.value());
  return ok_status();
}

void EtcdWeightShare::start() {
  thread_ = std::thread([this] { run(); });
}

void EtcdWeightShare::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Hand the weights over at once rather than after the lease's TTL.
  if (lease_ && client_) {
    (void)client_->post("/v3/lease/revoke", json{{"ID", std::to_string(*lease_)}}, options_.budget);
    lease_.reset();
  }
}

bool EtcdWeightShare::leading() const {
  std::lock_guard lock(mutex_);
  return leading_;
}

std::optional<WeightFactors> EtcdWeightShare::followed() const {
  std::lock_guard lock(mutex_);
  return followed_;
}

void EtcdWeightShare::publish(const WeightFactors& weights) {
  {
    std::lock_guard lock(mutex_);
    to_publish_ = weights;
  }
  wake_.notify_all();
}

WeightShareStatus EtcdWeightShare::status() const {
  std::lock_guard lock(mutex_);
  return WeightShareStatus{leading_, leader_, last_error_};
}

void EtcdWeightShare::note_error(const std::string& error) {
  std::lock_guard lock(mutex_);
  if (last_error_ != error) spdlog::warn("weights: etcd: {}", error);
  last_error_ = error;
}

void EtcdWeightShare::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.round, [this] { return stopping_; });
      if (stopping_) return;
    }
    round();
  }
}

void EtcdWeightShare::lead_or_follow() {
  if (!lease_) {
    Result<json> granted =
        client_->post("/v3/lease/grant", json{{"TTL", std::to_string(options_.lease_ttl.count())}},
                      options_.budget);
    if (!granted.ok()) return note_error(granted.error().message);
    lease_ = i64_of(*granted, "ID");
    next_keepalive_ = Clock::now() + options_.keepalive;
  }
  const std::string key = base64_encode(leader_key_);
  const json txn{
      {"compare",
       json::array({json{
           {"target", "CREATE"}, {"key", key}, {"result", "EQUAL"}, {"create_revision", "0"}}})},
      {"success", json::array({json{{"request_put", json{{"key", key},
                                                         {"value", base64_encode(host_)},
                                                         {"lease", std::to_string(*lease_)}}}}})},
      {"failure", json::array({json{{"request_range", json{{"key", key}}}}})}};
  Result<json> answer = client_->post("/v3/kv/txn", txn, options_.budget);
  if (!answer.ok()) {
    lease_.reset();  // it may be the lease that etcd refused: a new one next round
    return note_error(answer.error().message);
  }
  std::string leader = host_;
  const bool won = answer->value("succeeded", false);
  if (!won) {
    leader.clear();
    for (const json& r : answer->value("responses", json::array())) {
      for (const json& kv : r.value("response_range", json::object()).value("kvs", json::array())) {
        Result<std::string> v = base64_decode(kv.value("value", std::string()));
        if (v.ok()) leader = *v;
      }
    }
  }
  std::lock_guard lock(mutex_);
  last_error_.clear();
  if (won && !leading_)
    spdlog::info("weights: this host ({}) now computes the tier's weights", host_);
  if (!won && leader != leader_) spdlog::info("weights: following the weights of {}", leader);
  leading_ = won;
  leader_ = leader;
  if (won) written_.clear();  // write ours at once
}

void EtcdWeightShare::round() {
  bool leading = false;
  {
    std::lock_guard lock(mutex_);
    leading = leading_;
  }
  // Followers keep their lease alive too, so that theirs is valid when the leader's expires.
  if (lease_ && Clock::now() >= next_keepalive_) {
    Result<json> alive = client_->post("/v3/lease/keepalive", json{{"ID", std::to_string(*lease_)}},
                                       options_.budget);
    const bool kept = alive.ok() && i64_of(alive->value("result", json::object()), "TTL") > 0;
    if (!kept) {
      note_error(alive.ok() ? "the lease expired" : alive.error().message);
      lease_.reset();  // a new one next round
      if (leading) {
        spdlog::warn("weights: this host ({}) lost the lease; another host computes the weights",
                     host_);
        std::lock_guard lock(mutex_);
        leading_ = false;
        leader_.clear();
        leading = false;
      }
    } else {
      next_keepalive_ = Clock::now() + options_.keepalive;
    }
  }
  if (!leading) {
    lead_or_follow();
    std::lock_guard lock(mutex_);
    leading = leading_;
  }
  if (leading) {
    std::optional<WeightFactors> weights;
    {
      std::lock_guard lock(mutex_);
      weights = to_publish_;
    }
    if (!weights) return;
    const std::string document = encode_weights(*weights, host_);
    if (document == written_) return;
    Result<json> put = client_->post(
        "/v3/kv/put",
        json{{"key", base64_encode(weights_key_)}, {"value", base64_encode(document)}},
        options_.budget);
    if (!put.ok()) return note_error(put.error().message);
    written_ = document;
    return;
  }
  Result<EtcdValue> read = client_->get(weights_key_, options_.budget);
  if (!read.ok()) return note_error(read.error().message);
  if (read->mod_revision == 0) return;  // no leader has written yet
  Result<WeightFactors> weights = decode_weights(read->value);
  if (!weights.ok()) return note_error(weights.error().message);
  std::lock_guard lock(mutex_);
  followed_ = std::move(weights.value());
}

}  // namespace sluice::cp
