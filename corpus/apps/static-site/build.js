// bundle src/ into dist/app.js and stamp dist/index.html
const fs = require("fs");
const esbuild = require("esbuild");

fs.rmSync("dist", { recursive: true, force: true });
fs.mkdirSync("dist");
esbuild.buildSync({ entryPoints: ["src/main.js"], bundle: true, minify: true, outfile: "dist/app.js" });
const html = fs.readFileSync("public/index.html", "utf8").replace("%BUILD%", `static-site: built ${new Date().toISOString().slice(0, 10)}`);
fs.writeFileSync("dist/index.html", html);
console.log("built dist/");
