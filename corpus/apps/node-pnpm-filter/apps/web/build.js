// Writes dist/ from src/ (a stand-in for a compiler): the image runs dist/server.js.
const fs = require("fs");

fs.rmSync("dist", { recursive: true, force: true });
fs.cpSync("src", "dist", { recursive: true });
