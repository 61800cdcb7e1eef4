const fs = require("fs");
const http = require("http");
const escapeHtml = require("escape-html");
const { label } = require("@mono/util");

const port = Number(process.env.PORT || 8112);
// read from the folder pnpm runs the start script in (apps/web): the image must start the app there
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ ok: true, app: label("pnpm-filter"), pkg: pkg.name, escaped: escapeHtml("<b>") }));
      return;
    }
    res.end(label("hello") + "\n");
  })
  .listen(port, () => console.log(`listening on ${port}`));
