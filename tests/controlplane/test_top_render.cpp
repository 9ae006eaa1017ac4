// sluicectl top's frame (render_top) on status and stats documents shaped like the daemon's,
// with the optional fields other parts of the control plane add: weight_reason,
// check_latency_ms and the dataplane's syn_retransmits counter (a rate between two frames).
#include <gtest/gtest.h>

#include <sstream>

#include "sluicectl/top_view.hpp"

namespace sluice::ctl {
namespace {

using nlohmann::json;

json status_doc(bool optional_fields) {
  json b1{{"address", "198.18.3.11"}, {"state", "up"},    {"health", "up"},   {"weight", 10},
          {"effective_weight", 4},    {"drained", false}, {"active_flows", 0}};
  json b2{{"address", "198.18.3.12"}, {"state", "down"}, {"health", "down"}, {"weight", 2},
          {"effective_weight", 0},    {"drained", true}, {"active_flows", 0}};
  if (optional_fields) {
    b1["weight_reason"] = "slow-start 40%";
    b1["check_latency_ms"] = {{"ewma", 1.5}, {"p50", 1.25}, {"p99", 30.0}};
  }
  return {{"generation", 7},
          {"vips",
           {{{"vip", "198.18.0.10:80/tcp"},
             {"scheduler", "maglev"},
             {"encap", "ipip"},
             {"active_flows", 0},
             {"all_down", false},
             {"backends", {b1, b2}}}}},
          {"dataplanes", {{{"name", "lb"}, {"reachable", true}, {"in_sync", false}}}}};
}

json stats_doc(double syn_retransmits, bool optional_fields) {
  json b1{{"address", "198.18.3.11"},
          {"packets_per_s", 12345.0},
          {"new_flows_per_s", 250.0},
          {"active_flows", 17}};
  if (optional_fields) b1["syn_retransmits"] = syn_retransmits;
  return {{"vips",
           {{{"vip", "198.18.0.10:80/tcp"},
             {"packets_per_s", 12345.0},
             {"new_flows_per_s", 250.0},
             {"active_flows", 17},
             {"backends", {b1}}}}},
          {"drops",
           {{{"reason", "no_backend"}, {"packets", 0}, {"packets_per_s", 0.0}},
            {{"reason", "bad_checksum"}, {"packets", 40}, {"packets_per_s", 4.0}}}}};
}

std::vector<std::string> cells_of_line_with(const std::string& text, const std::string& what) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(what) == std::string::npos) continue;
    std::vector<std::string> cells;
    std::istringstream words(line);
    for (std::string w; words >> w;)
      cells.push_back(w);
    return cells;
  }
  return {};
}

TEST(TopRender, WithoutOptionalFieldsOnlyTheBaseColumns) {
  TopHistory history;
  const std::string frame =
      render_top(status_doc(false), stats_doc(0, false), 1.7e9, 1, false, history);
  EXPECT_NE(frame.find("generation 7  dataplanes 1/1 reachable, 0 in sync  every 1 s\n"),
            std::string::npos)
      << frame;
  EXPECT_EQ(frame.find("(q quits)"), std::string::npos);
  EXPECT_NE(frame.find("VIP 198.18.0.10:80/tcp  maglev/ipip  12.3k packets/s  250 new flows/s  "
                       "17 active"),
            std::string::npos)
      << frame;
  EXPECT_EQ(cells_of_line_with(frame, "BACKEND"),
            (std::vector<std::string>{"BACKEND", "STATE", "HEALTH", "WEIGHT", "EFFECTIVE",
                                      "PACKETS/S", "NEW", "FLOWS/S", "ACTIVE"}))
      << frame;
  EXPECT_EQ(cells_of_line_with(frame, "198.18.3.11"),
            (std::vector<std::string>{"198.18.3.11", "up", "up", "10", "4", "12.3k", "250", "17"}));
  // No counters for .12 in the stats: no rates, the status's active flows.
  EXPECT_EQ(cells_of_line_with(frame, "198.18.3.12"),
            (std::vector<std::string>{"198.18.3.12", "down", "down", "2", "(drained)", "0", "-",
                                      "-", "0"}));
  // Only the drop reasons that counted something.
  EXPECT_NE(frame.find("drops:  bad_checksum 4/s (40 in all)\n"), std::string::npos) << frame;
  EXPECT_EQ(frame.find("no_backend"), std::string::npos) << frame;
}

TEST(TopRender, OptionalFieldsAddReasonSynRetransmitsAndCheckLatency) {
  TopHistory history;
  std::string frame =
      render_top(status_doc(true), stats_doc(100, true), 1000.0, 0.5, true, history);
  EXPECT_NE(frame.find("(q quits)"), std::string::npos);
  EXPECT_EQ(cells_of_line_with(frame, "BACKEND"),
            (std::vector<std::string>{"BACKEND", "STATE", "HEALTH", "WEIGHT", "EFFECTIVE", "REASON",
                                      "PACKETS/S", "NEW", "FLOWS/S", "ACTIVE", "SYN", "RTX/S",
                                      "CHECK", "EWMA", "CHECK", "P50", "CHECK", "P99"}))
      << frame;
  // The first frame has no rate for a counter yet.
  EXPECT_EQ(
      cells_of_line_with(frame, "198.18.3.11"),
      (std::vector<std::string>{"198.18.3.11", "up", "up", "10", "4", "slow-start", "40%", "12.3k",
                                "250", "17", "-", "1.50", "ms", "1.25", "ms", "30", "ms"}))
      << frame;
  // 2 s later, 60 more retransmitted SYNs: 30/s.
  frame = render_top(status_doc(true), stats_doc(160, true), 1002.0, 0.5, true, history);
  const auto cells = cells_of_line_with(frame, "198.18.3.11");
  ASSERT_EQ(cells.size(), 17u) << frame;
  EXPECT_EQ(cells[10], "30") << frame;
  // A backend without the fields shows "-" in those columns.
  EXPECT_EQ(cells_of_line_with(frame, "198.18.3.12"),
            (std::vector<std::string>{"198.18.3.12", "down", "down", "2", "(drained)", "0", "-",
                                      "-", "-", "0", "-", "-", "-", "-"}))
      << frame;
}

TEST(TopRender, NoVipsAndAllDown) {
  TopHistory history;
  std::string frame = render_top(json{{"generation", 1}, {"vips", json::array()}}, json::object(),
                                 1.7e9, 1, false, history);
  EXPECT_NE(frame.find("no VIPs"), std::string::npos) << frame;
  EXPECT_NE(frame.find("drops:  none"), std::string::npos) << frame;
  json status = status_doc(false);
  status["vips"][0]["all_down"] = true;
  status["vips"][0]["all_down_policy"] = "drop";
  frame = render_top(status, stats_doc(0, false), 1.7e9, 1, false, history);
  EXPECT_NE(frame.find("ALL BACKENDS DOWN (policy drop)"), std::string::npos) << frame;
}

}  // namespace
}  // namespace sluice::ctl
