#!/bin/sh
# llama_cpp.sh DIR: llama.cpp's CPU build, for make bench-peers, into DIR
# (once; then it is reused).  From the npm registry: node-llama-cpp's
# prebuilt linux-x64 libraries (libllama, libggml and a CPU backend per
# microarchitecture) and, from the main package, the git bundle of the
# llama.cpp release they were built from (for llama.h and the ggml
# headers).  Then bench/peer_llama.c is compiled against them:
#   DIR/bins/      the shared libraries (ggml picks the backend at load)
#   DIR/src/       the llama.cpp source of that release
#   DIR/peer_llama the driver
# Needs npm, git and a C compiler; nothing of it is used by make test.
set -e
dir=${1:?usage: llama_cpp.sh DIR}
version=3.22.1
top=$(pwd)
mkdir -p "$dir"
cd "$dir"
if [ ! -f "bins/.ok-$version" ]; then
	command -v npm >/dev/null || { echo "llama_cpp.sh: npm is needed to fetch node-llama-cpp" >&2; exit 1; }
	rm -rf bins src pkg && mkdir -p pkg
	(cd pkg && npm pack --silent "@node-llama-cpp/linux-x64@$version" "node-llama-cpp@$version" >/dev/null)
	tar xzf "pkg/node-llama-cpp-linux-x64-$version.tgz" -C pkg
	tar xzf "pkg/node-llama-cpp-$version.tgz" -C pkg package/llama/gitRelease.bundle
	mv pkg/package/bins/linux-x64 bins
	git -c advice.detachedHead=false clone -q pkg/package/llama/gitRelease.bundle src
	rm -rf pkg
	touch "bins/.ok-$version"
	echo "llama_cpp.sh: node-llama-cpp $version's llama.cpp ($(grep -o '"release":"[^"]*"' bins/_nlcBuildMetadata.json)) in $dir"
fi
lib=$(ls bins/libllama.v*.so | head -n 1)
ggml=$(ls bins/libggml.v*.so | head -n 1)
${CC:-cc} -O2 -o peer_llama "$top/bench/peer_llama.c" -Isrc/include -Isrc/ggml/include \
	"$lib" "$ggml" bins/libggml-base.so -Wl,-rpath,"$(pwd)/bins"
