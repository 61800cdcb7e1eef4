const http = require("http");
const escapeHtml = require("escape-html");
const { banner } = require("./banner");

const port = Number(process.env.PORT || 3000);

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ ok: true, tool: "pnpm", escaped: escapeHtml("<b>") }));
      return;
    }
    res.end(banner());
  })
  .listen(port, () => console.log(`listening on ${port}`));
