// Copies the front-end libraries installed by `npm ci` into the portal's static folder.
// The destination (caoskol_portal/static/vendor/) is gitignored: the libraries come from the
// npm registry at build time, pinned by package-lock.json, and are never committed.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const dest = path.join(root, "caoskol_portal", "static", "vendor");
const files = [
  ["node_modules/chart.js/dist/chart.umd.min.js", "chart.umd.min.js"],
  ["node_modules/chart.js/LICENSE.md", "chart.js.LICENSE.md"],
];

fs.mkdirSync(dest, { recursive: true });
for (const [from, to] of files) {
  const src = path.join(root, from);
  if (!fs.existsSync(src)) {
    console.error(`missing ${from}: run "npm ci" in web/ first`);
    process.exit(1);
  }
  fs.copyFileSync(src, path.join(dest, to));
  console.log(`copied ${from} -> caoskol_portal/static/vendor/${to}`);
}
const version = require(path.join(root, "node_modules/chart.js/package.json")).version;
fs.writeFileSync(path.join(dest, "VERSIONS.json"), JSON.stringify({ "chart.js": version }, null, 2) + "\n");
