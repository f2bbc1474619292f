#!/usr/bin/env bash
# Builds the Node addon against a meson build directory's library, as
# `npm install` does in bindings/node, but in a copy of the package under
# the build directory: the source tree stays clean and two build
# directories never share an addon.
#   build-addon.sh SOURCE_ROOT BUILD_ROOT STAGE_DIR OUTPUT
# STAGE_DIR/kbpipeline is then an installed-like package (NODE_PATH=STAGE_DIR).
set -euo pipefail
src=$1 build=$2 stage=$3
out=$(realpath -m "$4")
pkg=$stage/kbpipeline

mkdir -p "$pkg"
cp "$src/bindings/node/package.json" "$src/bindings/node/package-lock.json" \
	"$src/bindings/node/binding.gyp" "$pkg/"
rm -rf "$pkg/lib"
cp -r "$src/bindings/node/lib" "$pkg/lib"

# pkg-config finds the build directory's library; gyp finds the interface file.
export PKG_CONFIG_PATH="$build/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export GYP_DEFINES="kbp_root=$src"
cd "$pkg"
# node-gyp comes from npm's registry, pinned by package-lock.json; fetched again only when it changes.
if ! cmp -s package-lock.json node_modules/.kbp-package-lock.json; then
	npm ci --ignore-scripts --no-audit --no-fund
	cp package-lock.json node_modules/.kbp-package-lock.json
fi
./node_modules/.bin/node-gyp rebuild --nodedir=/usr --loglevel=warn
cp build/Release/kbpipeline.node "$out"
