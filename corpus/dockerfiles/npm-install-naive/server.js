const express = require('express');
const pino = require('pino')();
require('dotenv').config();

const app = express();
app.get('/healthz', (_req, res) => res.send('ok'));
app.get('/orders', (_req, res) => res.json([]));
app.listen(process.env.PORT || 3000, () => pino.info('orders-api listening'));
