const http = require("http");
const escapeHtml = require("escape-html");
const { uptime } = require("./lib/uptime");

const port = Number(process.env.PORT || 3000);

http
  .createServer((req, res) => {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ ok: true, managedBy: process.env.pm_id !== undefined ? "pm2" : "none", uptime: uptime(), e: escapeHtml("&") }));
  })
  .listen(port, () => console.log(`listening on ${port}`));
