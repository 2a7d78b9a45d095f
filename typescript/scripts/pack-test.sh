#!/usr/bin/env bash
# The tarballs of `npm pack`, installed into an empty project as a user would, run the
# quickstart against the real local platform (started through the package's own testing
# entry point), with no INFERENCEKEY_LIB: the library must come from the platform package.
#   bash scripts/pack-test.sh LIBRARY
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
key="$(cd "$HERE" && node -p "require('./dist/cjs/native.js').platformKey()")"
bash "$HERE/scripts/pack.sh" "$WORK/dist" "$key=$1" >/dev/null
mkdir "$WORK/app"
cd "$WORK/app"
npm init -y >/dev/null
# koffi comes from the npm cache that `npm ci` filled; the two packages from their tarballs.
npm install --prefer-offline --no-audit --no-fund "$WORK"/dist/inferencekey-sdk-[0-9]*.tgz \
    "$WORK"/dist/inferencekey-sdk-linux-*.tgz >/dev/null
cp "$HERE/examples/quickstart.mjs" .
cat >run.mjs <<'JS'
import { execFileSync } from "node:child_process";
import { DevServer } from "@inferencekey/sdk/testing";
const dev = new DevServer();
try {
  const creds = dev.createProject("acme");
  const env = { ...process.env, INFERENCEKEY_BASE_URL: dev.baseUrl, INFERENCEKEY_SDK_TOKEN: creds.sdkToken, INFERENCEKEY_API_KEY: creds.apiKey };
  const out = execFileSync(process.execPath, ["quickstart.mjs"], { env, encoding: "utf8", timeout: 180_000 });
  if (!/SmolLM2|Llama/i.test(out) || out.trim().length < 10) throw new Error(`unexpected quickstart output: ${out}`);
  console.log(`quickstart from the packed tarballs: ${out.trim().slice(0, 120).replace(/\s+/g, " ")}`);
} finally {
  dev.stop();
}
JS
# CommonJS users get the same package.
node -e "const { ManagementClient, ABI_VERSION, libraryPath } = require('@inferencekey/sdk'); if (ABI_VERSION !== 3 || typeof ManagementClient !== 'function') process.exit(1); console.log('require() loads it; library at ' + libraryPath())"
env -u INFERENCEKEY_LIB node run.mjs
