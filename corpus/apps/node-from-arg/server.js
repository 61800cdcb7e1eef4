const http = require("http");
const escapeHtml = require("escape-html");
const { greet } = require("./lib/greet");

const port = Number(process.env.PORT || 8109);

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ ok: true, app: "from-arg", greeting: greet(), escaped: escapeHtml("<b>") }));
      return;
    }
    res.end(greet() + "\n");
  })
  .listen(port, () => console.log(`listening on ${port}`));
