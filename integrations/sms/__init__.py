"""SMS: inbound webhooks (twilio.py, aliyun.py, tencent.py; routes.py), the shared
channel with opt-outs (channel.py), the outbound gateway (gateway.py) and segments."""
