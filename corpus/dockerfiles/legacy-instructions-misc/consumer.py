import pika

print('consumer')
