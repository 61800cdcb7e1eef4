const http = require("http");
const escapeHtml = require("escape-html");
const { label } = require("@mono/util");

const port = Number(process.env.PORT || 8111);

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ ok: true, app: label("pnpm-workspaces"), escaped: escapeHtml("<b>") }));
      return;
    }
    res.end(label("hello") + "\n");
  })
  .listen(port, () => console.log(`listening on ${port}`));
