"""The device side: the firmware reference, not the server.

client (a device that signs its readings and publishes them, resending until acked), fleet (many
simulated devices), example (the worked example of docs/devices.md), mqtt_link (the wire both
sides speak: topics, broker URLs, the paho client, the ack format; the gateway imports it).
"""
