import Koa from 'koa';
import { cents } from '@billing/money';

new Koa().use(ctx => { ctx.body = cents(12.5); }).listen(8080);
