const fs = require("fs");
const http = require("http");
const escapeHtml = require("escape-html");
const { greet } = require("@acme/shared");

const port = Number(process.env.PORT || 8113);
// read from the folder yarn runs the start script in (packages/api): the image must start the app there
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ ok: true, app: "yarn-workspaces", pkg: pkg.name, greeting: greet(), escaped: escapeHtml("<b>") }));
      return;
    }
    res.end(greet() + "\n");
  })
  .listen(port, () => console.log(`listening on ${port}`));
