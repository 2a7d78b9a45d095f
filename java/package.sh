#!/usr/bin/env bash
# Builds the jar with the native libraries inside, under JNA's resource paths, and checks it.
#
#   bash java/package.sh NATIVES_DIR [OUT_DIR] [--install]
#
# NATIVES_DIR holds linux-x86-64/libinferencekey.so and/or linux-aarch64/libinferencekey.so.
# The jar goes to OUT_DIR (default java/target); --install also puts it into the local Maven
# repository, as `mvn install` does, so that a project depending on it resolves it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
natives="$(cd "$1" && pwd)"
out="${2:-$HERE/target}"
goal=package
[ "${3:-}" = "--install" ] && goal=install

ls "$natives"/linux-*/libinferencekey.so >/dev/null 2>&1 || { echo "no natives in $natives" >&2; exit 1; }
mvn -B -q -Dstyle.color=never -f "$HERE/pom.xml" -DskipTests -Dinferencekey.native.dir="$natives" "$goal"
version="$(sed -n "s:^  <version>\(.*\)</version>:\1:p" "$HERE/pom.xml")"
jar="$HERE/target/inferencekey-sdk-$version.jar"
listing="$(jar tf "$jar")"
for lib in "$natives"/linux-*/libinferencekey.so; do
    entry="${lib#"$natives"/}"
    grep -qx "$entry" <<<"$listing" || { echo "$jar lacks $entry" >&2; exit 1; }
done
grep -qx "module-info.class" <<<"$listing" || { echo "$jar lacks module-info.class" >&2; exit 1; }
mkdir -p "$out"
[ "$(dirname "$jar")" = "$out" ] || cp "$jar" "$out/"
echo "$out/$(basename "$jar")"
