import express from 'express';
import helmet from 'helmet';

express().use(helmet()).get('/healthz', (_q, r) => r.send('ok')).listen(8080);
