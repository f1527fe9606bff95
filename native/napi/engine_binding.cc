// The object engine's binding: engineOpen() -> NativeEngine handle with
// batched writes, reads, listings and close. TypeScript (lib/store/
// engine_binding.ts) validates every argument first; checks here only keep
// the process safe from a caller that skipped it.
//
// Threads. Writes complete on the engine's committer thread, reads on its
// reader threads; both hand their result to one thread-safe function per
// handle, which settles the promise on the JS thread. The JS thread never
// waits for disk, hashing or coding, and libuv's pool is used only for
// the one-off open and close. The thread-safe function is referenced only
// while operations are in flight, so an idle open store does not keep the
// process alive.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/ts_assert.h"
#include "engine/engine.h"
#include "io/fault_fs.h"
#include "napi/addon_data.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"
#include "napi/registry.h"

namespace tessera::napi {
namespace {

using engine::Engine;
using engine::ObjectInfo;
using engine::WriteRequest;
using engine::WriteResult;

std::string Hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 15]);
  }
  return s;
}

// A result waiting to be settled on the JS thread.
struct Completion {
  Napi::Promise::Deferred deferred;
  std::vector<Napi::Reference<Napi::Value>> kept;  // borrowed buffers
  Status status;
  std::function<Napi::Value(Napi::Env)> make;  // the value on success

  explicit Completion(Napi::Env env)
      : deferred(Napi::Promise::Deferred::New(env)) {}
};

Napi::Array PairsToJs(
    Napi::Env env,
    const std::vector<std::pair<std::string, std::string>>& pairs) {
  Napi::Array a = Napi::Array::New(env, pairs.size());
  for (uint32_t i = 0; i < pairs.size(); i++) {
    Napi::Array kv = Napi::Array::New(env, 2);
    kv.Set(0u, Napi::String::New(env, pairs[i].first));
    kv.Set(1u, Napi::String::New(env, pairs[i].second));
    a.Set(i, kv);
  }
  return a;
}

std::vector<std::pair<std::string, std::string>> PairsFromJs(Napi::Env env,
                                                             Napi::Value v,
                                                             const char* what) {
  std::vector<std::pair<std::string, std::string>> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) {
    throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                        std::string(what) + " must be an array of pairs");
  }
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value item = a.Get(i);
    if (!item.IsArray() || item.As<Napi::Array>().Length() != 2) {
      throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                          std::string(what) + " must be an array of pairs");
    }
    Napi::Array kv = item.As<Napi::Array>();
    out.emplace_back(kv.Get(0u).ToString().Utf8Value(),
                     kv.Get(1u).ToString().Utf8Value());
  }
  return out;
}

Napi::Object InfoToJs(Napi::Env env, const ObjectInfo& info) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("versionId", info.version_id);
  o.Set("deleteMarker", info.delete_marker);
  o.Set("isLatest", info.is_latest);
  o.Set("size", double(info.size));
  o.Set("mtimeMs", double(info.mtime_ms));
  o.Set("etag", info.delete_marker ? std::string() : Hex(info.etag, 16));
  o.Set("partCount", info.part_count);
  o.Set("contentType", info.content_type);
  o.Set("metadata", PairsToJs(env, info.metadata));
  o.Set("checksums", PairsToJs(env, info.checksums));
  o.Set("sequence", double(info.seq));
  return o;
}

Napi::Object MetaToJs(Napi::Env env, const std::string& key,
                      const engine::VersionMeta& m, bool is_latest) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("key", key);
  o.Set("versionId", engine::VersionIdString(m));
  o.Set("isLatest", is_latest);
  o.Set("deleteMarker", m.delete_marker);
  o.Set("size", double(m.size));
  o.Set("etag", m.delete_marker ? std::string() : Hex(m.etag, 16));
  o.Set("partCount", m.part_count);
  o.Set("mtimeMs", double(m.mtime_ms));
  o.Set("sequence", double(m.seq));
  return o;
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i,
                      const char* name) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(name) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(name) + " must be a number");
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

// read/readInto's leading arguments: (bucket, key, versionId, offset,
// length).
struct BodyRange {
  std::string bucket, key, version;
  uint64_t offset = 0, length = 0;
};

BodyRange BodyRangeArgs(const Napi::CallbackInfo& info) {
  BodyRange r;
  r.bucket = StringArg(info, 0, "bucket");
  r.key = StringArg(info, 1, "key");
  r.version = StringArg(info, 2, "versionId");
  r.offset = uint64_t(NumberArg(info, 3, "offset"));
  r.length = uint64_t(NumberArg(info, 4, "length"));
  return r;
}

class NativeEngine : public Napi::ObjectWrap<NativeEngine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeEngine",
        {
            InstanceMethod("info", &NativeEngine::Info),
            InstanceMethod("stats", &NativeEngine::Stats),
            InstanceMethod("submit", &NativeEngine::SubmitBatch),
            InstanceMethod("beginUpload", &NativeEngine::BeginUpload),
            InstanceMethod("appendUpload", &NativeEngine::AppendUpload),
            InstanceMethod("abortUpload", &NativeEngine::AbortUpload),
            InstanceMethod("head", &NativeEngine::Head),
            InstanceMethod("read", &NativeEngine::Read),
            InstanceMethod("readInto", &NativeEngine::ReadInto),
            InstanceMethod("getCached", &NativeEngine::GetCached),
            InstanceMethod("getCachedRef", &NativeEngine::GetCachedRef),
            InstanceMethod("generationCell", &NativeEngine::GenerationCell),
            InstanceMethod("list", &NativeEngine::List),
            InstanceMethod("listVersions", &NativeEngine::ListVersions),
            InstanceMethod("getBucket", &NativeEngine::GetBucket),
            InstanceMethod("listBuckets", &NativeEngine::ListBuckets),
            InstanceMethod("close", &NativeEngine::Close),
            InstanceMethod("scrub", &NativeEngine::Scrub),
            InstanceMethod("scrubProgress", &NativeEngine::ScrubProgress),
            InstanceMethod("cancelScrub", &NativeEngine::CancelScrub),
            InstanceMethod("damagedStripes", &NativeEngine::DamagedStripes),
            InstanceMethod("compact", &NativeEngine::Compact),
            InstanceMethod("cancelCompact", &NativeEngine::CancelCompact),
            InstanceMethod("spaceStats", &NativeEngine::SpaceStatsJs),
            InstanceMethod("changes", &NativeEngine::Changes),
            InstanceMethod("committedSeq", &NativeEngine::CommittedSeq),
            InstanceMethod("census", &NativeEngine::Census),
            InstanceMethod("waitHealIdle", &NativeEngine::WaitHealIdle),
            InstanceMethod("testFailDrive", &NativeEngine::TestFailDrive),
            InstanceMethod("testClearFaults", &NativeEngine::TestClearFaults),
        });
  }

  explicit NativeEngine(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<NativeEngine>(info) {
    tsfn_ = Napi::ThreadSafeFunction::New(
        info.Env(),
        Napi::Function::New(info.Env(), [](const Napi::CallbackInfo&) {}),
        "tessera.engine", 0, 1);
    tsfn_.Unref(info.Env());
  }

  ~NativeEngine() override {
    StopScrub();
    StopCompact();
    if (engine_ != nullptr && !closed_) {
      // Collected while open: close here (drains, writes a snapshot).
      (void)engine_->Close().ok();
    }
    if (!released_) tsfn_.Release();
  }

  void Adopt(std::unique_ptr<Engine> engine,
             std::unique_ptr<io::FaultFs> fault_fs) {
    fault_fs_ = std::move(fault_fs);
    engine_ = std::move(engine);
  }

 private:
  // ---- plumbing ----

  // JS thread: a new in-flight operation; keeps the loop alive meanwhile.
  Completion* Start(Napi::Env env) {
    if (inflight_++ == 0) tsfn_.Ref(env);
    return new Completion(env);
  }

  // Any thread: hands the completion to the JS thread.
  void Finish(Completion* c) {
    napi_status s = tsfn_.NonBlockingCall(
        c, [this](Napi::Env env, Napi::Function, Completion* done) {
          Settle(env, done);
        });
    TS_ASSERT_MSG(s == napi_ok, "thread-safe function call failed");
  }

  // JS thread.
  void Settle(Napi::Env env, Completion* c) {
    Napi::HandleScope scope(env);
    if (c->status.ok()) {
      c->deferred.Resolve(c->make ? c->make(env) : env.Undefined());
    } else {
      c->deferred.Reject(StatusToError(env, c->status).Value());
    }
    delete c;
    TS_ASSERT(inflight_ > 0);
    if (--inflight_ == 0 && !released_) tsfn_.Unref(env);
  }

  void CheckOpen(Napi::Env env) {
    if (engine_ == nullptr || closed_) {
      throw StatusToError(env,
                          Status(StatusCode::kClosed, "the store is closed"));
    }
  }

  // ---- sync queries (memory only, no disk) ----

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const engine::EngineInfo& i = engine_->info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("storeId", i.store_id);
    o.Set("dataShards", i.data_shards);
    o.Set("parityShards", i.parity_shards);
    o.Set("chunkBytes", i.chunk_bytes);
    o.Set("segmentStripes", i.segment_stripes);
    o.Set("directIO", i.direct_io);
    o.Set("ioBackend", i.io_backend);
    o.Set("recordBytesMax", double(i.record_bytes_max));
    o.Set("created", i.created);
    o.Set("recoveredFromSnapshot", i.recovered_from_snapshot);
    o.Set("recoveryGroupsReplayed", double(i.recovery_groups_replayed));
    o.Set("recoveryVoidBytes", double(i.recovery_void_bytes));
    o.Set("drivesReplaced", i.drives_replaced);
    o.Set("drivesFormatBad", i.drives_format_bad);
    o.Set("formatsRestored", i.formats_restored);
    o.Set("writeQuorum", i.write_quorum);
    return o;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const engine::EngineStats s = engine_->stats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("groups", double(s.groups));
    o.Set("writes", double(s.writes));
    o.Set("groupsFailed", double(s.fdatasync_groups_failed));
    o.Set("chunksRead", double(s.chunks_read));
    o.Set("chunksBad", double(s.chunks_bad));
    o.Set("stripesReconstructed", double(s.stripes_reconstructed));
    o.Set("objectVersions", double(engine_->directory().object_versions()));
    // Degraded writes (issue 7).
    o.Set("degradedDrives", s.degraded_drives);  // drives down now
    o.Set("degradedDriveMask", double(s.degraded_drive_mask));  // bit d
    o.Set("healQueue", double(s.heal_queue));
    o.Set("groupsDegraded", double(s.groups_degraded));
    o.Set("stripesAutoHealed", double(s.stripes_auto_healed));
    o.Set("chunksAutoHealed", double(s.chunks_auto_healed));
    o.Set("cacheHits", double(s.cache_hits));
    o.Set("cacheMisses", double(s.cache_misses));
    o.Set("cacheBytes", double(s.cache_bytes));
    o.Set("cacheEntries", double(s.cache_entries));
    o.Set("cacheRejected", double(s.cache_rejected));
    // Space reclamation (compaction.cc), since open.
    const engine::SpaceStats space = engine_->Space();
    o.Set("gcRunning", space.gc_running ? 1 : 0);
    o.Set("gcSegmentsReclaimed", double(space.gc_segments_compacted));
    o.Set("gcBytesReclaimed", double(space.gc_bytes_reclaimed));
    return o;
  }

  Napi::Value GetBucket(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    engine::BucketInfo b;
    if (!engine_->directory().GetBucket(StringArg(info, 0, "name"), &b)) {
      return env.Null();
    }
    return BucketToJs(env, b);
  }

  Napi::Value ListBuckets(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const std::vector<engine::BucketInfo> all =
        engine_->directory().ListBuckets();
    Napi::Array a = Napi::Array::New(env, all.size());
    for (uint32_t i = 0; i < all.size(); i++) a.Set(i, BucketToJs(env, all[i]));
    return a;
  }

  static Napi::Object BucketToJs(Napi::Env env, const engine::BucketInfo& b) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", b.name);
    o.Set("versioning", int(b.versioning));
    o.Set("createdMs", double(b.created_ms));
    return o;
  }

  // list(bucket, prefix, delimiter, startAfter, maxKeys)
  Napi::Value List(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    engine::ListPage page;
    Status s = engine_->directory().List(
        StringArg(info, 0, "bucket"), StringArg(info, 1, "prefix"),
        StringArg(info, 2, "delimiter"), StringArg(info, 3, "startAfter"),
        uint32_t(NumberArg(info, 4, "maxKeys")), &page);
    if (!s.ok()) throw StatusToError(env, s);
    Napi::Array objects = Napi::Array::New(env, page.entries.size());
    for (uint32_t i = 0; i < page.entries.size(); i++) {
      objects.Set(i, MetaToJs(env, page.entries[i].first,
                              page.entries[i].second, true));
    }
    Napi::Array prefixes = Napi::Array::New(env, page.common_prefixes.size());
    for (uint32_t i = 0; i < page.common_prefixes.size(); i++) {
      prefixes.Set(i, page.common_prefixes[i]);
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("objects", objects);
    o.Set("commonPrefixes", prefixes);
    o.Set("truncated", page.truncated);
    o.Set("nextMarker", page.next_marker);
    return o;
  }

  // listVersions(bucket, prefix, delimiter, keyMarker, versionIdMarker,
  //              maxKeys)
  Napi::Value ListVersions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    engine::ListVersionsPage page;
    Status s = engine_->directory().ListVersions(
        StringArg(info, 0, "bucket"), StringArg(info, 1, "prefix"),
        StringArg(info, 2, "delimiter"), StringArg(info, 3, "keyMarker"),
        StringArg(info, 4, "versionIdMarker"),
        uint32_t(NumberArg(info, 5, "maxKeys")), &page);
    if (!s.ok()) throw StatusToError(env, s);
    Napi::Array versions = Napi::Array::New(env, page.entries.size());
    for (uint32_t i = 0; i < page.entries.size(); i++) {
      const engine::VersionEntry& e = page.entries[i];
      versions.Set(i, MetaToJs(env, e.key, e.meta, e.is_latest));
    }
    Napi::Array prefixes = Napi::Array::New(env, page.common_prefixes.size());
    for (uint32_t i = 0; i < page.common_prefixes.size(); i++) {
      prefixes.Set(i, page.common_prefixes[i]);
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("versions", versions);
    o.Set("commonPrefixes", prefixes);
    o.Set("truncated", page.truncated);
    o.Set("nextKeyMarker", page.next_key_marker);
    o.Set("nextVersionIdMarker", page.next_version_id_marker);
    return o;
  }

  // ---- writes ----

  static WriteRequest::Kind KindOf(Napi::Env env, const std::string& kind) {
    using Kind = WriteRequest::Kind;
    if (kind == "put") return Kind::kPut;
    if (kind == "delete") return Kind::kDelete;
    if (kind == "bucketCreate") return Kind::kBucketCreate;
    if (kind == "bucketDelete") return Kind::kBucketDelete;
    if (kind == "bucketSettings") return Kind::kBucketSettings;
    if (kind == "commitUpload") return Kind::kCommitUpload;
    throw ArgumentError(env, "ERR_INVALID_ARG_VALUE",
                        "unknown write kind " + kind);
  }

  // submit(ops[]) -> Promise[]: one promise per op, each settled when its
  // commit group is durable (or failed).
  Napi::Value SubmitBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() != 1 || !info[0].IsArray()) {
      throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                          "submit expects an array of writes");
    }
    Napi::Array ops = info[0].As<Napi::Array>();
    Napi::Array promises = Napi::Array::New(env, ops.Length());
    for (uint32_t i = 0; i < ops.Length(); i++) {
      if (!ops.Get(i).IsObject()) {
        throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                            "each write must be an object");
      }
      Napi::Object op = ops.Get(i).As<Napi::Object>();
      WriteRequest r;
      r.kind = KindOf(env, op.Get("kind").ToString().Utf8Value());
      r.bucket = op.Get("bucket").ToString().Utf8Value();
      if (op.Has("key")) r.key = op.Get("key").ToString().Utf8Value();
      if (op.Has("versionId") && op.Get("versionId").IsString()) {
        r.version_id = op.Get("versionId").ToString().Utf8Value();
      }
      if (op.Has("contentType") && op.Get("contentType").IsString()) {
        r.content_type = op.Get("contentType").ToString().Utf8Value();
      }
      r.metadata = PairsFromJs(env, op.Get("metadata"), "metadata");
      r.checksums = PairsFromJs(env, op.Get("checksums"), "checksums");
      if (op.Has("condition")) {
        r.condition =
            engine::Condition(op.Get("condition").ToNumber().Int32Value());
      }
      Napi::Value if_match = op.Get("ifMatchEtag");
      if (if_match.IsBuffer()) {
        Napi::Buffer<uint8_t> b = if_match.As<Napi::Buffer<uint8_t>>();
        if (b.Length() != 16) {
          throw ArgumentError(env, "ERR_INVALID_ARG_VALUE",
                              "ifMatchEtag must be 16 bytes");
        }
        memcpy(r.if_match_etag, b.Data(), 16);
      }
      if (op.Has("ifMatchMtimeMs")) {
        const double ms = op.Get("ifMatchMtimeMs").ToNumber().DoubleValue();
        if (!(ms >= 1 && ms <= 9007199254740991.0)) {
          throw ArgumentError(env, "ERR_OUT_OF_RANGE",
                              "ifMatchMtimeMs must be a positive integer");
        }
        r.if_match_mtime_ms = uint64_t(ms);
      }
      if (op.Has("ifMatchPartCount")) {
        r.if_match_part_count =
            uint16_t(op.Get("ifMatchPartCount").ToNumber().Uint32Value());
      }
      // A multipart object: its ETag (MD5 of the part MD5s) and part count.
      Napi::Value etag = op.Get("etag");
      if (etag.IsBuffer()) {
        Napi::Buffer<uint8_t> b = etag.As<Napi::Buffer<uint8_t>>();
        const uint32_t parts = op.Get("partCount").ToNumber().Uint32Value();
        if (b.Length() != 16 || parts < 1 || parts > 10000) {
          throw ArgumentError(env, "ERR_INVALID_ARG_VALUE",
                              "etag must be 16 bytes with partCount 1..10000");
        }
        memcpy(r.etag, b.Data(), 16);
        r.part_count = uint16_t(parts);
      }
      if (op.Has("versioning")) {
        const int v = op.Get("versioning").ToNumber().Int32Value();
        if (v < 0 || v > 2) {
          throw ArgumentError(env, "ERR_OUT_OF_RANGE", "versioning is 0..2");
        }
        r.versioning = log::Versioning(v);
      }
      if (op.Has("uploadId")) {
        r.upload_id = uint64_t(op.Get("uploadId").ToNumber().DoubleValue());
      }
      Completion* c = Start(env);
      Napi::Value body = op.Get("body");
      if (body.IsBuffer()) {
        Napi::Buffer<uint8_t> b = body.As<Napi::Buffer<uint8_t>>();
        r.body = b.Data();
        r.body_bytes = b.Length();
        c->kept.push_back(Napi::Persistent(body));
      }
      promises.Set(i, c->deferred.Promise());
      auto done = [this, c](const Status& s, const WriteResult& res) {
        c->status = s;
        WriteResult copy = res;
        c->make = [copy](Napi::Env e) {
          Napi::Object o = Napi::Object::New(e);
          o.Set("versionId", copy.version_id);
          o.Set("deleteMarker", copy.delete_marker);
          o.Set("etag", Hex(copy.etag, 16));
          o.Set("seq", double(copy.seq));
          return o;
        };
        Finish(c);
      };
      const bool is_put = r.kind == WriteRequest::Kind::kPut;
      Status s = is_put ? engine_->SubmitPut(std::move(r), done)
                        : engine_->Submit(std::move(r), done);
      if (!s.ok()) {
        c->status = s;
        Finish(c);
      }
    }
    return promises;
  }

  Napi::Value BeginUpload(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    return Napi::Number::New(info.Env(), double(engine_->BeginUpload()));
  }

  // appendUpload(uploadId, buffer) -> Promise<void>, settled when durable.
  Napi::Value AppendUpload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const uint64_t id = uint64_t(NumberArg(info, 0, "uploadId"));
    if (info.Length() < 2 || !info[1].IsBuffer()) {
      throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                          "piece must be a Buffer");
    }
    Napi::Buffer<uint8_t> b = info[1].As<Napi::Buffer<uint8_t>>();
    Completion* c = Start(env);
    c->kept.push_back(Napi::Persistent(info[1]));
    Napi::Promise promise = c->deferred.Promise();
    Status s =
        engine_->AppendUpload(id, b.Data(), b.Length(),
                              [this, c](const Status& st, const WriteResult&) {
                                c->status = st;
                                Finish(c);
                              });
    if (!s.ok()) {
      c->status = s;
      Finish(c);
    }
    return promise;
  }

  Napi::Value AbortUpload(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    engine_->AbortUpload(uint64_t(NumberArg(info, 0, "uploadId")));
    return info.Env().Undefined();
  }

  // ---- reads (engine reader threads) ----

  // head(bucket, key, versionId) -> Promise<info | null>; a delete marker
  // comes back as an info with deleteMarker: true.
  Napi::Value Head(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    std::string bucket = StringArg(info, 0, "bucket");
    std::string key = StringArg(info, 1, "key");
    std::string version = StringArg(info, 2, "versionId");
    // Optional: also read the body of an object of at most this many bytes,
    // in the same reader-thread task (one round trip for small GETs).
    const uint64_t body_max =
        info.Length() > 3 && info[3].IsNumber()
            ? uint64_t(info[3].As<Napi::Number>().DoubleValue())
            : 0;
    Completion* c = Start(env);
    Napi::Promise promise = c->deferred.Promise();
    Engine* e = engine_.get();
    Status s = e->Post([this, e, c, bucket, key, version, body_max] {
      auto out = std::make_shared<ObjectInfo>();
      std::shared_ptr<std::string> body;
      Status st;
      engine::VersionMeta meta;
      if (body_max > 0 &&
          e->directory().Lookup(bucket, key, version, &meta).ok() &&
          !meta.delete_marker && meta.size <= body_max) {
        // Small: Get reads the record and the body together.
        body = std::make_shared<std::string>();
        st = e->Get(bucket, key, version, 0, meta.size, out.get(), body.get());
        // A version replaced meanwhile by a larger one: no body (the
        // caller then reads by the info).
        if (!st.ok() || body->size() != out->size) body.reset();
      } else {
        st = e->Head(bucket, key, version, out.get());
      }
      const bool marker =
          st.code() == StatusCode::kNotFound && out->delete_marker;
      const bool absent = st.code() == StatusCode::kNotFound && !marker;
      c->status = st.ok() || marker || absent ? Status::Ok() : st;
      c->make = [out, absent, body](Napi::Env env) -> Napi::Value {
        if (absent) return env.Null();
        Napi::Object o = InfoToJs(env, *out);
        if (body != nullptr) {
          auto* holder = new std::shared_ptr<std::string>(body);
          o.Set("body",
                Napi::Buffer<char>::New(
                    env, body->empty() ? nullptr : &(*body)[0], body->size(),
                    [](Napi::Env, char*, std::shared_ptr<std::string>* h) {
                      delete h;
                    },
                    holder));
        }
        return o;
      };
      Finish(c);
    });
    if (!s.ok()) {
      c->status = s;
      Finish(c);
    }
    return promise;
  }

  // getCached(bucket, key, versionId, scratch, slab, slabOffset) -> number:
  // synchronous and memory only (the KeyDirectory and the read cache;
  // never disk). On a hit on a cached small object the info is encoded
  // into `scratch`, the body is copied into `slab` at `slabOffset`, and the
  // body's length is returned; -1 on a miss (the caller reads with head +
  // read), -2 when scratch or slab has no room. The scratch layout (all
  // little-endian) is read by lib/store/engine_binding.ts:
  //   f64 size | f64 mtimeMs | u32 bodyBytes | u16 partCount | u8 isLatest |
  //   u8 0 | etag[16] | u32 metadataPairs | u32 checksumPairs | f64 sequence |
  //   strings as (u32 length, UTF-8): versionId, contentType, metadata
  //   k v ..., checksums k v ...
  // Shared buffers instead of new objects: no property names to intern and
  // no allocation per call on the hottest read path (the body lands in a
  // slab the caller hands out views of, like Node's own Buffer pool).
  Napi::Value GetCached(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() < 6 || !info[3].IsBuffer() || !info[4].IsBuffer()) {
      throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                          "scratch and slab must be Buffers");
    }
    Napi::Buffer<uint8_t> slab = info[4].As<Napi::Buffer<uint8_t>>();
    const double slab_offset = NumberArg(info, 5, "slabOffset");
    std::shared_ptr<const engine::CachedRecord> rec;
    const int found = LookupCached(info, &rec);
    if (found < 0) return Napi::Number::New(env, found);
    const size_t body = rec->bytes.size() - rec->header_bytes;
    if (!(slab_offset >= 0 && slab_offset + double(body) <= slab.Length())) {
      return Napi::Number::New(env, -2);
    }
    memcpy(slab.Data() + size_t(slab_offset),
           rec->bytes.data() + rec->header_bytes, body);
    return Napi::Number::New(env, double(body));
  }

  // getCachedRef(bucket, key, versionId, scratch) -> Buffer | number:
  // getCached, but the body is not copied: the Buffer returned views the
  // cached record's own (immutable) bytes and keeps the record alive until
  // it is collected. For lib/store's hot-object map only, which never hands
  // this Buffer to a caller (it copies out of it) and never writes to it.
  Napi::Value GetCachedRef(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    std::shared_ptr<const engine::CachedRecord> rec;
    const int found = LookupCached(info, &rec);
    if (found < 0) return Napi::Number::New(env, found);
    auto* keep = new std::shared_ptr<const engine::CachedRecord>(rec);
    uint8_t* body = const_cast<uint8_t*>(
        reinterpret_cast<const uint8_t*>(rec->bytes.data()) +
        rec->header_bytes);
    return Napi::Buffer<uint8_t>::New(
        env, body, rec->bytes.size() - rec->header_bytes,
        [](Napi::Env, uint8_t*,
           std::shared_ptr<const engine::CachedRecord>* hint) { delete hint; },
        keep);
  }

  // The lookup both getCached calls share: on a hit the info is encoded
  // into the scratch Buffer (info[3]; layout above) and 0 is returned with
  // `rec` set; -1 on a miss, -2 when scratch has no room.
  int LookupCached(const Napi::CallbackInfo& info,
                   std::shared_ptr<const engine::CachedRecord>* rec) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[3].IsBuffer()) {
      throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                          "scratch must be a Buffer");
    }
    Napi::Buffer<uint8_t> scratch = info[3].As<Napi::Buffer<uint8_t>>();
    ObjectInfo out;
    if (!engine_->GetCached(StringArg(info, 0, "bucket"),
                            StringArg(info, 1, "key"),
                            StringArg(info, 2, "versionId"), &out, rec)) {
      return -1;
    }
    const size_t body = (*rec)->bytes.size() - (*rec)->header_bytes;
    size_t need = 56 + 8 + out.version_id.size() + out.content_type.size();
    for (const auto* pairs : {&out.metadata, &out.checksums}) {
      for (const auto& kv : *pairs) {
        need += 8 + kv.first.size() + kv.second.size();
      }
    }
    if (need > scratch.Length()) return -2;
    uint8_t* p = scratch.Data();
    auto put = [&p](const void* v, size_t n) {
      memcpy(p, v, n);
      p += n;
    };
    auto put_string = [&put](const std::string& v) {
      const uint32_t n = uint32_t(v.size());
      put(&n, 4);
      put(v.data(), v.size());
    };
    const double size = double(out.size), mtime = double(out.mtime_ms);
    const uint32_t body_bytes = uint32_t(body);
    const uint8_t latest[2] = {uint8_t(out.is_latest ? 1 : 0), 0};
    const uint32_t pairs[2] = {uint32_t(out.metadata.size()),
                               uint32_t(out.checksums.size())};
    put(&size, 8);
    put(&mtime, 8);
    put(&body_bytes, 4);
    put(&out.part_count, 2);
    put(latest, 2);
    put(out.etag, 16);
    put(pairs, 8);
    const double sequence = double(out.seq);
    put(&sequence, 8);
    put_string(out.version_id);
    put_string(out.content_type);
    for (const auto* list : {&out.metadata, &out.checksums}) {
      for (const auto& kv : *list) {
        put_string(kv.first);
        put_string(kv.second);
      }
    }
    TS_ASSERT(size_t(p - scratch.Data()) <= scratch.Length());
    return 0;
  }

  // generationCell() -> ArrayBuffer of 8 bytes: the KeyDirectory's change
  // generation (a double the committer raises after every change; see
  // key_directory.h), shared, not copied, so JS reads its current value
  // without a call. The ArrayBuffer keeps the cell alive (the engine may be
  // closed and freed first).
  Napi::Value GenerationCell(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    auto* keep = new std::shared_ptr<std::atomic<double>>(
        engine_->directory().generation_cell());
    static_assert(sizeof(std::atomic<double>) == sizeof(double) &&
                      std::atomic<double>::is_always_lock_free,
                  "JS reads the cell as a plain Float64Array element");
    return Napi::ArrayBuffer::New(
        env, static_cast<void*>(keep->get()), sizeof(double),
        [](Napi::Env, void*, std::shared_ptr<std::atomic<double>>* hint) {
          delete hint;
        },
        keep);
  }

  // read(bucket, key, versionId, offset, length) -> Promise<Buffer>
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    BodyRange r = BodyRangeArgs(info);
    Completion* c = Start(env);
    Napi::Promise promise = c->deferred.Promise();
    Engine* e = engine_.get();
    Status s = e->Post([this, e, c, r] {
      auto body = std::make_unique<std::string>();
      ObjectInfo out;
      c->status = e->Get(r.bucket, r.key, r.version, r.offset, r.length, &out,
                         body.get());
      std::shared_ptr<std::string> shared(body.release());
      c->make = [shared](Napi::Env env) -> Napi::Value {
        // The Buffer owns the bytes through a heap copy of the pointer.
        auto* holder = new std::shared_ptr<std::string>(shared);
        return Napi::Buffer<char>::New(
            env, shared->empty() ? nullptr : &(*shared)[0], shared->size(),
            [](Napi::Env, char*, std::shared_ptr<std::string>* h) { delete h; },
            holder);
      };
      Finish(c);
    });
    if (!s.ok()) {
      c->status = s;
      Finish(c);
    }
    return promise;
  }

  // readInto(bucket, key, versionId, offset, length, target) ->
  // Promise<number>: the body range read straight into `target` (kept alive
  // until settled) on a reader thread; resolves with the bytes written.
  Napi::Value ReadInto(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    BodyRange r = BodyRangeArgs(info);
    if (info.Length() < 6 || !info[5].IsBuffer()) {
      throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                          "target must be a Buffer");
    }
    Napi::Buffer<uint8_t> target = info[5].As<Napi::Buffer<uint8_t>>();
    uint8_t* out = target.Data();
    const uint64_t capacity = target.Length();
    Completion* c = Start(env);
    c->kept.push_back(Napi::Persistent(info[5]));
    Napi::Promise promise = c->deferred.Promise();
    Engine* e = engine_.get();
    Status s = e->Post([this, e, c, r, out, capacity] {
      uint64_t got = 0;
      c->status = e->GetInto(r.bucket, r.key, r.version, r.offset, r.length,
                             out, capacity, &got);
      c->make = [got](Napi::Env env) -> Napi::Value {
        return Napi::Number::New(env, double(got));
      };
      Finish(c);
    });
    if (!s.ok()) {
      c->status = s;
      Finish(c);
    }
    return promise;
  }

  // ---- the change feed (engine reader threads) ----

  // changes(fromSeq, maxEvents) -> Promise<{events, nextSeq, committedSeq}>;
  // ERR_STORE_CHANGES_EXPIRED carries oldestSeq.
  Napi::Value Changes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const uint64_t from = uint64_t(NumberArg(info, 0, "fromSeq"));
    const uint32_t max = uint32_t(NumberArg(info, 1, "maxEvents"));
    Completion* c = Start(env);
    Napi::Promise promise = c->deferred.Promise();
    Engine* e = engine_.get();
    Status s = e->Post([this, e, c, from, max] {
      auto page = std::make_shared<engine::ChangesPage>();
      c->status = e->ReadChanges(from, max, page.get());
      if (c->status.code() == StatusCode::kChangesExpired) {
        // Settled as a value the TS layer turns into the error, so the
        // oldest available seq travels with it.
        c->status = Status::Ok();
        c->make = [page](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("expired", true);
          o.Set("oldestSeq", double(page->oldest_seq));
          o.Set("nextSeq", double(page->next_seq));
          return o;
        };
        Finish(c);
        return;
      }
      c->make = [page](Napi::Env env) -> Napi::Value {
        Napi::Array events = Napi::Array::New(env, page->events.size());
        for (uint32_t i = 0; i < page->events.size(); i++) {
          const engine::ChangeEvent& ev = page->events[i];
          Napi::Object o = Napi::Object::New(env);
          o.Set("seq", double(ev.seq));
          o.Set("deleted", ev.deleted);
          o.Set("deleteMarker", ev.delete_marker);
          o.Set("bucket", ev.bucket);
          o.Set("key", ev.key);
          o.Set("versionId", ev.version_id);
          o.Set("size", double(ev.size));
          o.Set("etag", ev.deleted ? std::string() : Hex(ev.etag, 16));
          o.Set("partCount", ev.part_count);
          o.Set("timeMs", double(ev.time_ms));
          events.Set(i, o);
        }
        Napi::Object o = Napi::Object::New(env);
        o.Set("events", events);
        o.Set("nextSeq", double(page->next_seq));
        o.Set("committedSeq", double(page->committed_seq));
        return o;
      };
      Finish(c);
    });
    if (!s.ok()) {
      c->status = s;
      Finish(c);
    }
    return promise;
  }

  // census() -> Promise<counts> (engine/stats.cc), on a reader thread.
  Napi::Value Census(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    Completion* c = Start(env);
    Napi::Promise promise = c->deferred.Promise();
    Engine* e = engine_.get();
    Status s = e->Post([this, e, c] {
      auto out = std::make_shared<engine::EngineCensus>();
      c->status = e->Census(out.get());
      c->make = [out](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("buckets", double(out->buckets));
        o.Set("keys", double(out->keys));
        o.Set("versions", double(out->versions));
        o.Set("objects", double(out->objects));
        o.Set("deleteMarkers", double(out->delete_markers));
        o.Set("logicalBytes", double(out->logical_bytes));
        o.Set("currentBytes", double(out->current_bytes));
        o.Set("liveLogBytes", double(out->live_log_bytes));
        o.Set("logBytes", double(out->log_bytes));
        o.Set("keyBytes", double(out->key_bytes));
        o.Set("indexMemoryBytes", double(out->index_memory_bytes));
        o.Set("segments", double(out->segments));
        o.Set("segmentFileBytes", double(out->segment_file_bytes));
        o.Set("shards", out->shards);
        return o;
      };
      Finish(c);
    });
    if (!s.ok()) {
      c->status = s;
      Finish(c);
    }
    return promise;
  }

  Napi::Value CommittedSeq(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    return Napi::Number::New(env, double(engine_->CommittedSeq()));
  }

  // ---- scrub and heal (a thread of its own: it can run for hours) ----

  // scrub(heal, startAddress, rateBytesPerSec) -> Promise<report>; one at a
  // time. Progress: scrubProgress() -> {cursor, end}; cancelScrub() stops
  // it after the current batch (the report then has cancelled: true).
  Napi::Value Scrub(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (scrub_running_.load()) {
      throw StatusToError(env, Status(StatusCode::kInvalidArgument,
                                      "a scrub or heal is already running"));
    }
    engine::ScrubOptions options;
    options.heal = info[0].ToBoolean().Value();
    options.start_address = uint64_t(NumberArg(info, 1, "startAddress"));
    options.rate_bytes_per_sec =
        uint64_t(NumberArg(info, 2, "rateBytesPerSec"));
    if (scrub_thread_.joinable()) scrub_thread_.join();
    scrub_cancel_.store(false);
    scrub_cursor_.store(options.start_address);
    scrub_end_.store(0);
    scrub_running_.store(true);
    options.cancel = &scrub_cancel_;
    options.progress = [this](uint64_t cursor, uint64_t end) {
      scrub_cursor_.store(cursor);
      scrub_end_.store(end);
    };
    Completion* c = Start(env);
    Napi::Promise promise = c->deferred.Promise();
    Engine* e = engine_.get();
    scrub_thread_ = std::thread([this, e, c, options] {
      auto report = std::make_shared<engine::ScrubReport>();
      c->status = e->Scrub(options, report.get());
      c->make = [report](Napi::Env env) -> Napi::Value {
        return ReportToJs(env, *report);
      };
      scrub_running_.store(false);
      Finish(c);
    });
    return promise;
  }

  static Napi::Value ReportToJs(Napi::Env env, const engine::ScrubReport& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("startAddress", double(r.start_address));
    o.Set("endAddress", double(r.end_address));
    o.Set("cursor", double(r.cursor));
    o.Set("cancelled", r.cancelled);
    o.Set("stripesChecked", double(r.stripes_checked));
    o.Set("chunksChecked", double(r.chunks_checked));
    o.Set("chunksBad", double(r.chunks_bad));
    o.Set("headersBad", double(r.headers_bad));
    o.Set("chunksHealed", double(r.chunks_healed));
    o.Set("headersHealed", double(r.headers_healed));
    o.Set("stripesUnrecoverable", double(r.stripes_unrecoverable));
    o.Set("stripesEmpty", double(r.stripes_empty));
    Napi::Array damage = Napi::Array::New(env, r.damage.size());
    for (size_t i = 0; i < r.damage.size(); i++) {
      damage.Set(uint32_t(i), r.damage[i]);
    }
    o.Set("damage", damage);
    return o;
  }

  Napi::Value ScrubProgress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("running", scrub_running_.load());
    o.Set("cursor", double(scrub_cursor_.load()));
    o.Set("end", double(scrub_end_.load()));
    return o;
  }

  Napi::Value CancelScrub(const Napi::CallbackInfo& info) {
    scrub_cancel_.store(true);
    return info.Env().Undefined();
  }

  Napi::Value DamagedStripes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    return Napi::Number::New(env, double(engine_->DamagedStripes().size()));
  }

  // ---- degraded writes (issue 7) ----

  class HealIdleWorker : public PromiseWorker {
   public:
    HealIdleWorker(Napi::Env env, Engine* engine, uint64_t timeout_ms)
        : PromiseWorker(env, "tessera.engine.healIdle"),
          engine_(engine),
          timeout_ms_(timeout_ms) {}
    Status Run() override {
      idle_ = engine_->WaitHealIdle(timeout_ms_);
      return Status::Ok();
    }
    Napi::Value Result(Napi::Env env) override {
      return Napi::Boolean::New(env, idle_);
    }

   private:
    Engine* engine_;
    uint64_t timeout_ms_;
    bool idle_ = false;
  };

  // waitHealIdle(timeoutMs) -> Promise<boolean>: the auto heal has nothing
  // left it can do now (false: timed out). Bounded by the timeout (at most
  // 60 s), so it holds a libuv pool thread briefly.
  Napi::Value WaitHealIdle(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const double t = NumberArg(info, 0, "timeoutMs");
    auto* worker = new HealIdleWorker(
        env, engine_.get(), uint64_t(std::min(60000.0, std::max(0.0, t))));
    worker->Keep(Value());
    return worker->QueueAndPromise();
  }

  // Test-only (engineOpen({ testFaults: true })): testFailDrive(drive, op,
  // persistent) makes drive `drive`'s segment files fail `op` ('write',
  // 'sync' or 'read') with EIO; testClearFaults() ends every rule.
  Napi::Value TestFailDrive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (fault_fs_ == nullptr) {
      throw ArgumentError(env, "ERR_INVALID_ARG_VALUE",
                          "the store was not opened with testFaults");
    }
    const uint32_t drive = uint32_t(NumberArg(info, 0, "drive"));
    const std::string op = StringArg(info, 1, "op");
    io::FaultRule r;
    if (op == "write") {
      r.op = io::FaultOp::kPwrite;
    } else if (op == "sync") {
      r.op = io::FaultOp::kFdatasync;
    } else if (op == "read") {
      r.op = io::FaultOp::kPread;
    } else {
      throw ArgumentError(env, "ERR_INVALID_ARG_VALUE",
                          "op must be 'write', 'sync' or 'read'");
    }
    r.nth = 1;
    r.persistent = info.Length() > 2 && info[2].ToBoolean().Value();
    r.path_substring = "/drive-" + std::to_string(drive) + "/segments/";
    fault_fs_->AddRule(r);
    return env.Undefined();
  }

  Napi::Value TestClearFaults(const Napi::CallbackInfo& info) {
    if (fault_fs_ != nullptr) fault_fs_->ClearRules();
    return info.Env().Undefined();
  }

  // Any thread except the scrub's own: cancels and waits for it.
  void StopScrub() {
    scrub_cancel_.store(true);
    if (scrub_thread_.joinable()) scrub_thread_.join();
  }

  // ---- space reclamation (engine/compaction.cc; a thread of its own) ----

  // compact(segment, rateBytesPerSec, retainFromSeq, inflightBytes) ->
  // Promise<report>; one at a time. cancelCompact() stops it (nothing is
  // freed; copies already made stay as ordinary relocations).
  Napi::Value Compact(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (compact_running_.load()) {
      throw StatusToError(
          env, Status(StatusCode::kLocked, "a compaction is already running"));
    }
    const uint64_t segment = uint64_t(NumberArg(info, 0, "segment"));
    engine::CompactOptions options;
    options.rate_bytes_per_sec =
        uint64_t(NumberArg(info, 1, "rateBytesPerSec"));
    options.retain_from_seq = uint64_t(NumberArg(info, 2, "retainFromSeq"));
    const double inflight = NumberArg(info, 3, "inflightBytes");
    if (inflight >= 1) options.inflight_bytes_max = uint64_t(inflight);
    if (compact_thread_.joinable()) compact_thread_.join();
    compact_cancel_.store(false);
    compact_running_.store(true);
    options.cancel = &compact_cancel_;
    Completion* c = Start(env);
    Napi::Promise promise = c->deferred.Promise();
    Engine* e = engine_.get();
    compact_thread_ = std::thread([this, e, c, segment, options] {
      auto report = std::make_shared<engine::CompactReport>();
      c->status = e->Compact(segment, options, report.get());
      c->make = [report](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("segment", double(report->segment));
        o.Set("freed", report->freed);
        o.Set("skipped", report->skipped);
        o.Set("recordsMoved", double(report->records_moved));
        o.Set("recordsDropped", double(report->records_dropped));
        o.Set("bytesMoved", double(report->bytes_moved));
        o.Set("bytesReclaimed", double(report->bytes_reclaimed));
        o.Set("physicalBytesReclaimed",
              double(report->physical_bytes_reclaimed));
        return o;
      };
      compact_running_.store(false);
      Finish(c);
    });
    return promise;
  }

  Napi::Value CancelCompact(const Napi::CallbackInfo& info) {
    compact_cancel_.store(true);
    return info.Env().Undefined();
  }

  // spaceStats() -> per-store and per-segment space figures (memory only).
  Napi::Value SpaceStatsJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    const engine::SpaceStats st = engine_->Space();
    Napi::Object o = Napi::Object::New(env);
    o.Set("segments", double(st.segments));
    o.Set("segmentsFreed", double(st.segments_freed));
    o.Set("segmentDataBytes", double(st.segment_data_bytes));
    o.Set("segmentFileBytes", double(st.segment_file_bytes));
    o.Set("physicalBytes", double(st.physical_bytes));
    o.Set("logBytes", double(st.log_bytes));
    o.Set("liveBytes", double(st.live_bytes));
    o.Set("deadBytes", double(st.dead_bytes));
    o.Set("tailSegment", double(st.tail_segment));
    Napi::Object gc = Napi::Object::New(env);
    gc.Set("segmentsCompacted", double(st.gc_segments_compacted));
    gc.Set("bytesMoved", double(st.gc_bytes_moved));
    gc.Set("bytesReclaimed", double(st.gc_bytes_reclaimed));
    gc.Set("running", st.gc_running);
    gc.Set("segment", double(st.gc_segment));
    gc.Set("moved", double(st.gc_moved));
    gc.Set("total", double(st.gc_total));
    o.Set("gc", gc);
    Napi::Array segs = Napi::Array::New(env, st.per_segment.size());
    for (size_t i = 0; i < st.per_segment.size(); i++) {
      const auto& x = st.per_segment[i];
      Napi::Object so = Napi::Object::New(env);
      so.Set("id", double(x.id));
      so.Set("usedBytes", double(x.used_bytes));
      so.Set("liveBytes", double(x.live_bytes));
      so.Set("deadBytes", double(x.dead_bytes));
      so.Set("maxSeq", double(x.max_seq));
      so.Set("freed", x.freed);
      so.Set("tail", x.tail);
      segs.Set(uint32_t(i), so);
    }
    o.Set("perSegment", segs);
    return o;
  }

  void StopCompact() {
    compact_cancel_.store(true);
    if (compact_thread_.joinable()) compact_thread_.join();
  }

  // ---- close ----

  class CloseWorker : public PromiseWorker {
   public:
    CloseWorker(Napi::Env env, NativeEngine* self)
        : PromiseWorker(env, "tessera.engine.close"), self_(self) {}
    Status Run() override {
      self_->StopScrub();
      self_->StopCompact();
      return self_->engine_->Close();
    }
    Napi::Value Result(Napi::Env env) override {
      // Completions already queued still run before the function goes.
      self_->released_ = true;
      self_->tsfn_.Release();
      return env.Undefined();
    }

   private:
    NativeEngine* self_;
  };

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (engine_ == nullptr || closed_) {
      throw StatusToError(env,
                          Status(StatusCode::kClosed, "the store is closed"));
    }
    closed_ = true;
    auto* worker = new CloseWorker(env, this);
    worker->Keep(Value());
    return worker->QueueAndPromise();
  }

  std::unique_ptr<io::FaultFs> fault_fs_;  // outlives engine_ (declared first)
  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  uint64_t inflight_ = 0;  // JS thread only
  bool closed_ = false;    // JS thread only
  bool released_ = false;  // JS thread only
  std::thread scrub_thread_;
  std::atomic<bool> scrub_cancel_{false};
  std::atomic<bool> scrub_running_{false};
  std::atomic<uint64_t> scrub_cursor_{0};
  std::atomic<uint64_t> scrub_end_{0};
  std::thread compact_thread_;
  std::atomic<bool> compact_cancel_{false};
  std::atomic<bool> compact_running_{false};
};

// engineOpen(options) -> Promise<NativeEngine>
class OpenWorker : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, engine::EngineOptions options, bool test_faults)
      : PromiseWorker(env, "tessera.engine.open"),
        options_(std::move(options)) {
    if (test_faults) {
      fault_fs_ = std::make_unique<io::FaultFs>(io::DefaultFs());
      options_.fs = fault_fs_.get();
    }
  }
  Status Run() override { return Engine::Open(options_, &engine_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object handle = GetAddonData(env)->engine_constructor.New({});
    NativeEngine::Unwrap(handle)->Adopt(std::move(engine_),
                                        std::move(fault_fs_));
    return handle;
  }

 private:
  engine::EngineOptions options_;
  std::unique_ptr<io::FaultFs> fault_fs_;
  std::unique_ptr<Engine> engine_;
};

Napi::Value EngineOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) {
    throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                        "engineOpen expects an options object");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  engine::EngineOptions options;
  if (o.Get("path").IsString()) {
    options.path = o.Get("path").As<Napi::String>().Utf8Value();
  }
  if (o.Get("drives").IsArray()) {
    Napi::Array drives = o.Get("drives").As<Napi::Array>();
    for (uint32_t i = 0; i < drives.Length(); i++) {
      options.drives.push_back(drives.Get(i).ToString().Utf8Value());
    }
  }
  auto u32 = [&](const char* name, uint32_t* out) {
    if (o.Get(name).IsNumber()) {
      *out = o.Get(name).As<Napi::Number>().Uint32Value();
    }
  };
  u32("dataShards", &options.data_shards);
  u32("parityShards", &options.parity_shards);
  u32("chunkBytes", &options.chunk_bytes);
  u32("segmentStripes", &options.segment_stripes);
  u32("groupCommitDelayUs", &options.group_commit_delay_us);
  u32("readerThreads", &options.reader_threads);
  if (o.Get("cacheBytes").IsNumber()) {
    const double v = o.Get("cacheBytes").As<Napi::Number>().DoubleValue();
    options.cache_bytes = v > 0 ? uint64_t(v) : 0;
  }
  if (o.Get("create").IsBoolean()) {
    options.create = o.Get("create").As<Napi::Boolean>().Value();
  }
  if (o.Get("segmentZeroFill").IsString()) {
    const std::string v =
        o.Get("segmentZeroFill").As<Napi::String>().Utf8Value();
    options.zero_segments = v != "never";
    options.zero_large_rolls = v == "always";
  }
  if (o.Get("segmentCreate").IsString()) {
    options.parallel_segment_create =
        o.Get("segmentCreate").As<Napi::String>().Utf8Value() != "serial";
  }
  if (o.Get("replaceEmptyDrives").IsBoolean()) {
    options.replace_empty_drives =
        o.Get("replaceEmptyDrives").As<Napi::Boolean>().Value();
  }
  if (o.Get("directIO").IsString()) {
    Status s = io::ParseDirectIoMode(
        o.Get("directIO").As<Napi::String>().Utf8Value(), &options.direct_io);
    if (!s.ok()) throw StatusToError(env, s);
  }
  if (o.Get("ioBackend").IsString()) {
    const std::string b = o.Get("ioBackend").As<Napi::String>().Utf8Value();
    if (b == "auto") {
      options.io_backend = io::IoBackend::kAuto;
    } else if (b == "io_uring") {
      options.io_backend = io::IoBackend::kUring;
    } else if (b == "pwrite") {
      options.io_backend = io::IoBackend::kPwrite;
    } else {
      throw ArgumentError(env, "ERR_INVALID_ARG_VALUE",
                          "ioBackend must be 'auto', 'io_uring' or 'pwrite'");
    }
  }
  // Degraded writes (issue 7).
  u32("writeQuorum", &options.write_quorum);
  u32("driveProbeIntervalMs", &options.drive_probe_interval_ms);
  if (o.Get("autoHeal").IsBoolean()) {
    options.auto_heal = o.Get("autoHeal").As<Napi::Boolean>().Value();
  }
  if (o.Get("healRateBytesPerSec").IsNumber()) {
    options.heal_rate_bytes_per_sec =
        uint64_t(o.Get("healRateBytesPerSec").As<Napi::Number>().DoubleValue());
  }
  if (o.Get("ignoreSnapshot").IsBoolean()) {
    options.ignore_snapshot =
        o.Get("ignoreSnapshot").As<Napi::Boolean>().Value();
  }
  const bool test_faults = o.Get("testFaults").IsBoolean() &&
                           o.Get("testFaults").As<Napi::Boolean>().Value();
  auto* worker = new OpenWorker(env, std::move(options), test_faults);
  return worker->QueueAndPromise();
}

}  // namespace

void RegisterEngine(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = NativeEngine::Define(env);
  GetAddonData(env)->engine_constructor = Napi::Persistent(ctor);
  exports.Set("NativeEngine", ctor);
  exports.Set("engineOpen", Napi::Function::New(env, EngineOpen, "engineOpen"));
}

}  // namespace tessera::napi
