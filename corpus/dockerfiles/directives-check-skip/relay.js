const { Server } = require('socket.io');

new Server(3001).on('connection', (s) => s.on('msg', (m) => s.broadcast.emit('msg', m)));
