#include <gtest/gtest.h>

#include <cerrno>

#include "core/cpu_features.h"
#include "core/status.h"
#include "core/ts_assert.h"

namespace tessera {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_STREQ(StatusCodeName(s.code()), "OK");
}

TEST(Status, CodeNamesAreStable) {
  // These strings are public API (err.code in JavaScript): pinned here.
  EXPECT_STREQ(StatusCodeName(StatusCode::kIo), "ERR_STORE_IO");
  EXPECT_STREQ(StatusCodeName(StatusCode::kCorrupt), "ERR_STORE_CORRUPT");
  EXPECT_STREQ(StatusCodeName(StatusCode::kQuorum), "ERR_STORE_QUORUM");
  EXPECT_STREQ(StatusCodeName(StatusCode::kLocked), "ERR_STORE_LOCKED");
  EXPECT_STREQ(StatusCodeName(StatusCode::kClosed), "ERR_STORE_CLOSED");
  EXPECT_STREQ(StatusCodeName(StatusCode::kNotFound), "NoSuchKey");
  EXPECT_STREQ(StatusCodeName(StatusCode::kPreconditionFailed),
               "PreconditionFailed");
  EXPECT_STREQ(StatusCodeName(StatusCode::kInvalidArgument),
               "ERR_INVALID_ARG_VALUE");
}

TEST(Status, FromErrnoMapsNoSpaceSeparately) {
  Status io = Status::FromErrno(EIO, "pwrite drive-1");
  EXPECT_EQ(io.code(), StatusCode::kIo);
  EXPECT_EQ(io.sys_errno(), EIO);
  EXPECT_EQ(io.message(), "pwrite drive-1: Input/output error");
  Status full = Status::FromErrno(ENOSPC, "fallocate");
  EXPECT_EQ(full.code(), StatusCode::kNoSpace);
  EXPECT_EQ(full.sys_errno(), ENOSPC);
}

Status FailWhen(bool fail) {
  if (fail) return Status(StatusCode::kCorrupt, "bad crc");
  return Status::Ok();
}

Status Chain(bool fail, int* reached) {
  TS_RETURN_IF_ERROR(FailWhen(fail));
  *reached = 1;
  return Status::Ok();
}

TEST(Status, ReturnIfErrorStopsOnFailure) {
  int reached = 0;
  Status s = Chain(true, &reached);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(reached, 0);
  s = Chain(false, &reached);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(reached, 1);
}

TEST(AssertDeathTest, FailingAssertAbortsWithExpression) {
  const int shard_count = 0;
  EXPECT_DEATH(TS_ASSERT_MSG(shard_count > 0, "need shards"),
               "assertion failed: shard_count > 0 .*need shards");
}

TEST(CpuFeatures, DetectedOnceAndSummarized) {
  const CpuFeatures& a = GetCpuFeatures();
  const CpuFeatures& b = GetCpuFeatures();
  EXPECT_EQ(&a, &b);
#if defined(__x86_64__)
  // Every x86-64 CPU that can run Node 20 has SSE4.2 in practice, but the
  // wide flags must imply the narrower ones they are built on.
  if (a.avx512bw) {
    EXPECT_TRUE(a.avx512f);
  }
  if (a.avx2) {
    EXPECT_TRUE(a.ssse3);
  }
#endif
  EXPECT_NE(CpuFeatureSummary(), nullptr);
}

}  // namespace
}  // namespace tessera
