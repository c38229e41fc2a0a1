#!/bin/sh
# openblas.sh: a local OpenBLAS for the PyTorch side of `make bench`'s
# training figures, without touching the system's BLAS.
#
# Debian's python3-torch links libblas.so.3 and liblapack.so.3 (see
# `ldd .../torch/lib/libtorch_cpu.so`), which Debian's alternatives point at
# the reference BLAS unless an optimised one is installed.  This script
# unpacks Debian's libopenblas0-pthread (`apt-get download`, `dpkg -x`) into
# a cache folder; its openblas-pthread/ folder holds a libblas.so.3 and a
# liblapack.so.3 of OpenBLAS, so that
#
#     LD_LIBRARY_PATH=$(sh tools/openblas.sh) /usr/bin/python3 ...
#
# loads OpenBLAS in that process alone.  It prints that folder on stdout
# (messages go to stderr) and does nothing more when it is there already.
# When it cannot (no apt-get or dpkg, no network) it says why and exits 1;
# the bench then measures PyTorch with the system's BLAS and says so.
#
# The folder: $TFMC_OPENBLAS_DIR, else $XDG_CACHE_HOME/tfmc/openblas (or
# ~/.cache/tfmc/openblas), so that `make clean` does not fetch it again.
# Only `make bench` runs this: never the tests.
PKG=libopenblas0-pthread
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}
dir=${TFMC_OPENBLAS_DIR:-$cache/tfmc/openblas}

# The folder of libblas.so.3 inside the unpacked package, if any.
found() {
	for f in "$dir"/root/usr/lib/*/openblas-pthread/libblas.so.3; do
		[ -f "$f" ] && [ -f "${f%/*}/liblapack.so.3" ] && { echo "${f%/*}"; return 0; }
	done
	return 1
}

if lib=$(found); then
	echo "$lib"
	exit 0
fi
for tool in apt-get dpkg; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "openblas.sh: no $tool here: cannot unpack Debian's $PKG (PyTorch keeps the system's BLAS)" >&2
		exit 1
	fi
done
if ! mkdir -p "$dir"; then
	echo "openblas.sh: cannot make $dir" >&2
	exit 1
fi
tmp=$(mktemp -d "$dir/dl.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# apt-get download needs the package lists: as root, fetch them once if the
# first try fails (as tools/deps.sh does before it installs).
if ! (cd "$tmp" && apt-get download -q $PKG >"$tmp/log" 2>&1); then
	if [ "$(id -u)" = 0 ] && apt-get update -qq >>"$tmp/log" 2>&1 \
	   && (cd "$tmp" && apt-get download -q $PKG >>"$tmp/log" 2>&1); then
		:
	else
		echo "openblas.sh: apt-get download $PKG failed (no network or no package lists?):" >&2
		grep -E '^(E|Err):' "$tmp/log" | head -3 >&2
		exit 1
	fi
fi
set -- "$tmp"/${PKG}_*.deb
if [ ! -f "$1" ] || ! dpkg -x "$1" "$tmp/root"; then
	echo "openblas.sh: cannot unpack the $PKG package" >&2
	exit 1
fi
rm -rf "$dir/root"
mv "$tmp/root" "$dir/root" && basename "$1" >"$dir/package"
if ! lib=$(found); then
	echo "openblas.sh: $PKG has no openblas-pthread/libblas.so.3 and liblapack.so.3" >&2
	exit 1
fi
echo "openblas.sh: unpacked $(cat "$dir/package") into $dir" >&2
echo "$lib"
