// Reference peer for the Confab benchmark: the seed chat's Socket.IO vocabulary
// (shared/seed-protocol.md), in memory, exactly as the seed's Flask app did it,
// on Node's socket.io 4.8 with its default settings.
// Usage: node server.js [PORT]   (or PORT=... node server.js); binds 127.0.0.1.
'use strict';
const http = require('http');
const crypto = require('crypto');
const { Server } = require('socket.io');

const port = parseInt(process.argv[2] || process.env.PORT || '5001', 10);
const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const io = new Server(httpServer, { cors: { origin: '*' } });

// room name -> { messages: Map(message_id -> {user, message}), users: [] }
const chatRooms = new Map();

io.on('connection', (socket) => {
  socket.on('check_room', (roomName) => {
    if (chatRooms.has(roomName)) {
      socket.emit('room_exists');
    } else {
      chatRooms.set(roomName, { messages: new Map(), users: [] });
      socket.emit('room_created');
    }
  });

  socket.on('create_room', (roomName) => {
    if (!chatRooms.has(roomName)) {
      chatRooms.set(roomName, { messages: new Map(), users: [] });
      io.emit('update_rooms', Array.from(chatRooms.keys()));
    }
  });

  socket.on('join_room', (data) => {
    const room = data && data.room;
    const user = data && data.user;
    if (!room || !user) {
      console.log('Missing room or user in data:', data);
      return;
    }
    const r = chatRooms.get(room);
    if (!r) {
      console.log('Room does not exist:', room);
      return;
    }
    socket.join(room);
    r.users.push(user);
    io.to(room).emit('room_message', { user: 'System', message: `${user} has joined the room.`, message_id: crypto.randomUUID() });
    io.to(room).emit('update_users', r.users);
  });

  socket.on('leave_room', (data) => {
    const room = data && data.room;
    const user = data && data.user;
    if (!room || !user) {
      console.log('Missing room or user in data:', data);
      return;
    }
    const r = chatRooms.get(room);
    if (!r) return;
    socket.leave(room);
    const i = r.users.indexOf(user);
    if (i >= 0) r.users.splice(i, 1);
    io.to(room).emit('room_message', { user: 'System', message: `${user} has left the room.`, message_id: crypto.randomUUID() });
    io.to(room).emit('update_users', r.users);
  });

  socket.on('send_message', (data) => {
    const room = data && data.room;
    const user = data && data.user;
    const message = data && data.message;
    const messageId = data && data.message_id;
    if (!room || !user || !message || !messageId) {
      console.log('Missing room, user, message, or message_id in data:', data);
      return;
    }
    const r = chatRooms.get(room);
    if (!r) {
      console.log('Room does not exist:', room);
      return;
    }
    r.messages.set(messageId, { user, message });
    io.to(room).emit('room_message', { user, message, message_id: messageId });
  });

  socket.on('edit_message', (data) => {
    const room = data && data.room;
    const messageId = data && data.message_id;
    const newMessage = data && data.new_message;
    if (!room || !messageId || !newMessage) return;
    const r = chatRooms.get(room);
    if (!r) return;
    const m = r.messages.get(messageId);
    if (!m) return;
    m.message = newMessage;
    io.to(room).emit('message_edited', { message_id: messageId, new_message: newMessage });
  });

  socket.on('delete_message', (data) => {
    const room = data && data.room;
    const messageId = data && data.message_id;
    if (!room || !messageId) return;
    const r = chatRooms.get(room);
    if (!r) return;
    if (!r.messages.has(messageId)) return;
    r.messages.delete(messageId);
    io.to(room).emit('message_deleted', { message_id: messageId });
  });
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${port}`);
});
