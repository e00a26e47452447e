// Build the page into src/parley/web/static/, where the Python package serves it from: the
// hub then needs no node at run time and no internet (Leaflet and everything else is bundled).
//
//   npm ci && npm run build
//
// `node build.mjs --outdir DIR` builds into DIR instead: tests/test_web_js.py builds there and
// compares with the committed bundle, which must be what these sources make.

import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: { outdir: { type: "string" } } });
const out = args.outdir ? resolve(args.outdir) : join(here, "..", "src", "parley", "web", "static");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  target: ["chrome120", "firefox121", "safari17"],
  legalComments: "eof", // keep Leaflet's and mgrs's licence notices in the bundle
  logLevel: "info",
};

await esbuild.build({
  ...common,
  entryPoints: { app: join(here, "src", "main.js") },
  format: "esm",
  outdir: out,
});

await esbuild.build({
  ...common,
  entryPoints: { app: join(here, "src", "style.css") },
  outdir: out,
  // Leaflet's stylesheet names a few images (layer control, marker shadow); ship them too.
  loader: { ".png": "file", ".svg": "file" },
  assetNames: "images/[name]-[hash]",
});

await copyFile(join(here, "src", "index.html"), join(out, "index.html"));
console.log(`built into ${out}: ${(await readdir(out)).join(", ")}`);
