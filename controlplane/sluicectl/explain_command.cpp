// sluicectl explain SRC DST SPORT DPORT PROTO [--syn]: which backend a flow gets, and why:
// the dataplane runs its workers' own flow decision on a copy of their state.
#include <fmt/format.h>

#include <memory>

#include "api/request_target.hpp"
#include "sluicectl/context.hpp"

namespace sluice::ctl {
namespace {

struct ExplainArgs {
  std::string src, dst, sport, dport, proto;
  std::string dataplane;
  bool syn = false;
};

std::string endpoint(const std::string& address, const std::string& port) {
  return address.find(':') != std::string::npos ? "[" + address + "]:" + port
                                                : address + ":" + port;
}

void explain(Context& ctx, const ExplainArgs& a) {
  std::initializer_list<std::pair<std::string, std::string>> params = {{"src", a.src},
                                                                       {"dst", a.dst},
                                                                       {"src_port", a.sport},
                                                                       {"dst_port", a.dport},
                                                                       {"protocol", a.proto}};
  std::string target = with_query("/v1/explain", params);
  if (!a.dataplane.empty()) target += "&dataplane=" + cp::percent_encode(a.dataplane);
  if (a.syn) target += "&syn=1";
  auto reply = ctx.call({"GET", target, ""});
  if (!reply) return;
  if (ctx.json) return Context::print_json(*reply);
  const auto& r = *reply;
  auto text = [&](const char* key) {
    return r.contains(key) && r[key].is_string() ? r[key].get<std::string>() : std::string();
  };
  std::cout << "flow       " << endpoint(a.src, a.sport) << " -> " << endpoint(a.dst, a.dport)
            << " " << a.proto << (a.syn ? " SYN" : "") << "\n";
  std::cout << "dataplane  " << text("dataplane") << "\n";
  std::cout << "vip        " << (text("vip").empty() ? "(none)" : text("vip")) << "\n";
  std::cout << "backend    " << (text("backend").empty() ? "(none)" : text("backend")) << "\n";
  std::string source = text("source");
  if (r.contains("lcore") && r["lcore"].is_number())
    source += " (lcore " + std::to_string(r["lcore"].get<std::uint32_t>()) + ")";
  std::cout << "decided by " << source << "\n";
  std::cout << "action     " << text("action") << "\n";
  if (r.contains("flow_hash") && r["flow_hash"].is_number()) {
    std::cout << "flow hash  " << fmt::format("{:#010x}", r["flow_hash"].get<std::uint32_t>());
    if (r.contains("maglev_slot") && r["maglev_slot"].is_number()) {
      std::cout << ", maglev slot " << r["maglev_slot"].get<std::uint32_t>();
    }
    std::cout << "\n";
  }
  std::cout << "why        " << text("reason") << "\n";
}

}  // namespace

void add_explain_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ExplainArgs>();
  CLI::App* command = app.add_subcommand(
      "explain", "which backend a 5-tuple gets (from the flow table or the scheduler) and why");
  command->add_option("src", args->src, "client address")->required();
  command->add_option("dst", args->dst, "VIP address")->required();
  command->add_option("sport", args->sport, "client port")->required();
  command->add_option("dport", args->dport, "VIP port")->required();
  command->add_option("proto", args->proto, "tcp or udp")->required();
  command->add_option("--dataplane", args->dataplane,
                      "ask this dataplane (default: the first reachable)");
  command->add_flag("--syn", args->syn,
                    "ask about a TCP SYN (a new connection) instead of the flow's next packet");
  add_json_flag(command, ctx);
  command->callback([&ctx, args] { explain(ctx, *args); });
}

}  // namespace sluice::ctl
