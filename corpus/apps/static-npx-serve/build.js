// Copies src/ to build/, stamping the page with the script's greeting (a stand-in for a bundler).
const fs = require("fs");
const path = require("path");
const { greeting } = require("./src/assets/app.js");

fs.rmSync("build", { recursive: true, force: true });
fs.cpSync("src", "build", { recursive: true });
const page = path.join("build", "index.html");
fs.writeFileSync(page, fs.readFileSync(page, "utf8").replace("{{greeting}}", greeting));
