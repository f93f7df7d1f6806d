{
  "targets": [
    {
      "target_name": "pbe_dnnl",
      "sources": ["pbe_dnnl.cc"],
      "include_dirs": ["<!(node -p \"process.env.DNNL_ROOT ? process.env.DNNL_ROOT + '/include' : '/usr/include'\")"],
      "libraries": ["-ldnnl", "-fopenmp"],
      "library_dirs": ["<!(node -p \"process.env.DNNL_ROOT ? process.env.DNNL_ROOT + '/lib' : '/usr/lib'\")"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-march=x86-64-v2", "-fopenmp"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
