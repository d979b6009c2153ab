{
  "target_defaults": {
    "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"]
  },
  "targets": [
    {
      "target_name": "faasflow_shm",
      "sources": ["native/shm.cc", "native/memfd.cc", "native/mapping-view.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "libraries": ["-lrt"]
    },
    {
      "target_name": "faasflow_sys",
      "sources": ["native/sys.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
    },
    {
      "target_name": "faasflow_fdpass",
      "sources": ["native/fdpass.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
    },
    {
      "target_name": "faasflow_view",
      "sources": ["native/view.cc"],
      "cflags_cc": ["-Wno-cast-function-type"]
    },
    {
      "target_name": "faasflow-sandbox",
      "type": "executable",
      "sources": ["native/sandbox.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
