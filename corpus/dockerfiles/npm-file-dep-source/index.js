const Koa = require('koa');
const log = require('@acme/logger');

new Koa().use((ctx) => { log(ctx.path); ctx.body = 'ok'; }).listen(3000);
