-- Pktgen-DPDK: a SYN flood against one Sluice VIP (every packet a new flow), to measure the
-- new-flow path: flow-table insert, eviction when full, scheduler. 64-byte TCP SYNs from
-- 65536 * SOURCE_PORTS distinct (address, port) pairs (SOURCE_PORTS odd, see
-- sluice-64b-flows.lua). Run it like sluice-64b-flows.lua.
--
-- pktgen-23.03 has no Lua call for TCP flags: this script uses pktgen.set_tcp_flags where the
-- running Pktgen has it, and otherwise asks you to type, before running the script,
--     range 0 tcp flag set syn
--     range 0 tcp flag clr ack
-- Test addresses only (198.18.0.0/15); never point this at a network you do not own.

package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local PORT = "0"
local SLUICE_MAC = "02:00:00:00:00:01"
local VIP = "198.18.0.10"
local VIP_PORT = 80
local SOURCE_PORTS = 255               -- odd: 16.7M distinct flows before one repeats
local SECONDS = 30

pktgen.screen("off")
pktgen.stop(PORT)
pktgen.set(PORT, "size", 64)
pktgen.set(PORT, "rate", 100)
pktgen.set(PORT, "burst", 64)
pktgen.set_proto(PORT, "tcp")
if pktgen.set_tcp_flags ~= nil then
  pktgen.set_tcp_flags(PORT, "syn")
else
  printf("note: set the SYN flag on the Pktgen command line first: range %s tcp flag set syn; "
         .. "range %s tcp flag clr ack\n", PORT, PORT)
end

pktgen.range.dst_mac(PORT, "start", SLUICE_MAC)
pktgen.range.dst_ip(PORT, "start", VIP)
pktgen.range.dst_ip(PORT, "inc", "0.0.0.0")
pktgen.range.dst_ip(PORT, "min", VIP)
pktgen.range.dst_ip(PORT, "max", VIP)
pktgen.range.src_ip(PORT, "start", "198.19.0.0")
pktgen.range.src_ip(PORT, "inc", "0.0.0.1")
pktgen.range.src_ip(PORT, "min", "198.19.0.0")
pktgen.range.src_ip(PORT, "max", "198.19.255.255")
pktgen.range.ip_proto(PORT, "tcp")
pktgen.range.dst_port(PORT, "start", VIP_PORT)
pktgen.range.dst_port(PORT, "inc", 0)
pktgen.range.dst_port(PORT, "min", VIP_PORT)
pktgen.range.dst_port(PORT, "max", VIP_PORT)
pktgen.range.src_port(PORT, "start", 1024)
pktgen.range.src_port(PORT, "inc", 1)
pktgen.range.src_port(PORT, "min", 1024)
pktgen.range.src_port(PORT, "max", 1024 + SOURCE_PORTS - 1)
pktgen.range.pkt_size(PORT, "start", 64)
pktgen.range.pkt_size(PORT, "inc", 0)
pktgen.range.pkt_size(PORT, "min", 64)
pktgen.range.pkt_size(PORT, "max", 64)
pktgen.set_range(PORT, "on")

printf("sluice-syn-flood: SYNs from %d flows to %s:%d for %d s\n", 65536 * SOURCE_PORTS, VIP,
       VIP_PORT, SECONDS)
pktgen.clr()
pktgen.start(PORT)
local id = tonumber(PORT)
for second = 1, SECONDS do
  pktgen.delay(1000)
  local rate = pktgen.portStats(PORT, "rate")[id]
  printf("%3d s  tx %8.3f Mpps  rx %8.3f Mpps  missed %d\n", second, rate.pkts_tx / 1e6,
         rate.pkts_rx / 1e6, rate.imissed)
end
pktgen.stop(PORT)
pktgen.screen("on")
