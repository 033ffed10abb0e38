{
  "targets": [{
    "target_name": "oodgen_native",
    "sources": ["src/shim.cc", "src/c10d.cc"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<!@(node find-libtorch.cjs include)"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "<!@(node find-libtorch.cjs defines)"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
    "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
    "libraries": ["<!@(node find-libtorch.cjs libs)"]
  }]
}
