const http = require("http");
const escapeHtml = require("escape-html");
const ms = require("ms"); // added to package.json, not to package-lock.json
const { label } = require("./label");

const port = Number(process.env.PORT || 3000);

http
  .createServer((req, res) => {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ ok: true, timeout: ms("2 days"), label: escapeHtml(label()) }));
  })
  .listen(port, () => console.log(`listening on ${port}`));
