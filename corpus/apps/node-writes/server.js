const fs = require("fs");
const http = require("http");
const path = require("path");
const { summarize } = require("./lib/summary");

const port = Number(process.env.PORT || 3000);
const dataDir = path.join(process.cwd(), "data");
const visits = path.join(dataDir, "visits.txt");

// state lives next to the code: the process must be able to write here
fs.mkdirSync(dataDir, { recursive: true });
fs.appendFileSync(visits, `start ${new Date().toISOString()}\n`);

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      fs.appendFileSync(visits, `visit ${new Date().toISOString()}\n`);
      const lines = fs.readFileSync(visits, "utf8").trim().split("\n");
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(`writable ok ${summarize(lines)}\n`);
      return;
    }
    res.writeHead(404);
    res.end("not found\n");
  })
  .listen(port, () => console.log(`counter on ${port}, state in ${visits}`));
