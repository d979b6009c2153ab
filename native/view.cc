// One ArrayBuffer per request packet, for the handler. Written against V8 directly, not N-API:
// napi_create_external_arraybuffer registers a finalizer callback per buffer, which costs ~1 µs
// per view and more at collection; a backing store with V8's EmptyDeleter costs ~0.25 µs for the
// view and its detach together (npm run bench:shm). The memory belongs to the segment mapping
// (shm.cc), so the deleter must do nothing; whoever makes a view detaches it before the packet is
// freed or the mapping goes away.
#include <node.h>
#include <v8.h>

namespace {

using v8::ArrayBuffer;
using v8::BackingStore;
using v8::Exception;
using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::String;
using v8::Value;

void Fail(Isolate* iso, const char* message, bool range) {
  Local<String> text = String::NewFromUtf8(iso, message).ToLocalChecked();
  iso->ThrowException(range ? Exception::RangeError(text) : Exception::TypeError(text));
}

// view(mappingView, offset, length) -> ArrayBuffer of exactly `length` bytes at `offset` of
// `mappingView` (one of the segment's views): byteOffset 0, nothing before or after reachable.
void View(const FunctionCallbackInfo<Value>& args) {
  Isolate* iso = args.GetIsolate();
  if (args.Length() < 3 || !args[0]->IsArrayBuffer() || !args[1]->IsNumber() || !args[2]->IsNumber()) {
    return Fail(iso, "view(mappingView: ArrayBuffer, offset: number, length: number)", false);
  }
  Local<ArrayBuffer> base = args[0].As<ArrayBuffer>();
  const double off = args[1].As<v8::Number>()->Value();
  const double len = args[2].As<v8::Number>()->Value();
  const double size = static_cast<double>(base->ByteLength());
  // A detached mapping view has length 0 and fails here like any out-of-range request.
  if (!(off >= 0 && len >= 0 && off + len <= size) || off != static_cast<double>(static_cast<size_t>(off)) || len != static_cast<double>(static_cast<size_t>(len))) {
    return Fail(iso, "view: the range is outside the mapping (or the mapping is closed)", true);
  }
  char* at = static_cast<char*>(base->Data()) + static_cast<size_t>(off);
  std::unique_ptr<BackingStore> store = ArrayBuffer::NewBackingStore(at, static_cast<size_t>(len), BackingStore::EmptyDeleter, nullptr);
  args.GetReturnValue().Set(ArrayBuffer::New(iso, std::move(store)));
}

// detach(buffer): every typed array over it becomes empty; a second detach is a no-op.
void Detach(const FunctionCallbackInfo<Value>& args) {
  Isolate* iso = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsArrayBuffer()) return Fail(iso, "detach(buffer: ArrayBuffer)", false);
  Local<ArrayBuffer> ab = args[0].As<ArrayBuffer>();
  if (!ab->IsDetachable()) return Fail(iso, "detach: this ArrayBuffer cannot be detached", false);
  if (ab->WasDetached()) return;
  ab->Detach(Local<Value>()).Check();
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  NODE_SET_METHOD(exports, "view", View);
  NODE_SET_METHOD(exports, "detach", Detach);
}
