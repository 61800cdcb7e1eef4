import Fastify from 'fastify';

const app = Fastify({ logger: true });
app.get('/ping', async () => ({ pong: true }));
app.listen({ port: 4000, host: '0.0.0.0' });
