const http = require("http");
const escapeHtml = require("escape-html");
const { message } = require("./message");

const port = process.env.PORT || 3000;

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ status: "up", port: Number(port) }));
      return;
    }
    res.end(escapeHtml(message()));
  })
  .listen(port, () => console.log(`listening on ${port}`));
