#!/usr/bin/env bash
# Checks each vendored browser library against its npm package: the tarball npm gives for the pinned
# version must have the integrity recorded in VENDOR.json, and the vendored file must be byte for byte
# the file of that tarball. Needs npm and the registry (make vendor-check); the tests check the
# recorded sha256 offline (tests/test_vendored.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for manifest in "$here"/*/VENDOR.json; do
  dir="$(dirname "$manifest")"
  read -r package version file integrity < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m["package"], m["version"], m["file"], m["npm_integrity"])' "$manifest")
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$package@$version" --json --silent > pack.json)
  got="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["integrity"])' "$tmp/pack.json")"
  if [ "$got" != "$integrity" ]; then
    echo "$package@$version: npm's integrity is $got, VENDOR.json says $integrity" >&2; exit 1
  fi
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  cmp "$tmp/package/$file" "$dir/$(basename "$file")"
  echo "$package@$version: $(basename "$file") is the npm package's file ($integrity)"
  rm -rf "$tmp"; trap - EXIT
done
