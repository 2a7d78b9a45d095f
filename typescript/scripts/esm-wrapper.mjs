// The ESM entry points: thin wrappers re-exporting the CommonJS build by name, so `import`
// and `require` share one module instance (one loaded library, one table of pending calls)
// instead of the dual-package hazard of two copies.
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
mkdirSync(join(root, "dist", "esm"), { recursive: true });
writeFileSync(join(root, "dist", "cjs", "package.json"), '{ "type": "commonjs" }\n');
for (const entry of ["index", "testing"]) {
  const names = Object.keys(require(join(root, "dist", "cjs", `${entry}.js`))).filter((n) => n !== "__esModule" && n !== "default");
  const js = [
    `import cjs from "../cjs/${entry}.js";`,
    `export const { ${names.join(", ")} } = cjs;`,
    "",
  ].join("\n");
  writeFileSync(join(root, "dist", "esm", `${entry}.js`), js);
  writeFileSync(join(root, "dist", "esm", `${entry}.d.ts`), `export * from "../cjs/${entry}.js";\n`);
}
