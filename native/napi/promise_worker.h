// Async native work that settles a Promise, in the three steps classic-level
// uses: capture inputs on the JS thread, Run() on a worker thread without any
// Node-API call, settle on the JS thread.
//
// Borrowed Buffers must stay alive until the promise settles: call Keep() on
// every JS value whose memory Run() touches; the references are released
// after settling, on the JS thread.
#pragma once

#include <napi.h>

#include <vector>

#include "core/status.h"
#include "napi/errors.h"

namespace tessera::napi {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env, const char* resource_name)
      : Napi::AsyncWorker(env, resource_name),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  // Queues the work and returns its promise. Call once, on the JS thread.
  Napi::Promise QueueAndPromise() {
    Queue();
    return deferred_.Promise();
  }

  // Pins a JS value (typically a Buffer) until the promise settles.
  void Keep(Napi::Value value) { kept_.push_back(Napi::Persistent(value)); }

 protected:
  // Worker thread: the actual work. No Node-API calls, no JS values.
  virtual Status Run() = 0;
  // JS thread, after Run() returned OK: the promise's value.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  void Execute() final { status_ = Run(); }

  void OnOK() final {
    Napi::Env env = Env();
    if (status_.ok()) {
      deferred_.Resolve(Result(env));
    } else {
      deferred_.Reject(StatusToError(env, status_).Value());
    }
    kept_.clear();
  }

  void OnError(const Napi::Error& error) final {
    deferred_.Reject(error.Value());
    kept_.clear();
  }

  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> kept_;
  Status status_;
};

}  // namespace tessera::napi
