const http = require("http");
const fs = require("fs");
const escapeHtml = require("escape-html");

const port = process.env.PORT || 8114;
// written by a RUN in the Dockerfile, not present in the build context
const config = JSON.parse(fs.readFileSync(__dirname + "/config.json", "utf8"));

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ status: "up", greeting: config.greeting }));
      return;
    }
    res.end(escapeHtml(config.greeting));
  })
  .listen(port, () => console.log(`listening on ${port}`));
