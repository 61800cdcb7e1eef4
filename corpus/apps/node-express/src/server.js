const express = require("express");
const { greet } = require("./greet");

const app = express();
const port = Number(process.env.PORT || 3000);

app.get("/", (req, res) => {
  res.send(greet(req.query.name));
});

app.get("/health", (req, res) => {
  res.json({ status: "ok", service: "node-express", uptime: process.uptime() });
});

app.listen(port, () => {
  console.log(`listening on ${port}`);
});
