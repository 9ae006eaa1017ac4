// Adaptive weights in a tier (docs/adaptive-weights.md, "In a tier"): every host must build the
// same Maglev tables, so the weights are computed on one host and read by the others. The
// computing host holds the key `<prefix>weights/leader`, created in a transaction only when
// absent and attached to an etcd lease (TTL 3 s, kept alive every second): if it dies or is
// cut off, the key expires and another host takes it. The leader writes its weights on
// `<prefix>weights`; the others read that key every 200 ms and push what it says. Health up or
// down stays local to each host, as for any VIP.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "etcd/etcd_client.hpp"
#include "sluice/config/model.hpp"
#include "sluice/result.hpp"
#include "state/effective_state.hpp"

namespace sluice::cp {

struct WeightShareOptions {
  std::chrono::seconds lease_ttl{3};
  std::chrono::milliseconds keepalive{1000};
  std::chrono::milliseconds round{200};  // between reads (followers) or writes (leader)
  std::chrono::milliseconds budget{800};
};

// The document on `<prefix>weights`: {"by": HOST, "vips": {VIP: {BACKEND: {percent, down,
// passive_out, reason}}}}.
[[nodiscard]] std::string encode_weights(const WeightFactors& weights, const std::string& host);
[[nodiscard]] Result<WeightFactors> decode_weights(const std::string& document,
                                                   std::string* host = nullptr);

struct WeightShareStatus {
  bool leading = false;
  std::string leader;      // who computes the weights ("" unknown)
  std::string last_error;  // "" while etcd answers
};

class EtcdWeightShare {
 public:
  EtcdWeightShare(const config::EtcdSettings& settings, std::string host_name,
                  WeightShareOptions options = {});
  ~EtcdWeightShare();
  EtcdWeightShare(const EtcdWeightShare&) = delete;
  EtcdWeightShare& operator=(const EtcdWeightShare&) = delete;

  [[nodiscard]] Status init();
  void start();
  void stop();

  [[nodiscard]] bool leading() const;
  // Followers: the leader's weights as last read (nullopt before the first read).
  [[nodiscard]] std::optional<WeightFactors> followed() const;
  // Leader: the weights to write (the thread writes them when they changed).
  void publish(const WeightFactors& weights);
  [[nodiscard]] WeightShareStatus status() const;

 private:
  void run();
  void round();
  void lead_or_follow();
  void note_error(const std::string& error);

  config::EtcdSettings settings_;
  std::string host_;
  WeightShareOptions options_;
  std::string leader_key_;
  std::string weights_key_;
  std::unique_ptr<EtcdClient> client_;

  // The thread's own.
  std::optional<std::int64_t> lease_;
  std::chrono::steady_clock::time_point next_keepalive_{};
  std::string written_;  // the document last written (leader)

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool leading_ = false;
  std::string leader_;
  std::string last_error_;
  std::optional<WeightFactors> followed_;
  std::optional<WeightFactors> to_publish_;
  std::thread thread_;
};

}  // namespace sluice::cp
