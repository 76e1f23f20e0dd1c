"""Reference peer for the Confab benchmark: the seed chat's Flask-SocketIO app.

The Socket.IO handlers are the seed's own (shared/seed-protocol.md), in memory; only the
pages are left out (the benchmark never asks for them) and the server is started with
gevent + gevent-websocket instead of the development server.
Usage: python server.py [PORT]   (or PORT=...); binds 127.0.0.1.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

from flask import Flask  # noqa: E402
from flask_cors import CORS  # noqa: E402
from flask_socketio import SocketIO, emit  # noqa: E402
from flask_socketio import join_room as socketio_join_room  # noqa: E402
from flask_socketio import leave_room as socketio_leave_room  # noqa: E402

app = Flask(__name__)
app.config['SECRET_KEY'] = 'bench-peer'

CORS(app)

socketio = SocketIO(app, async_mode='gevent')

# Data for the app
chat_rooms = {}


@socketio.on('check_room')
def check_room(room_name):
    if room_name in chat_rooms:
        emit('room_exists')
    else:
        chat_rooms[room_name] = {'messages': {}, 'users': []}
        emit('room_created')


@socketio.on('create_room')
def handle_create_room(room_name):
    if room_name not in chat_rooms:
        chat_rooms[room_name] = {'messages': {}, 'users': []}
        emit('update_rooms', list(chat_rooms.keys()), broadcast=True)


@socketio.on('join_room')
def handle_join_room(data):
    room = data.get('room')
    user = data.get('user')
    if not room or not user:
        print("Missing room or user in data:", data)
        return
    if room in chat_rooms:
        socketio_join_room(room)
        chat_rooms[room]['users'].append(user)
        print(f"User {user} joining room {room}")  # the seed's debugging line
        emit('room_message', {'user': 'System', 'message': f'{user} has joined the room.',
                              'message_id': str(uuid.uuid4())}, room=room)
        emit('update_users', chat_rooms[room]['users'], room=room)
    else:
        print("Room does not exist:", room)


@socketio.on('leave_room')
def handle_leave_room(data):
    room = data.get('room')
    user = data.get('user')
    if not room or not user:
        print("Missing room or user in data:", data)
        return
    if room in chat_rooms:
        socketio_leave_room(room)
        chat_rooms[room]['users'].remove(user)
        emit('room_message', {'user': 'System', 'message': f'{user} has left the room.',
                              'message_id': str(uuid.uuid4())}, room=room)
        emit('update_users', chat_rooms[room]['users'], room=room)


@socketio.on('send_message')
def handle_send_message(data):
    room = data.get('room')
    user = data.get('user')
    message = data.get('message')
    message_id = data.get('message_id')
    if not room or not user or not message or not message_id:
        print("Missing room, user, message, or message_id in data:", data)
        return
    if room in chat_rooms:
        chat_rooms[room]['messages'][message_id] = {'user': user, 'message': message}
        emit('room_message', {'user': user, 'message': message, 'message_id': message_id}, room=room)
    else:
        print("Room does not exist:", room)


@socketio.on('edit_message')
def handle_edit_message(data):
    room = data.get('room')
    message_id = data.get('message_id')
    new_message = data.get('new_message')
    if not room or not message_id or not new_message:
        print("Missing room, message_id, or new_message in data:", data)
        return
    if room in chat_rooms:
        if message_id in chat_rooms[room]['messages']:
            chat_rooms[room]['messages'][message_id]['message'] = new_message
            emit('message_edited', {'message_id': message_id, 'new_message': new_message}, room=room)
        else:
            print("Message ID not found:", message_id)


@socketio.on('delete_message')
def handle_delete_message(data):
    room = data.get('room')
    message_id = data.get('message_id')
    if not room or not message_id:
        print("Missing room or message_id in data:", data)
        return
    if room in chat_rooms:
        if message_id in chat_rooms[room]['messages']:
            del chat_rooms[room]['messages'][message_id]
            emit('message_deleted', {'message_id': message_id}, room=room)
        else:
            print("Message ID not found:", message_id)


if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PORT', '5001'))
    print(f"listening on 127.0.0.1:{port}", flush=True)
    socketio.run(app, host='127.0.0.1', port=port, log_output=False)
