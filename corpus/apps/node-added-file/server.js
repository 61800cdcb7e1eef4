const fs = require("fs");
const http = require("http");
const path = require("path");

const port = Number(process.env.PORT || 3000);

// every top-level route-*.js file is a route: { path, handler }
const routes = {};
for (const file of fs.readdirSync(__dirname).sort()) {
  if (/^route-.*\.js$/.test(file)) {
    const route = require(path.join(__dirname, file));
    routes[route.path] = route.handler;
  }
}

http
  .createServer((req, res) => {
    const handler = routes[req.url];
    if (!handler) {
      res.statusCode = 404;
      res.end(`no route ${req.url}; routes: ${Object.keys(routes).join(" ")}\n`);
      return;
    }
    res.end(handler());
  })
  .listen(port, () => console.log(`listening on ${port} with routes ${Object.keys(routes).join(" ")}`));
