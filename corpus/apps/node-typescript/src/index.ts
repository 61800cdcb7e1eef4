import * as http from "http";
import { route } from "./routes";

const port = Number(process.env.PORT ?? 3000);

const server = http.createServer((req, res) => {
  const { status, body } = route(req.method ?? "GET", req.url ?? "/");
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
});

server.listen(port, () => {
  console.log(`typescript service listening on ${port}`);
});
