// sluice-decap: installs the decapsulation XDP program on a backend host's interface, removes
// it, and shows its counters. The program stays attached after `attach` exits.
#include <net/if.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loader/decap_program.hpp"
#include "loader/xdp_attachment.hpp"

namespace {

using sluice::Status;
using namespace sluice::bpf;

struct Arguments {
  std::string interface;
  std::uint16_t gue_port = kDefaultGuePort;
  std::vector<std::string> tunnel_addresses;
  std::vector<std::string> tunnel_sources;
  std::string mode = "native";
  bool force = false;
  bool json = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "sluice-decap: %s\n", message.c_str());
  return 1;
}

sluice::Result<int> interface_index(const std::string& name) {
  const unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return sluice::Error{"no interface named '" + name + "'"};
  return static_cast<int>(index);
}

AttachMode parse_mode(const std::string& mode) {
  if (mode == "skb") return AttachMode::skb;
  if (mode == "auto") return AttachMode::native_or_skb;
  return AttachMode::native;
}

// Replacing in place is atomic, but only within one mode; across modes the old program has to
// go first.
bool can_replace_in_place(AttachMode mode, const AttachedProgram& existing) {
  return mode == AttachMode::native_or_skb || (mode == AttachMode::native) == existing.native;
}

int run_attach(const Arguments& args) {
  auto ifindex = interface_index(args.interface);
  if (!ifindex.ok()) return fail(ifindex.error().message);

  DecapOptions options;
  options.gue_port = args.gue_port;
  for (const std::string& text : args.tunnel_addresses) {
    auto address = sluice::IpAddress::parse(text);
    if (!address) return fail("--tunnel-address: '" + text + "' is not an IPv4 or IPv6 address");
    options.tunnel_addresses.push_back(*address);
  }
  for (const std::string& text : args.tunnel_sources) {
    auto address = sluice::IpAddress::parse(text);
    if (!address) return fail("--tunnel-source: '" + text + "' is not an IPv4 or IPv6 address");
    options.tunnel_sources.push_back(*address);
  }

  auto existing = query_attached_program(*ifindex);
  if (!existing.ok()) return fail(existing.error().message);
  const AttachedProgram* replace = nullptr;
  if (existing->has_value()) {
    const AttachedProgram& current = **existing;
    if (current.name != SLUICE_DECAP_PROG_NAME && !args.force)
      return fail(args.interface + " already runs XDP program '" + current.name + "' (id " +
                  std::to_string(current.id) + "); use --force to replace it");
    if (can_replace_in_place(parse_mode(args.mode), current)) {
      replace = &current;
    } else if (auto status = detach_xdp(*ifindex, current); !status.ok()) {
      return fail(status.error().message);
    }
  }

  auto program = DecapProgram::load(options);
  if (!program.ok()) return fail(program.error().message);
  auto attachment = program->attach(*ifindex, parse_mode(args.mode), replace);
  if (!attachment.ok()) return fail(attachment.error().message);
  attachment->release();

  std::string addresses;
  for (const std::string& text : args.tunnel_addresses)
    addresses += " " + text;
  std::string sources;
  for (const std::string& text : args.tunnel_sources)
    sources += " " + text;
  std::printf(
      "sluice-decap: attached to %s (%s mode); GUE port %s; tunnel addresses:%s; second hop "
      "from tunnel sources:%s\n",
      args.interface.c_str(), attachment->native() ? "native" : "skb",
      args.gue_port ? std::to_string(args.gue_port).c_str() : "off",
      addresses.empty() ? " any" : addresses.c_str(),
      sources.empty() ? " none (never sent on)" : sources.c_str());
  return 0;
}

int run_detach(const Arguments& args) {
  auto ifindex = interface_index(args.interface);
  if (!ifindex.ok()) return fail(ifindex.error().message);
  auto existing = query_attached_program(*ifindex);
  if (!existing.ok()) return fail(existing.error().message);
  if (!existing->has_value()) {
    std::printf("sluice-decap: nothing attached to %s\n", args.interface.c_str());
    return 0;
  }
  const AttachedProgram& current = **existing;
  if (current.name != SLUICE_DECAP_PROG_NAME && !args.force)
    return fail(args.interface + " runs XDP program '" + current.name +
                "', not " SLUICE_DECAP_PROG_NAME "; use --force to detach it anyway");
  if (Status status = detach_xdp(*ifindex, current); !status.ok())
    return fail(status.error().message);
  std::printf("sluice-decap: detached from %s\n", args.interface.c_str());
  return 0;
}

template <std::size_t N>
nlohmann::json counters_json(const std::array<CounterTotals, N>& counters,
                             const std::array<CounterInfo, N>& names) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t i = 0; i < N; ++i)
    out[std::string(names[i].name)] = {{"packets", counters[i].packets},
                                       {"bytes", counters[i].bytes}};
  return out;
}

template <std::size_t N>
void print_table(const char* heading, const std::array<CounterTotals, N>& counters,
                 const std::array<CounterInfo, N>& names) {
  std::printf("%-22s %14s %16s  %s\n", heading, "packets", "bytes", "meaning");
  for (std::size_t i = 0; i < N; ++i)
    std::printf("%-22s %14llu %16llu  %s\n", std::string(names[i].name).c_str(),
                static_cast<unsigned long long>(counters[i].packets),
                static_cast<unsigned long long>(counters[i].bytes),
                std::string(names[i].description).c_str());
}

int run_stats(const Arguments& args) {
  auto ifindex = interface_index(args.interface);
  if (!ifindex.ok()) return fail(ifindex.error().message);
  auto counters = DecapProgram::attached_counters(*ifindex);
  if (!counters.ok()) return fail(counters.error().message);
  auto second_hop = DecapProgram::attached_second_hop_counters(*ifindex);
  if (!second_hop.ok()) return fail(second_hop.error().message);

  if (args.json) {
    nlohmann::json out = {{"interface", args.interface},
                          {"counters", counters_json(*counters, kDecapOutcomes)},
                          {"second_hop", counters_json(*second_hop, kSecondHopOutcomes)}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  print_table("outcome", *counters, kDecapOutcomes);
  std::printf("\n");
  print_table("second hop", *second_hop, kSecondHopOutcomes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sluice-decap: the backend side of Sluice. Attaches an XDP program that removes Sluice's "
      "IPIP / 6in4 / IP6IP6 / 4in6 / GUE encapsulation so the kernel sees the client's packet "
      "to the VIP (which the backend holds on lo) and answers the client directly (DSR).\n\n"
      "Second chance: a GUE packet from a load balancer may name a second hop, the backend "
      "that served the flow before the load balancer's table changed. When its TCP packet is "
      "not a SYN and no local socket takes it, it is sent on to that hop (once: the hop is "
      "marked used) instead of being answered here with a reset. Only packets from the "
      "--tunnel-source addresses are sent on. A backend that sends on needs forwarding on the "
      "interface (net.ipv4.conf.IF.forwarding=1, net.ipv6.conf.IF.forwarding=1) and a resolved "
      "neighbour entry for the hop; without them the packet is delivered here, counted "
      "redirect_no_route. On a veth, XDP_TX reaches the peer only when the peer runs an XDP "
      "program (xdp_pass.bpf.o) or with --mode skb. See docs/second-chance.md.\n\n"
      "Example:\n  sluice-decap attach --iface eth0 --tunnel-address 198.18.3.11 "
      "--tunnel-source 198.18.2.2\n"
      "  sluice-decap stats --iface eth0 --json\n  sluice-decap detach --iface eth0"};
  app.require_subcommand(1);
  Arguments args;

  CLI::App* attach = app.add_subcommand(
      "attach", "Load and attach the program (replaces an earlier sluice-decap atomically)");
  attach->add_option("--iface,-i", args.interface, "Interface that receives tunnel traffic")
      ->required();
  attach->add_option("--gue-port", args.gue_port, "UDP destination port of GUE; 0 turns GUE off")
      ->capture_default_str();
  attach->add_option("--tunnel-address", args.tunnel_addresses,
                     "Outer destination to decapsulate for; repeat for several (IPv4 or IPv6). "
                     "Without any, every tunnel packet is decapsulated");
  attach->add_option("--tunnel-source", args.tunnel_sources,
                     "Outer source address of a Sluice load balancer (its tunnel_source_v4/v6); "
                     "repeat for several (IPv4 or IPv6). Only GUE packets from these may be "
                     "sent on to the second hop they name. Without any, none is sent on");
  attach
      ->add_option("--mode", args.mode,
                   "native: in the driver; skb: generic; auto: native, else skb")
      ->check(CLI::IsMember({"native", "skb", "auto"}))
      ->capture_default_str();
  attach->add_flag("--force", args.force, "Replace an XDP program that is not sluice-decap");

  CLI::App* detach = app.add_subcommand("detach", "Detach the program (no-op if none)");
  detach->add_option("--iface,-i", args.interface, "Interface")->required();
  detach->add_flag("--force", args.force, "Detach even an XDP program that is not sluice-decap");

  CLI::App* stats = app.add_subcommand(
      "stats",
      "Show per-outcome packet and byte counters, then the second-hop outcomes (JSON: "
      "\"counters\" and \"second_hop\", each name -> {\"packets\", \"bytes\"})");
  stats->add_option("--iface,-i", args.interface, "Interface")->required();
  stats->add_flag("--json", args.json, "Print JSON instead of a table");

  CLI11_PARSE(app, argc, argv);
  if (attach->parsed()) return run_attach(args);
  if (detach->parsed()) return run_detach(args);
  return run_stats(args);
}
