// The connection limit's choice of what to close: idle connections first (longest idle), then
// the slowest request in progress, never a connection whose request is being handled.
#include "api/connection_table.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::cp {
namespace {

using Clock = ConnectionTable::Clock;
using std::chrono::seconds;

class ConnectionTableTest : public ::testing::Test {
 protected:
  ConnectionTable::Id add(ConnectionTable& t, int name, Clock::time_point at) {
    return t.add([this, name] { closed_.push_back(name); }, at);
  }
  std::vector<int> closed_;
  Clock::time_point t0_ = Clock::now();
};

TEST_F(ConnectionTableTest, BelowTheLimitThereIsRoomWithoutClosingAnything) {
  ConnectionTable t(3);
  add(t, 1, t0_);
  add(t, 2, t0_);
  const ConnectionTable::Room room = t.make_room();
  EXPECT_TRUE(room.available);
  EXPECT_FALSE(room.close);
  EXPECT_EQ(t.open(), 2u);
}

TEST_F(ConnectionTableTest, AtTheLimitTheLongestIdleIsClosedBeforeAnySlowRequest) {
  ConnectionTable t(4);
  const auto slow = add(t, 1, t0_);
  add(t, 2, t0_ + seconds(2));
  add(t, 3, t0_ + seconds(1));
  const auto busy = add(t, 4, t0_);
  t.set_phase(slow, ConnectionPhase::reading, t0_);
  t.set_phase(busy, ConnectionPhase::busy, t0_);

  ConnectionTable::Room room = t.make_room();
  ASSERT_TRUE(room.available);
  ASSERT_TRUE(room.close);
  EXPECT_EQ(room.closed_phase, ConnectionPhase::waiting);
  room.close();
  EXPECT_EQ(closed_, (std::vector<int>{3}));  // idle since t0+1 s, longer than 2
  EXPECT_EQ(t.open(), 3u) << "a connection being closed no longer counts";

  add(t, 5, t0_ + seconds(3));
  room = t.make_room();
  ASSERT_TRUE(room.close);
  room.close();
  EXPECT_EQ(closed_, (std::vector<int>{3, 2}));

  add(t, 6, t0_ + seconds(4));
  room = t.make_room();
  ASSERT_TRUE(room.close);
  room.close();
  EXPECT_EQ(closed_, (std::vector<int>{3, 2, 5}));
}

TEST_F(ConnectionTableTest, WithoutIdleConnectionsTheSlowestRequestMakesRoom) {
  ConnectionTable t(2);
  const auto a = add(t, 1, t0_);
  const auto b = add(t, 2, t0_);
  t.set_phase(a, ConnectionPhase::reading, t0_ + seconds(2));
  t.set_phase(b, ConnectionPhase::reading, t0_ + seconds(1));
  ConnectionTable::Room room = t.make_room();
  ASSERT_TRUE(room.close);
  EXPECT_EQ(room.closed_phase, ConnectionPhase::reading);
  room.close();
  EXPECT_EQ(closed_, (std::vector<int>{2}));
}

TEST_F(ConnectionTableTest, BusyConnectionsAreNeverClosedForRoom) {
  ConnectionTable t(2);
  t.set_phase(add(t, 1, t0_), ConnectionPhase::busy, t0_);
  const auto b = add(t, 2, t0_);
  t.set_phase(b, ConnectionPhase::busy, t0_);
  EXPECT_FALSE(t.make_room().available);
  EXPECT_FALSE(t.close_one());
  t.remove(b);
  EXPECT_TRUE(t.make_room().available);
  EXPECT_TRUE(closed_.empty());
}

TEST_F(ConnectionTableTest, CloseOneWorksBelowTheLimitAndRemoveForgets) {
  ConnectionTable t(10);
  const auto a = add(t, 1, t0_);
  add(t, 2, t0_ + seconds(1));
  ConnectionTable::CloseFn close = t.close_one();
  ASSERT_TRUE(close);
  close();
  EXPECT_EQ(closed_, (std::vector<int>{1}));
  EXPECT_EQ(t.open(), 1u);
  t.remove(a);  // its session ends later: counted once only
  EXPECT_EQ(t.open(), 1u);
  ASSERT_TRUE(t.close_one());
  EXPECT_FALSE(t.close_one()) << "each connection is chosen once";
}

}  // namespace
}  // namespace sluice::cp
