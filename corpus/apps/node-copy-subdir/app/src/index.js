const http = require("http");
const escapeHtml = require("escape-html");
const { greet } = require("./greet");

const port = Number(process.env.PORT || 8108);

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ ok: true, app: "copy-subdir", escaped: escapeHtml("<b>") }));
      return;
    }
    res.end(greet() + "\n");
  })
  .listen(port, () => console.log(`listening on ${port}`));
