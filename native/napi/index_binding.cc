// NativeIndex: the native index (native/index/index.h) as a JS class.
//
// Calls that touch only memory are synchronous (a lookup is ~100 ns, far
// below a threadpool hop); snapshot save/load do disk I/O and run on the
// threadpool through PromiseWorker. Keys cross as Buffers (raw bytes); the
// fixed metadata crosses as 64-byte records in Buffers (layout below, mirrored
// in lib/index-native/native_index.ts), and listings return one packed Buffer
// per page, so a page of 1000 keys is one boundary crossing.
//
// Metadata record (64 bytes, little-endian):
//   0 u32 segment   4 u32 length   8 u64 offset   16 u64 versionId
//  24 u64 size     32 u64 mtimeMs 40 u8[16] etag  56 u16 partCount
//  58 u8 flags     59..63 zero
// Packed keys: for each key, u16 length then the bytes.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/ts_assert.h"
#include "index/index.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"
#include "napi/registry.h"

namespace tessera::napi {
namespace {

using index::Condition;
using index::Index;
using index::ObjectMeta;
using index::PutMode;

constexpr size_t kMetaBytes = 64;

void EncodeMeta(const ObjectMeta& m, uint8_t* p) {
  std::memset(p, 0, kMetaBytes);
  std::memcpy(p + 0, &m.segment, 4);
  std::memcpy(p + 4, &m.length, 4);
  std::memcpy(p + 8, &m.offset, 8);
  std::memcpy(p + 16, &m.version_id, 8);
  std::memcpy(p + 24, &m.size, 8);
  std::memcpy(p + 32, &m.mtime_ms, 8);
  std::memcpy(p + 40, m.etag, 16);
  std::memcpy(p + 56, &m.part_count, 2);
  p[58] = m.flags;
}

void DecodeMeta(const uint8_t* p, ObjectMeta* m) {
  std::memcpy(&m->segment, p + 0, 4);
  std::memcpy(&m->length, p + 4, 4);
  std::memcpy(&m->offset, p + 8, 8);
  std::memcpy(&m->version_id, p + 16, 8);
  std::memcpy(&m->size, p + 24, 8);
  std::memcpy(&m->mtime_ms, p + 32, 8);
  std::memcpy(m->etag, p + 40, 16);
  std::memcpy(&m->part_count, p + 56, 2);
  m->flags = p[58];
}

// Argument access. TypeScript validates caller input; these checks only
// catch a broken wrapper, with a TesseraError rather than a crash.
std::string_view BufferView(const Napi::CallbackInfo& info, size_t i,
                            const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(what) + " must be a Buffer");
  }
  Napi::Buffer<char> b = info[i].As<Napi::Buffer<char>>();
  return std::string_view(b.Data(), b.Length());
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i,
                      const char* what) {
  if (info.Length() <= i || !info[i].IsString()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(what) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(what) + " must be a number");
  }
  return info[i].As<Napi::Number>().Uint32Value();
}

uint64_t BigU64Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBigInt()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(what) + " must be a bigint");
  }
  bool lossless = false;
  const uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) {
    throw ArgumentError(info.Env(), "ERR_OUT_OF_RANGE",
                        std::string(what) + " must fit in 64 bits");
  }
  return v;
}

uint8_t* MetaOut(const Napi::CallbackInfo& info, size_t i) {
  const std::string_view b = BufferView(info, i, "out");
  if (b.size() < kMetaBytes) {
    throw ArgumentError(info.Env(), "ERR_OUT_OF_RANGE",
                        "out must be at least 64 bytes");
  }
  return reinterpret_cast<uint8_t*>(const_cast<char*>(b.data()));
}

void AppendKey(std::string* out, std::string_view key) {
  TS_ASSERT(key.size() <= 0xFFFF);
  const uint16_t n = static_cast<uint16_t>(key.size());
  out->append(reinterpret_cast<const char*>(&n), 2);
  out->append(key);
}

class NativeIndex : public Napi::ObjectWrap<NativeIndex> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeIndex",
        {
            InstanceMethod<&NativeIndex::Put>("put"),
            InstanceMethod<&NativeIndex::PutMany>("putMany"),
            InstanceMethod<&NativeIndex::Get>("get"),
            InstanceMethod<&NativeIndex::GetMany>("getMany"),
            InstanceMethod<&NativeIndex::GetVersion>("getVersion"),
            InstanceMethod<&NativeIndex::Remove>("remove"),
            InstanceMethod<&NativeIndex::DeleteVersion>("deleteVersion"),
            InstanceMethod<&NativeIndex::List>("list"),
            InstanceMethod<&NativeIndex::ListVersions>("listVersions"),
            InstanceMethod<&NativeIndex::KeyCount>("keyCount"),
            InstanceMethod<&NativeIndex::Memory>("memory"),
            InstanceMethod<&NativeIndex::SaveSnapshot>("saveSnapshot"),
            InstanceMethod<&NativeIndex::AdoptLoaded>("adoptLoaded"),
            StaticMethod<&NativeIndex::LoadSnapshot>("loadSnapshot"),
        });
  }

  explicit NativeIndex(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<NativeIndex>(info) {
    index::IndexOptions options;
    if (info.Length() > 0 && info[0].IsNumber()) {
      options.expected_keys =
          static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    }
    index_ = std::make_shared<Index>(options);
  }

 private:
  // put(bucket, key, meta, mode, condKind, condEtag, condParts, condVersion)
  Napi::Value Put(const Napi::CallbackInfo& info) {
    const std::string bucket = StringArg(info, 0, "bucket");
    const std::string_view key = BufferView(info, 1, "key");
    const std::string_view meta_buf = BufferView(info, 2, "meta");
    if (meta_buf.size() < kMetaBytes) {
      throw ArgumentError(info.Env(), "ERR_OUT_OF_RANGE",
                          "meta must be at least 64 bytes");
    }
    ObjectMeta meta;
    DecodeMeta(reinterpret_cast<const uint8_t*>(meta_buf.data()), &meta);
    const PutMode mode = U32Arg(info, 3, "mode") == 1
                             ? PutMode::kNewVersion
                             : PutMode::kReplaceCurrent;
    Condition cond;
    switch (U32Arg(info, 4, "condKind")) {
      case 0:
        break;
      case 1:
        cond = Condition::IfAbsent();
        break;
      case 2: {
        const std::string_view etag = BufferView(info, 5, "condEtag");
        if (etag.size() != 16) {
          throw ArgumentError(info.Env(), "ERR_OUT_OF_RANGE",
                              "condEtag must be 16 bytes");
        }
        cond = Condition::IfEtagMatches(
            reinterpret_cast<const uint8_t*>(etag.data()),
            static_cast<uint16_t>(U32Arg(info, 6, "condParts")));
        break;
      }
      case 3:
        cond = Condition::IfVersionMatches(BigU64Arg(info, 7, "condVersion"));
        break;
      default:
        throw ArgumentError(info.Env(), "ERR_OUT_OF_RANGE",
                            "condKind must be 0..3");
    }
    const Status s = index_->Put(bucket, key, meta, mode, cond);
    if (!s.ok()) throw StatusToError(info.Env(), s);
    return info.Env().Undefined();
  }

  // putMany(bucket, packedKeys, metas, mode): unconditional batch.
  Napi::Value PutMany(const Napi::CallbackInfo& info) {
    const std::string bucket = StringArg(info, 0, "bucket");
    const std::string_view keys = BufferView(info, 1, "keys");
    const std::string_view metas = BufferView(info, 2, "metas");
    const PutMode mode = U32Arg(info, 3, "mode") == 1
                             ? PutMode::kNewVersion
                             : PutMode::kReplaceCurrent;
    size_t pos = 0, n = 0;
    while (pos < keys.size()) {
      uint16_t len;
      if (keys.size() - pos < 2) break;
      std::memcpy(&len, keys.data() + pos, 2);
      if (keys.size() - pos - 2 < len || metas.size() < (n + 1) * kMetaBytes) {
        throw ArgumentError(info.Env(), "ERR_INVALID_ARG_VALUE",
                            "keys and metas do not match");
      }
      ObjectMeta meta;
      DecodeMeta(
          reinterpret_cast<const uint8_t*>(metas.data()) + n * kMetaBytes,
          &meta);
      const Status s =
          index_->Put(bucket, keys.substr(pos + 2, len), meta, mode);
      if (!s.ok()) throw StatusToError(info.Env(), s);
      pos += 2 + len;
      ++n;
    }
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  // get(bucket, key, out) -> boolean; out receives the 64-byte record.
  Napi::Value Get(const Napi::CallbackInfo& info) {
    const std::string bucket = StringArg(info, 0, "bucket");
    const std::string_view key = BufferView(info, 1, "key");
    uint8_t* out = MetaOut(info, 2);
    ObjectMeta m;
    const bool found = index_->Get(bucket, key, &m);
    if (found) EncodeMeta(m, out);
    return Napi::Boolean::New(info.Env(), found);
  }

  // getMany(bucket, packedKeys, out, found) -> number found. out receives
  // one 64-byte record per key (untouched when absent); found[i] is 1 or 0.
  // One call for the batch, with the index's prefetching batched lookup.
  Napi::Value GetMany(const Napi::CallbackInfo& info) {
    const std::string bucket = StringArg(info, 0, "bucket");
    const std::string_view packed = BufferView(info, 1, "keys");
    const std::string_view out = BufferView(info, 2, "out");
    const std::string_view found = BufferView(info, 3, "found");
    std::vector<std::string_view> keys;
    for (size_t pos = 0; pos < packed.size();) {
      uint16_t len;
      if (packed.size() - pos < 2) break;
      std::memcpy(&len, packed.data() + pos, 2);
      if (packed.size() - pos - 2 < len) break;
      keys.push_back(packed.substr(pos + 2, len));
      pos += 2 + len;
    }
    if (out.size() < keys.size() * kMetaBytes || found.size() < keys.size()) {
      throw ArgumentError(info.Env(), "ERR_OUT_OF_RANGE",
                          "out needs 64 bytes and found 1 byte per key");
    }
    std::vector<ObjectMeta> metas(keys.size());
    std::unique_ptr<bool[]> hit(new bool[keys.size() + 1]);
    index_->GetMany(bucket, keys.data(), keys.size(), metas.data(), hit.get());
    uint8_t* out_bytes =
        reinterpret_cast<uint8_t*>(const_cast<char*>(out.data()));
    uint8_t* found_bytes =
        reinterpret_cast<uint8_t*>(const_cast<char*>(found.data()));
    uint32_t hits = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      found_bytes[i] = hit[i] ? 1 : 0;
      if (hit[i]) {
        EncodeMeta(metas[i], out_bytes + i * kMetaBytes);
        ++hits;
      }
    }
    return Napi::Number::New(info.Env(), hits);
  }

  Napi::Value GetVersion(const Napi::CallbackInfo& info) {
    const std::string bucket = StringArg(info, 0, "bucket");
    const std::string_view key = BufferView(info, 1, "key");
    const uint64_t version = BigU64Arg(info, 2, "versionId");
    uint8_t* out = MetaOut(info, 3);
    ObjectMeta m;
    const bool found = index_->GetVersion(bucket, key, version, &m);
    if (found) EncodeMeta(m, out);
    return Napi::Boolean::New(info.Env(), found);
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    const Status s = index_->Remove(StringArg(info, 0, "bucket"),
                                    BufferView(info, 1, "key"));
    if (!s.ok()) throw StatusToError(info.Env(), s);
    return info.Env().Undefined();
  }

  Napi::Value DeleteVersion(const Napi::CallbackInfo& info) {
    const Status s = index_->DeleteVersion(StringArg(info, 0, "bucket"),
                                           BufferView(info, 1, "key"),
                                           BigU64Arg(info, 2, "versionId"));
    if (!s.ok()) throw StatusToError(info.Env(), s);
    return info.Env().Undefined();
  }

  // list(bucket, prefix, delimiter, startAfter, continuation, maxKeys,
  //      withMeta) -> { keys, count, metas?, prefixes, prefixCount,
  //                     truncated, next? }
  Napi::Value List(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string bucket = StringArg(info, 0, "bucket");
    index::ListRequest req;
    req.bucket = bucket;
    req.prefix = BufferView(info, 1, "prefix");
    req.delimiter = BufferView(info, 2, "delimiter");
    req.start_after = BufferView(info, 3, "startAfter");
    req.continuation = BufferView(info, 4, "continuation");
    req.max_keys = U32Arg(info, 5, "maxKeys");
    const bool with_meta = info.Length() > 6 && info[6].ToBoolean();

    class PackSink : public Index::ListSink {
     public:
      explicit PackSink(bool with_meta) : with_meta_(with_meta) {}
      void Entry(std::string_view key, const ObjectMeta& meta) override {
        AppendKey(&keys, key);
        if (with_meta_) {
          const size_t at = metas.size();
          metas.resize(at + kMetaBytes);
          EncodeMeta(meta, reinterpret_cast<uint8_t*>(&metas[at]));
        }
        ++count;
      }
      void CommonPrefix(std::string_view prefix) override {
        AppendKey(&prefixes, prefix);
        ++prefix_count;
      }
      std::string keys, metas, prefixes;
      uint32_t count = 0, prefix_count = 0;

     private:
      bool with_meta_;
    } sink(with_meta);
    sink.keys.reserve(size_t{req.max_keys} * 24);
    bool truncated = false;
    std::string next;
    const Status s = index_->ListInto(req, &sink, &truncated, &next);
    if (!s.ok()) throw StatusToError(env, s);
    Napi::Object out = Napi::Object::New(env);
    out.Set("keys",
            Napi::Buffer<char>::Copy(env, sink.keys.data(), sink.keys.size()));
    out.Set("count", Napi::Number::New(env, sink.count));
    if (with_meta) {
      out.Set("metas", Napi::Buffer<char>::Copy(env, sink.metas.data(),
                                                sink.metas.size()));
    }
    out.Set("prefixes", Napi::Buffer<char>::Copy(env, sink.prefixes.data(),
                                                 sink.prefixes.size()));
    out.Set("prefixCount", Napi::Number::New(env, sink.prefix_count));
    out.Set("truncated", Napi::Boolean::New(env, truncated));
    if (truncated) {
      out.Set("next", Napi::Buffer<char>::Copy(env, next.data(), next.size()));
    }
    return out;
  }

  // listVersions(bucket, prefix, delimiter, keyMarker, hasVersionMarker,
  //              versionIdMarker, maxKeys)
  //   -> { keys, count, metas, latest, prefixes, prefixCount, truncated,
  //        nextKeyMarker?, nextVersionIdMarker? }
  // keys: (u16 length, bytes) per version, newest first within a key;
  // metas: 64 bytes per version; latest: one byte (0/1) per version.
  Napi::Value ListVersions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string bucket = StringArg(info, 0, "bucket");
    index::ListVersionsRequest req;
    req.bucket = bucket;
    req.prefix = BufferView(info, 1, "prefix");
    req.delimiter = BufferView(info, 2, "delimiter");
    req.key_marker = BufferView(info, 3, "keyMarker");
    req.has_version_marker = info.Length() > 4 && info[4].ToBoolean();
    req.version_id_marker = BigU64Arg(info, 5, "versionIdMarker");
    req.max_keys = U32Arg(info, 6, "maxKeys");
    index::ListVersionsPage page;
    const Status s = index_->ListVersions(req, &page);
    if (!s.ok()) throw StatusToError(env, s);
    std::string keys, metas, latest, prefixes;
    keys.reserve(page.entries.size() * 24);
    metas.resize(page.entries.size() * kMetaBytes);
    for (size_t i = 0; i < page.entries.size(); ++i) {
      const index::VersionEntry& e = page.entries[i];
      AppendKey(&keys, e.key);
      EncodeMeta(e.meta, reinterpret_cast<uint8_t*>(&metas[i * kMetaBytes]));
      latest.push_back(e.is_latest ? 1 : 0);
    }
    for (const std::string& p : page.common_prefixes) AppendKey(&prefixes, p);
    Napi::Object out = Napi::Object::New(env);
    out.Set("keys", Napi::Buffer<char>::Copy(env, keys.data(), keys.size()));
    out.Set("count", Napi::Number::New(env, double(page.entries.size())));
    out.Set("metas", Napi::Buffer<char>::Copy(env, metas.data(), metas.size()));
    out.Set("latest",
            Napi::Buffer<char>::Copy(env, latest.data(), latest.size()));
    out.Set("prefixes",
            Napi::Buffer<char>::Copy(env, prefixes.data(), prefixes.size()));
    out.Set("prefixCount",
            Napi::Number::New(env, double(page.common_prefixes.size())));
    out.Set("truncated", Napi::Boolean::New(env, page.truncated));
    if (page.truncated) {
      out.Set("nextKeyMarker",
              Napi::Buffer<char>::Copy(env, page.next_key_marker.data(),
                                       page.next_key_marker.size()));
      if (page.has_next_version_marker) {
        out.Set("nextVersionIdMarker",
                Napi::BigInt::New(env, page.next_version_id_marker));
      }
    }
    return out;
  }

  Napi::Value KeyCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(),
                             static_cast<double>(index_->key_count()));
  }

  Napi::Value Memory(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const index::IndexMemory m = index_->Memory();
    Napi::Object out = Napi::Object::New(env);
    out.Set("keys", Napi::Number::New(env, static_cast<double>(m.keys)));
    out.Set("versions",
            Napi::Number::New(env, static_cast<double>(m.versions)));
    out.Set("keyBytes",
            Napi::Number::New(env, static_cast<double>(m.key_bytes)));
    out.Set("recordBytes",
            Napi::Number::New(env, static_cast<double>(m.record_bytes)));
    out.Set("hashBytes",
            Napi::Number::New(env, static_cast<double>(m.hash_bytes)));
    out.Set("treeBytes",
            Napi::Number::New(env, static_cast<double>(m.tree_bytes)));
    out.Set("bytesPerObjectExcludingKeys",
            Napi::Number::New(env, m.bytes_per_object_excluding_keys));
    return out;
  }

  class SaveWorker : public PromiseWorker {
   public:
    SaveWorker(Napi::Env env, std::shared_ptr<Index> idx, std::string path)
        : PromiseWorker(env, "tessera.index.save"),
          index_(std::move(idx)),
          path_(std::move(path)) {}
    Status Run() override { return index_->SaveSnapshot(path_); }

   private:
    std::shared_ptr<Index> index_;  // keeps the index alive while saving
    std::string path_;
  };

  Napi::Value SaveSnapshot(const Napi::CallbackInfo& info) {
    auto* w = new SaveWorker(info.Env(), index_, StringArg(info, 0, "path"));
    return w->QueueAndPromise();
  }

  // The loaded index travels from the worker to a fresh NativeIndex through
  // an opaque External, consumed once by adoptLoaded().
  class LoadWorker : public PromiseWorker {
   public:
    LoadWorker(Napi::Env env, std::string path)
        : PromiseWorker(env, "tessera.index.load"), path_(std::move(path)) {}
    Status Run() override { return Index::LoadSnapshot(path_, &loaded_); }
    Napi::Value Result(Napi::Env env) override {
      auto* holder = new std::shared_ptr<Index>(std::move(loaded_));
      return Napi::External<std::shared_ptr<Index>>::New(
          env, holder, [](Napi::Env, std::shared_ptr<Index>* h) { delete h; });
    }

   private:
    std::string path_;
    std::unique_ptr<Index> loaded_;
  };

  static Napi::Value LoadSnapshot(const Napi::CallbackInfo& info) {
    auto* w = new LoadWorker(info.Env(), StringArg(info, 0, "path"));
    return w->QueueAndPromise();
  }

  Napi::Value AdoptLoaded(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsExternal()) {
      throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                          "adoptLoaded expects the value of loadSnapshot");
    }
    auto* holder = info[0].As<Napi::External<std::shared_ptr<Index>>>().Data();
    if (!*holder) {
      throw ArgumentError(info.Env(), "ERR_INVALID_ARG_VALUE",
                          "this snapshot was already adopted");
    }
    index_ = std::move(*holder);
    holder->reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Index> index_;
};

}  // namespace

void RegisterIndex(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeIndex", NativeIndex::Define(env));
  exports.Set("indexMetaBytes", Napi::Number::New(env, kMetaBytes));
}

}  // namespace tessera::napi
