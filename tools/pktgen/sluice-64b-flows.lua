-- Pktgen-DPDK (tested against the pktgen-23.03.0 Lua API): 64-byte TCP packets over many
-- flows to one Sluice VIP, for a NIC cabled to the NIC that sluice-dataplane drives.
--
--   pktgen -l 0-2 -n 4 -a <PCI> -- -P -m "[1:2].0" -f tools/pktgen/sluice-64b-flows.lua
--
-- Flows: source address 198.19.0.0 + i (65,536 addresses) times SOURCE_PORTS source ports.
-- Pktgen steps every range field at once, so the number of distinct flows is
-- 65536 * SOURCE_PORTS only when SOURCE_PORTS is odd (1: 65,536 flows; 15: 983,040 flows).
--
-- To count what Sluice forwards on the same port, set Sluice's dataplane.next_hop_mac to this
-- port's MAC: the encapsulated packets come back here, and "Rx" below is the forwarded rate.
-- Test addresses only (198.18.0.0/15); never point this at a network you do not own.

package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local PORT = "0"
local SLUICE_MAC = "02:00:00:00:00:01"   -- MAC of the port sluice-dataplane receives on
local VIP = "198.18.0.10"
local VIP_PORT = 80
local SOURCE_PORTS = 1                   -- odd; flows = 65536 * SOURCE_PORTS
local SECONDS = 30
local RATE_PERCENT = 100

pktgen.screen("off")
pktgen.stop(PORT)
pktgen.set(PORT, "size", 64)
pktgen.set(PORT, "rate", RATE_PERCENT)
pktgen.set(PORT, "burst", 64)
pktgen.set_proto(PORT, "tcp")

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
pktgen.range.src_port(PORT, "inc", SOURCE_PORTS > 1 and 1 or 0)
pktgen.range.src_port(PORT, "min", 1024)
pktgen.range.src_port(PORT, "max", 1024 + SOURCE_PORTS - 1)
pktgen.range.pkt_size(PORT, "start", 64)
pktgen.range.pkt_size(PORT, "inc", 0)
pktgen.range.pkt_size(PORT, "min", 64)
pktgen.range.pkt_size(PORT, "max", 64)
pktgen.set_range(PORT, "on")

printf("sluice-64b-flows: %d flows to %s:%d for %d s\n", 65536 * SOURCE_PORTS, VIP, VIP_PORT,
       SECONDS)
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
