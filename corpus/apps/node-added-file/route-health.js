const escapeHtml = require("escape-html");

module.exports = {
  path: "/health",
  handler: () => JSON.stringify({ ok: true, routes: "loaded", sample: escapeHtml("<ok>") }),
};
