// Attaching the programs to real interfaces and reaching their maps the ways the dataplane and
// sluice-decap do. The process moves into its own network and mount namespaces first, so the
// veth pair and the bpffs it creates vanish with it, however the test ends.
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "loader/decap_program.hpp"
#include "loader/xdp_attachment.hpp"
#include "loader/xdp_steering.hpp"
#include "sluice/net/builder.hpp"

namespace sluice::bpf {
namespace {

using net::address;

constexpr const char* kPinRoot = "/run/sluice-bpf-test-pins";

class PrivateNamespaces : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "namespaces and XDP need root";
    ASSERT_EQ(unshare(CLONE_NEWNET | CLONE_NEWNS), 0) << "needs root (CAP_SYS_ADMIN)";
    ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    std::filesystem::create_directories(kPinRoot);
    ASSERT_EQ(mount("bpf", kPinRoot, "bpf", 0, nullptr), 0);
    ASSERT_EQ(std::system("ip link add sbt0 type veth peer name sbt1 && ip link set sbt0 up && "
                          "ip link set sbt1 up"),
              0);
  }
  void TearDown() override {
    (void)umount(kPinRoot);
    std::error_code ignored;
    std::filesystem::remove(kPinRoot, ignored);
  }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new PrivateNamespaces);

int ifindex(const char* name) {
  return static_cast<int>(if_nametoindex(name));
}

std::optional<AttachedProgram> attached_to(const char* name) {
  auto program = query_attached_program(ifindex(name));
  EXPECT_TRUE(program.ok()) << program.error().message;
  return program.ok() ? std::move(*program) : std::nullopt;
}

TEST(DecapAttachTest, NativeAttachDetachesWhenTheHandleGoes) {
  auto program = DecapProgram::load({});
  ASSERT_TRUE(program.ok()) << program.error().message;
  {
    auto attachment = program->attach(ifindex("sbt1"), AttachMode::native);
    ASSERT_TRUE(attachment.ok()) << attachment.error().message;
    EXPECT_TRUE(attachment->native());
    auto now = attached_to("sbt1");
    ASSERT_TRUE(now.has_value());
    EXPECT_EQ(now->name, SLUICE_DECAP_PROG_NAME);
    EXPECT_TRUE(now->native);

    auto counters = DecapProgram::attached_counters(ifindex("sbt1"));
    ASSERT_TRUE(counters.ok()) << counters.error().message;
  }
  EXPECT_FALSE(attached_to("sbt1").has_value());
}

TEST(DecapAttachTest, SecondAttachIsRefusedUnlessItReplaces) {
  auto first = DecapProgram::load({});
  auto second = DecapProgram::load({.gue_port = 7000});
  ASSERT_TRUE(first.ok() && second.ok());
  auto attachment = first->attach(ifindex("sbt1"), AttachMode::native);
  ASSERT_TRUE(attachment.ok()) << attachment.error().message;

  EXPECT_FALSE(second->attach(ifindex("sbt1"), AttachMode::native).ok());

  auto existing = attached_to("sbt1");
  ASSERT_TRUE(existing.has_value());
  auto replacement = second->attach(ifindex("sbt1"), AttachMode::native, &*existing);
  ASSERT_TRUE(replacement.ok()) << replacement.error().message;
  auto now = attached_to("sbt1");
  ASSERT_TRUE(now.has_value());
  EXPECT_NE(now->id, existing->id);

  // The first handle no longer owns what is attached: dropping it must leave the new one.
  EXPECT_FALSE(attachment->detach().ok());
  EXPECT_TRUE(attached_to("sbt1").has_value());
  EXPECT_TRUE(replacement->detach().ok());
  EXPECT_FALSE(attached_to("sbt1").has_value());
}

TEST(DecapAttachTest, ReleasedAttachmentOutlivesTheProcessHandles) {
  {
    auto program = DecapProgram::load({});
    ASSERT_TRUE(program.ok());
    auto attachment = program->attach(ifindex("sbt1"), AttachMode::skb);
    ASSERT_TRUE(attachment.ok()) << attachment.error().message;
    EXPECT_FALSE(attachment->native());
    attachment->release();
  }
  auto left = attached_to("sbt1");
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->name, SLUICE_DECAP_PROG_NAME);
  EXPECT_FALSE(left->native);
  EXPECT_TRUE(DecapProgram::attached_counters(ifindex("sbt1")).ok());
  EXPECT_TRUE(detach_xdp(ifindex("sbt1"), *left).ok());
  EXPECT_FALSE(attached_to("sbt1").has_value());
}

TEST(DecapAttachTest, CountersOfAnInterfaceWithoutTheProgramAreAnError) {
  EXPECT_FALSE(DecapProgram::attached_counters(ifindex("sbt0")).ok());
}

TEST(SteeringAttachTest, MapsAreReachableThroughTheAttachedProgram) {
  auto loaded = XdpSteering::load("");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  auto attachment = attach_xdp(ifindex("sbt0"), loaded->program_fd(), AttachMode::native);
  ASSERT_TRUE(attachment.ok()) << attachment.error().message;

  auto found = XdpSteering::attached(ifindex("sbt0"));
  ASSERT_TRUE(found.ok()) << found.error().message;
  const std::vector<VipKey> vips = {make_vip_key(address("198.18.0.10"), 80, net::kIpProtoTcp)};
  ASSERT_TRUE(found->set_vips(vips).ok());
  auto seen = loaded->vips();
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_TRUE(same_key((*seen)[0], vips[0]));
  EXPECT_TRUE(found->counters().ok());
}

TEST(SteeringAttachTest, AttachedFailsWithoutTheSteeringProgram) {
  EXPECT_FALSE(XdpSteering::attached(ifindex("sbt0")).ok());
}

// The af_xdp PMD loads its own copy of the object; libbpf reuses the pinned maps, so whichever
// side comes first, both see one VIP set.
TEST(SteeringPinTest, PinnedMapsAreSharedBetweenLoads) {
  auto first = XdpSteering::load(kPinRoot);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(std::filesystem::exists(std::string(kPinRoot) + "/" SLUICE_VIP_MAP_NAME));

  auto opened = XdpSteering::open_pinned(kPinRoot);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  const std::vector<VipKey> vips = {make_vip_key(address("2001:db8::10"), 443, net::kIpProtoTcp),
                                    make_vip_key(address("198.18.0.10"), 0, net::kIpProtoUdp)};
  ASSERT_TRUE(opened->set_vips(vips).ok());

  auto second = XdpSteering::load(kPinRoot);
  ASSERT_TRUE(second.ok()) << second.error().message;
  auto seen = second->vips();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->size(), 2u);
  auto seen_by_first = first->vips();
  ASSERT_TRUE(seen_by_first.ok());
  EXPECT_EQ(seen_by_first->size(), 2u);
}

TEST(SteeringPinTest, OpenPinnedFailsWhereNothingIsPinned) {
  EXPECT_FALSE(XdpSteering::open_pinned("/run/no-such-sluice-pins").ok());
}

}  // namespace
}  // namespace sluice::bpf
