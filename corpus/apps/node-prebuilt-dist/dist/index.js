// The app's source; `npm run build` copies it to dist/ on the developer's machine before `docker build`.
const http = require("http");
const port = Number(process.env.PORT || 8116);
http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ status: "healthy", built: "on the host" }));
      return;
    }
    res.writeHead(404);
    res.end();
  })
  .listen(port, () => console.log(`listening on ${port}`));
