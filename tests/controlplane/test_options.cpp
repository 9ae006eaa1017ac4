// The daemon's settings: Prometheus listens on loopback unless configured otherwise (and only
// loopback addresses are accepted); the API's connection limit stays under RLIMIT_NOFILE.
#include "daemon/options.hpp"

#include <gtest/gtest.h>

namespace sluice::cp {
namespace {

TEST(DaemonOptions, MetricsListenOnLoopbackByDefault) {
  EXPECT_EQ(config::ControlplaneSettings{}.metrics_listen, "127.0.0.1:9780");
  const config::ControlplaneSettings settings =
      effective_settings(DaemonOptions{}, config::State{});
  EXPECT_EQ(settings.metrics_listen, "127.0.0.1:9780");
  Result<ListenAddress> address = parse_metrics_listen(settings.metrics_listen);
  ASSERT_TRUE(address.ok()) << address.error().message;
  EXPECT_EQ(address->host, "127.0.0.1");
  EXPECT_EQ(address->port, 9780);
}

TEST(DaemonOptions, MetricsListenAcceptsLoopbackAddressesOnly) {
  for (const char* ok : {"127.0.0.1:9780", "127.1.2.3:1", "[::1]:9780"}) {
    EXPECT_TRUE(parse_metrics_listen(ok).ok()) << ok;
  }
  for (const char* wide : {"0.0.0.0:9780", "198.18.0.1:9780", "[::]:9780", "[2001:db8::1]:9780"}) {
    const Result<ListenAddress> r = parse_metrics_listen(wide);
    ASSERT_FALSE(r.ok()) << wide;
    EXPECT_NE(r.error().message.find("is not a loopback address"), std::string::npos)
        << r.error().message;
  }
  EXPECT_FALSE(parse_metrics_listen("127.0.0.1:0").ok());
  EXPECT_FALSE(parse_metrics_listen("127.0.0.1").ok());
}

TEST(DaemonOptions, FlagsOverrideTheConfigsMetricsListen) {
  config::State state;
  state.controlplane = config::ControlplaneSettings{};
  state.controlplane->metrics_listen = "[::1]:9100";
  state.controlplane->api_max_connections = 32;
  EXPECT_EQ(effective_settings(DaemonOptions{}, state).metrics_listen, "[::1]:9100");
  EXPECT_EQ(effective_settings(DaemonOptions{}, state).api_max_connections, 32u);
  DaemonOptions options;
  options.metrics_listen = "127.0.0.2:9101";
  EXPECT_EQ(effective_settings(options, state).metrics_listen, "127.0.0.2:9101");
}

TEST(DaemonOptions, ConnectionLimitsStayUnderHalfOfTheDescriptors) {
  EXPECT_EQ(api_connection_limit(256, 1024), 256u);
  EXPECT_EQ(api_connection_limit(256, 128), 64u);
  EXPECT_EQ(api_connection_limit(65536, 1u << 20), 65536u);
  EXPECT_EQ(api_connection_limit(256, 1), 1u);
  EXPECT_EQ(metrics_connection_limit(1024), kMetricsMaxConnections);
  EXPECT_EQ(metrics_connection_limit(64), 8u);
}

}  // namespace
}  // namespace sluice::cp
