// The ArrayBuffers over a mapped segment (one per kViewBytes, memfd.cc), made with V8's EmptyDeleter.
// Why V8 and not N-API: napi_create_external_arraybuffer (Node 20) wraps the memory in a Node
// Buffer whose backing store has a real deleter (the finalizer callback), and V8 counts such a
// store's whole length as external memory: mapping a segment adds up to 1 GiB at once, past V8's
// external-memory limit, and every new container ran a full mark-compact for it while starting
// (issue 22). A store made with BackingStore::EmptyDeleter frees nothing when collected, so V8
// counts nothing for it (BackingStore::PerIsolateAccountingLength); N-API has no way to ask for
// one. The memory belongs to the mapping: unmap() detaches every view before munmap, and the
// environment's cleanup hook unmaps only when no JS runs any more (shm.cc), so the deleter must
// do nothing, which is what the Napi finalizer did before.
#include "shm.h"

#include <cstring>
#include <memory>
#include <v8.h>

namespace faasflow {

Napi::ArrayBuffer MappingView(Napi::Env env, void* data, size_t length) {
  v8::Isolate* iso = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(data, length, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(iso, std::move(store));
  // Back to N-API: a napi_value is the handle's slot, the Local's only member, and Node converts
  // with this same copy (V8LocalValueFromJsValue in src/js_native_api_v8.h). We are inside an
  // N-API call, whose HandleScope keeps the slot alive until the caller's scope closes.
  static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>), "napi_value is a v8::Local's slot");
  v8::Local<v8::Value> value = ab;
  napi_value out;
  std::memcpy(static_cast<void*>(&out), static_cast<const void*>(&value), sizeof out);
  return Napi::ArrayBuffer(env, out);
}

}  // namespace faasflow
